-- Charged cancellations, one row each. A roster entry holds a person's current place on
-- an offering and is reused if they register again; the charge of an earlier, cancelled
-- seat must survive that, so the cost basis reads charges from here.
CREATE TABLE IF NOT EXISTS roster_charges
(
    offering_id  text   NOT NULL,
    staff_id     text   NOT NULL,
    -- Position of the cancellation: a person can be charged twice on one offering.
    position     bigint NOT NULL,
    municipality text   NOT NULL,
    cancelled_at text,
    PRIMARY KEY (offering_id, staff_id, position)
);

-- The enrolment projection gains the table: empty it and forget its checkpoint, so it is
-- rebuilt from the log on start.
DELETE FROM roster_attendance;
DELETE FROM roster_sessions;
DELETE FROM roster_entries;
DELETE FROM roster_offerings;
DELETE FROM enrolment_packages;
DELETE FROM enrolment_municipalities;
DELETE FROM enrolment_staff;
DELETE FROM projection_checkpoints WHERE name = 'enrolment';
