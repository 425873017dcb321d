-- The event log. Column layout is sqlite-es's own `events` table, so sqlite-es reads it
-- unchanged. The implicit rowid is the global position: SQLite has one writer at a
-- time, so rowid order is commit order.
CREATE TABLE IF NOT EXISTS events
(
    aggregate_type text                          NOT NULL,
    aggregate_id   text                          NOT NULL,
    sequence       integer CHECK (sequence >= 0) NOT NULL,
    event_type     text                          NOT NULL,
    event_version  text                          NOT NULL,
    payload        text                          NOT NULL,
    metadata       text                          NOT NULL,
    -- Optimistic concurrency: two writers of the same aggregate version collide here.
    PRIMARY KEY (aggregate_type, aggregate_id, sequence)
) STRICT;

-- sqlite-es's snapshot table; unused by Kurslogg's own write path.
CREATE TABLE IF NOT EXISTS snapshots
(
    aggregate_type   text                                  NOT NULL,
    aggregate_id     text                                  NOT NULL,
    last_sequence    integer CHECK (last_sequence >= 0)    NOT NULL,
    current_snapshot integer CHECK (current_snapshot >= 0) NOT NULL,
    payload          text                                  NOT NULL,
    PRIMARY KEY (aggregate_type, aggregate_id, last_sequence)
) STRICT;

-- The first answer to a request sent with an Idempotency-Key, per actor.
CREATE TABLE IF NOT EXISTS idempotency_keys
(
    actor_id     text    NOT NULL,
    key          text    NOT NULL,
    request_hash text    NOT NULL,
    status       integer NOT NULL,
    body         text    NOT NULL,
    created_at   text    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (actor_id, key)
) STRICT;
