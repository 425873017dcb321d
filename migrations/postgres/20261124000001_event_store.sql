-- The event log. Column layout is postgres-es's own `events` table, so postgres-es
-- reads it unchanged; Kurslogg adds a global `position` in insertion order for
-- projections (issue 4 deals with commit-order gaps).
CREATE TABLE IF NOT EXISTS events
(
    aggregate_type text                         NOT NULL,
    aggregate_id   text                         NOT NULL,
    sequence       bigint CHECK (sequence >= 0) NOT NULL,
    event_type     text                         NOT NULL,
    event_version  text                         NOT NULL,
    payload        json                         NOT NULL,
    metadata       json                         NOT NULL,
    position       bigint GENERATED ALWAYS AS IDENTITY,
    -- Optimistic concurrency: two writers of the same aggregate version collide here.
    PRIMARY KEY (aggregate_type, aggregate_id, sequence)
);
CREATE UNIQUE INDEX IF NOT EXISTS events_position ON events (position);

-- postgres-es's snapshot table; unused by Kurslogg's own write path (it caches
-- aggregates in memory) but kept so postgres-es works against this schema as shipped.
CREATE TABLE IF NOT EXISTS snapshots
(
    aggregate_type   text                                 NOT NULL,
    aggregate_id     text                                 NOT NULL,
    last_sequence    bigint CHECK (last_sequence >= 0)    NOT NULL,
    current_snapshot bigint CHECK (current_snapshot >= 0) NOT NULL,
    payload          json                                 NOT NULL,
    PRIMARY KEY (aggregate_type, aggregate_id, last_sequence)
);

-- The first answer to a request sent with an Idempotency-Key, per actor. Written in
-- the same statement as the request's events, so a retry never appends twice.
CREATE TABLE IF NOT EXISTS idempotency_keys
(
    actor_id     text        NOT NULL,
    key          text        NOT NULL,
    request_hash text        NOT NULL,
    status       integer     NOT NULL,
    body         text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (actor_id, key)
);
