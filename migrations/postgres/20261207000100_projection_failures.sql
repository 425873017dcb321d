-- Events a projection could not apply (docs/decisions/0010). The runner records each one
-- here, in the transaction that moves the projection's checkpoint past it, and goes on
-- with the events behind it: one bad event is that event's failure, never a stop for the
-- views. /readyz and `kurslogg projections status` show them; a rebuild records again what
-- it meets, in place of what was recorded before. Compared byte by byte, as every
-- column but names and titles (migration 000014).
CREATE TABLE IF NOT EXISTS projection_failures
(
    projection text COLLATE "C" NOT NULL,
    position   bigint            NOT NULL,
    event_type text COLLATE "C" NOT NULL,
    reason     text COLLATE "C" NOT NULL,
    failed_at  text COLLATE "C" NOT NULL,
    PRIMARY KEY (projection, position)
);
