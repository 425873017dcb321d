-- The federations' competence plans (DOMAIN.md, "The competence plan"), as the enrolment
-- projection keeps them: one row per federation and year, holding the plan's current
-- version. Earlier versions stay in the log (and in the audit trail); a view "as of" an
-- earlier moment replays them.
--
-- `bands` is the plan as its last event gave it, a JSON array of
-- {band, courses, local_needs, note}. Nothing here is sorted by language, so every text
-- column compares byte by byte (see 000014).
--
-- No plan event can be in a log older than this migration, so the projection needs no
-- rebuild.
CREATE TABLE IF NOT EXISTS enrolment_competence_plans
(
    plan_id    text COLLATE "C" PRIMARY KEY,
    federation text COLLATE "C" NOT NULL,
    year       bigint           NOT NULL,
    version    bigint           NOT NULL,
    bands      text COLLATE "C" NOT NULL,
    -- When the first version and the current one were recorded (RFC 3339 UTC).
    set_at     text COLLATE "C" NOT NULL,
    revised_at text COLLATE "C" NOT NULL
);
