-- Issue 6: personal data that can be erased (docs/decisions/0007).
--
-- Each staff member's name, work e-mail and attendance notes are sealed in the log with
-- a key of their own, kept here and nowhere else. Erasing the person deletes the key:
-- the sealed values stay in the append-only log and can never be opened again. A key is
-- written before the first event that needs it; one whose staff member never got an
-- event opens nothing and is harmless.
CREATE TABLE IF NOT EXISTS personal_keys
(
    staff_id   text        NOT NULL PRIMARY KEY,
    key        bytea       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Erased staff members whose delivered letters (the .eml files the files transport
-- wrote) the dispatcher has still to delete: written with the key's deletion, in the
-- same transaction, and removed once the dispatcher has deleted the files.
CREATE TABLE IF NOT EXISTS letter_files_to_delete
(
    staff_id text NOT NULL PRIMARY KEY
);

-- When a staff member was removed (left), by the service's clock: retention erases
-- people removed longer ago than `retention_years`.
ALTER TABLE enrolment_staff ADD COLUMN IF NOT EXISTS removed_at text;
