-- Ids, codes and times compare byte by byte (COLLATE "C"), as they do on SQLite (issue 4,
-- faster rebuilds; the same order on both backends).
--
-- A column without a collation of its own takes the database's (en_US.UTF-8, sv_SE.UTF-8,
-- C.UTF-8, ...). PostgreSQL then compares text through the C library's strcoll and sorts
-- it without abbreviated keys, which is several times slower than comparing bytes: a
-- rebuild's index builds and key look-ups spent a third of their time in it. None of
-- these values is language: a UUID, a term code or an RFC 3339 timestamp sorts the same
-- byte by byte, and that is how SQLite sorts them.
--
-- Human-language text keeps the database's collation, so lists sorted by a name or title
-- follow the locale (Å before Ä in Swedish): municipality and federation names, titles,
-- trainers, places, units, display names and token labels.
--
-- Every table is converted, not only the views: two columns compared with each other must
-- have the same collation (PostgreSQL refuses to compare "C" with the default), and ids
-- are compared across tables. A new text column that holds an id, a code or a time must
-- say COLLATE "C"; the test `every_key_column_compares_bytewise` checks that they do.
DO $$
DECLARE
    t record;
BEGIN
    FOR t IN
        SELECT c.table_name,
               string_agg(format('ALTER COLUMN %I TYPE text COLLATE "C"', c.column_name), ', ') AS alterations
        FROM information_schema.columns c
        JOIN information_schema.tables tb ON tb.table_schema = c.table_schema AND tb.table_name = c.table_name
        WHERE c.table_schema = current_schema()
          AND tb.table_type = 'BASE TABLE'
          AND c.data_type = 'text'
          AND c.table_name <> '_sqlx_migrations'
          AND (c.table_name, c.column_name) NOT IN (
              ('enrolment_municipalities', 'name'),
              ('enrolment_municipalities', 'federation'),
              ('enrolment_packages', 'title'),
              ('roster_offerings', 'title'),
              ('roster_offerings', 'trainer'),
              ('roster_offerings', 'place'),
              ('roster_entries', 'unit'),
              ('enrolment_staff', 'unit'),
              ('users', 'display_name'),
              ('api_tokens', 'label'))
        GROUP BY c.table_name
    LOOP
        -- One statement per table: each of its indexes is built again once.
        EXECUTE format('ALTER TABLE %I %s', t.table_name, t.alterations);
    END LOOP;
END
$$;
