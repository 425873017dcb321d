-- Where each projection has got to in the log. Written in the same transaction as the
-- projection's view rows.
CREATE TABLE IF NOT EXISTS projection_checkpoints
(
    name     text   PRIMARY KEY,
    position bigint NOT NULL
);

-- Roster: one row per offering, one per person on it, one per attendance mark.
CREATE TABLE IF NOT EXISTS roster_offerings
(
    offering_id text    PRIMARY KEY,
    package_id  text    NOT NULL,
    course      text    NOT NULL,
    title       text    NOT NULL,
    term        text    NOT NULL,
    seat_limit  bigint  NOT NULL,
    sessions    bigint  NOT NULL,
    state       text    NOT NULL
);

CREATE TABLE IF NOT EXISTS roster_entries
(
    offering_id      text   NOT NULL,
    staff_id         text   NOT NULL,
    municipality     text   NOT NULL,
    status           text   NOT NULL,
    charged          bigint NOT NULL DEFAULT 0,
    late             bigint NOT NULL DEFAULT 0,
    -- Position of the event that put the person on the offering: the priority order.
    priority         bigint NOT NULL,
    -- Place in the waiting list (lower is earlier); NULL when not waiting.
    waiting_rank     bigint,
    completion       text,
    certificate      text,
    transferred_from text,
    transferred_to   text,
    PRIMARY KEY (offering_id, staff_id)
);

CREATE TABLE IF NOT EXISTS roster_attendance
(
    offering_id text   NOT NULL,
    staff_id    text   NOT NULL,
    session     bigint NOT NULL,
    attendance  text   NOT NULL,
    PRIMARY KEY (offering_id, staff_id, session)
);
