//! Rebuilding a projection aside: in a scratch SQLite database of its own, then putting
//! the finished rows in place in one transaction.
//!
//! Why: a rebuild in place writes every intermediate state of every row to the live
//! database, durably, batch after batch (on PostgreSQL one round trip per statement, on
//! SQLite through the one writer connection that every projection and every append
//! shares). Aside, the same projection code runs against a private file that needs no
//! durability (no fsync, journal in memory) on a connection of its own, so projections
//! rebuilt together run side by side on separate cores; the live database then receives
//! only the final rows, once, in key order (`INSERT … SELECT` from the attached file on
//! SQLite, `COPY` on PostgreSQL).
//!
//! What users notice: until the rows are put in place the live views keep answering as
//! they were (and their runner keeps them current), and a rebuild cut off before then
//! leaves them exactly as they were; the scratch file is deleted either way.

mod streamed;

use std::path::{Path, PathBuf};

pub(crate) use streamed::Tail;

use crate::db::{private_error, Db, Param, Private, ViewTx};
use crate::runner::{Projection, ProjectionError};

/// Bytes of `COPY` data sent to PostgreSQL at a time.
const COPY_CHUNK: usize = 1 << 20;

/// Pages of 4 kB a scratch database keeps in memory (256 MiB): a million-event rebuild's
/// working set.
const SCRATCH_CACHE_PAGES: i64 = 65_536;

/// A projection's scratch database, deleted when dropped.
pub(crate) struct Scratch {
    path: PathBuf,
    db: Private,
    /// The projection's [`Projection::appended_table`], copied to PostgreSQL as it grows.
    streamed: Option<streamed::Streamed>,
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // A rebuild cut off at any point leaves nothing behind (the file is unlinked even
        // while a connection still has it open).
        let _ = std::fs::remove_file(&self.path);
    }
}

impl Scratch {
    /// A fresh scratch database for `projection`, with the service's schema (the SQLite
    /// migrations) and without the secondary indexes of the projection's tables, which
    /// none of its statements need (see [`Projection::tables`]).
    ///
    /// It lives beside `live`'s file on SQLite (the same disk the views live on), in the
    /// temporary directory on PostgreSQL.
    pub(crate) async fn create(live: &Db, projection: &dyn Projection) -> Result<Self, ProjectionError> {
        let dir = scratch_dir(live).await?;
        let path = dir.join(format!(".kurslogg-rebuild-{}-{}.db", projection.name(), uuid::Uuid::new_v4().simple()));
        let db = match Private::create(Some(&path), SCRATCH_CACHE_PAGES) {
            Ok(db) => db,
            Err(e) => {
                // Made, if only in part: nothing is left behind.
                let _ = std::fs::remove_file(&path);
                return Err(e.into());
            }
        };
        let mut scratch = Self { path, db, streamed: None };
        let mut tx = scratch.db().begin().await?;
        crate::runner::drop_indexes(&mut tx, projection.name(), projection.tables()).await?;
        projection.prepare_aside(live, &mut tx).await?;
        tx.commit().await?;
        if let Some(table) = projection.appended_table() {
            if !projection.tables().contains(&table) {
                return Err(ProjectionError::Rebuild(format!("{table} is not one of {}'s tables", projection.name())));
            }
            // The copy holds a connection for the whole fill: with only one, the log's
            // reader would wait for it.
            if matches!(live, Db::Postgres(pool) if pool.options().get_max_connections() >= 2) {
                scratch.streamed = streamed::Streamed::start(live, &scratch.db, table).await?;
            }
        }
        Ok(scratch)
    }

    /// What the projection's applier sends the rows of its appended table with, if they
    /// are copied as they grow: taken once.
    pub(crate) fn take_tail(&mut self) -> Option<Tail> {
        self.streamed.as_mut().and_then(streamed::Streamed::take_tail)
    }

    /// The scratch database, for the projection's runner to write to.
    pub(crate) fn db(&self) -> Db {
        Db::Private(self.db.clone())
    }

    /// Puts the scratch rows of `projection` in place of its live ones, in one transaction
    /// that also sets its checkpoint to `reached`. The live tables' secondary indexes are
    /// dropped (and recorded) for the copy, as a rebuild in place does: the caller builds
    /// them again.
    pub(crate) async fn install(
        mut self,
        live: &Db,
        projection: &dyn Projection,
        reached: i64,
    ) -> Result<(), ProjectionError> {
        // For operators sizing the disk the scratch files go on.
        let bytes = std::fs::metadata(&self.path).map(|m| m.len()).unwrap_or(0);
        let (name, scratch) = (projection.name(), self.path.display());
        tracing::info!(projection = name, %scratch, bytes, "putting a rebuilt view in place");
        match live {
            Db::Sqlite { write, .. } => self.install_sqlite(live, write, projection, reached).await,
            Db::Postgres(_) => self.install_postgres(live, projection, reached).await,
            Db::Private(_) => Err(ProjectionError::Rebuild("a private database is not rebuilt aside".into())),
        }
    }

    async fn install_sqlite(
        &self,
        live: &Db,
        write: &sqlx::SqlitePool,
        projection: &dyn Projection,
        reached: i64,
    ) -> Result<(), ProjectionError> {
        // SQLite attaches a database outside a transaction only, to one connection: the one
        // writer, which the transaction below then runs on.
        let alias = format!("rebuilt_{}", projection.name());
        let mut layouts = Vec::new();
        for table in projection.tables() {
            let (columns, key) = columns(&self.db, table)?;
            layouts.push((table, (columns.join(", "), key)));
        }
        sqlx::query(&format!("ATTACH DATABASE $1 AS {alias}"))
            .bind(self.path.to_string_lossy().into_owned())
            .execute(write)
            .await?;
        let copied = async {
            let mut tx = replace_begin(live, projection).await?;
            let attached = "SELECT count(*) FROM pragma_database_list WHERE name = $1";
            if tx.fetch_int(attached, &[Param::from(alias.as_str())]).await? != Some(1) {
                return Err(ProjectionError::Rebuild(format!(
                    "the writer connection was replaced while {} was put in place: run the rebuild again",
                    projection.name()
                )));
            }
            for (table, (columns, key)) in &layouts {
                tx.execute(
                    &format!(
                        "INSERT INTO main.{table} ({columns}) SELECT {columns} FROM {alias}.{table} ORDER BY {key}"
                    ),
                    &[],
                )
                .await?;
            }
            projection.install_aside(&self.db(), &mut tx, reached).await?;
            crate::runner::save_checkpoint(&mut tx, projection.name(), reached).await?;
            tx.commit().await?;
            Ok(())
        }
        .await;
        // Always: the attachment would otherwise hold the deleted file open.
        let detached = sqlx::query(&format!("DETACH DATABASE {alias}")).execute(write).await;
        copied?;
        detached?;
        Ok(())
    }

    /// Each table's rows go to PostgreSQL by `COPY`, read from the scratch file on a
    /// thread of its own while PostgreSQL takes the previous chunk.
    ///
    /// `FREEZE`: the rows are written as visible to every transaction, the pages marked
    /// so. The table was emptied by `TRUNCATE` in this same transaction (a projection's
    /// reset; PostgreSQL refuses `FREEZE` otherwise), so no one can see the difference:
    /// the table stays locked until the commit. What it saves comes after: the index
    /// builds and every later read check each row's visibility without looking up its
    /// transaction, and autovacuum finds nothing to do on the new pages.
    ///
    /// A table copied as it grew ([`streamed`]) is already in a new table, made in the
    /// transaction that copied it, which goes on here: the new table is swapped in for
    /// the live one.
    async fn install_postgres(
        &mut self,
        live: &Db,
        projection: &dyn Projection,
        reached: i64,
    ) -> Result<(), ProjectionError> {
        let (mut tx, mut swap) = match self.streamed.take() {
            Some(streamed) => {
                let (tx, swap) = streamed.copied().await?;
                (tx, Some(swap))
            }
            None => (crate::runner::begin(live).await?, None),
        };
        replace(&mut tx, projection).await?;
        // The keys made again below sort a million rows in memory, not on disk.
        tx.execute("SET LOCAL maintenance_work_mem = '256MB'", &[]).await?;
        for table in projection.tables() {
            if let Some(swap) = swap.take_if(|swap| swap.table == *table) {
                swap.swap_in(&mut tx).await?;
                continue;
            }
            let (columns, key) = columns(&self.db, table)?;
            let keys = unique_keys(&mut tx, table).await?;
            for (drop_key, _) in &keys {
                tx.execute(drop_key, &[]).await?;
            }
            let kinds = column_kinds(&mut tx, table, &columns).await?;
            let columns = columns.join(", ");
            let ViewTx::Postgres(pg) = &mut tx else {
                unreachable!("a PostgreSQL database gives PostgreSQL transactions")
            };
            let mut copy =
                pg.copy_in_raw(&format!("COPY {table} ({columns}) FROM STDIN WITH (FORMAT binary, FREEZE)")).await?;
            let (chunks, mut received) = tokio::sync::mpsc::channel::<Vec<u8>>(2);
            let (db, select) = (self.db.clone(), format!("SELECT {columns} FROM {table} ORDER BY {key}"));
            let reader = tokio::task::spawn_blocking(move || {
                copy_binary(&db, &select, &kinds, |chunk| chunks.blocking_send(chunk).is_ok())
            });
            let mut sent = Ok(());
            while let Some(chunk) = received.recv().await {
                if let Err(e) = copy.send(chunk).await {
                    sent = Err(ProjectionError::from(e));
                    break;
                }
            }
            // The reader stops at its next chunk if PostgreSQL stopped taking them.
            drop(received);
            let read = reader.await.unwrap_or_else(|e| Err(ProjectionError::Rebuild(format!("reading {table}: {e}"))));
            match sent.and(read) {
                Ok(()) => drop(copy.finish().await?),
                Err(e) => {
                    let _ = copy.abort("the scratch database could not be read").await;
                    return Err(e);
                }
            }
            for (_, make_key) in &keys {
                tx.execute(make_key, &[]).await?;
            }
        }
        projection.install_aside(&self.db(), &mut tx, reached).await?;
        crate::runner::save_checkpoint(&mut tx, projection.name(), reached).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// A table's unique keys on PostgreSQL (its primary key, unique constraints and unique
/// indexes), each as the statement that drops it and the one that makes it again, with
/// its index's storage settings and tablespace (which a constraint's definition leaves
/// out).
///
/// Putting rows in place drops them for the `COPY` and makes them again before the
/// commit, so no one ever sees the table without them. Kept, each row of the copy went
/// into each key's index one at a time, with a record in the write-ahead log per row;
/// made again, the index is built once from rows already in key order, its pages logged
/// whole. For the audit trail's million entries, the copy with its key made again took
/// 1.4-1.8 s against 2.5-2.6 s with the key kept (BENCHMARKS.md, fourteenth session).
async fn unique_keys(tx: &mut ViewTx, table: &str) -> Result<Vec<(String, String)>, sqlx::Error> {
    let keys = tx
        .fetch(
            "SELECT format('ALTER TABLE %I DROP CONSTRAINT %I', $1::text, c.conname), \
                    format('ALTER TABLE %I ADD CONSTRAINT %I %s', $1::text, c.conname, pg_get_constraintdef(c.oid)) \
                    || coalesce(' WITH (' || array_to_string(i.reloptions, ', ') || ')', '') \
                    || coalesce(' USING INDEX TABLESPACE ' || quote_ident(t.spcname), '') \
             FROM pg_constraint c JOIN pg_class i ON i.oid = c.conindid \
             LEFT JOIN pg_tablespace t ON t.oid = i.reltablespace \
             WHERE c.conrelid = $1::regclass AND c.contype IN ('p', 'u') \
             UNION ALL \
             SELECT format('DROP INDEX %s', i.indexrelid::regclass), pg_get_indexdef(i.indexrelid) \
             FROM pg_index i WHERE i.indrelid = $1::regclass AND i.indisunique \
             AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)",
            &[Param::from(table)],
        )
        .await?;
    Ok(keys.iter().map(|key| (key.text(0), key.text(1))).collect())
}

/// Starts the transaction that replaces `projection`'s live rows: see [`replace`].
async fn replace_begin(live: &Db, projection: &dyn Projection) -> Result<ViewTx, ProjectionError> {
    let mut tx = crate::runner::begin(live).await?;
    replace(&mut tx, projection).await?;
    Ok(tx)
}

/// The start of replacing `projection`'s live rows in `tx`: holds its checkpoint (on
/// PostgreSQL, a runner of it in another instance waits and then carries on from the new
/// one), empties its tables and drops their secondary indexes, recorded.
async fn replace(tx: &mut ViewTx, projection: &dyn Projection) -> Result<(), ProjectionError> {
    crate::runner::checkpoint_in(tx, projection.name()).await?;
    projection.reset(tx).await?;
    crate::runner::drop_indexes(tx, projection.name(), projection.tables()).await?;
    Ok(())
}

/// A table's columns and its key (what to order the copy by, so the live key index is
/// made from rows in order; the row order where there is no key).
fn columns(db: &Private, table: &str) -> Result<(Vec<String>, String), sqlx::Error> {
    let rows = db.fetch("SELECT name, pk FROM pragma_table_info($1) ORDER BY cid", &[Param::from(table)])?;
    let columns: Vec<String> = rows.iter().map(|r| r.text(0)).collect();
    let mut key: Vec<(i64, String)> = rows.iter().filter(|r| r.int(1) > 0).map(|r| (r.int(1), r.text(0))).collect();
    key.sort();
    let key = if key.is_empty() {
        "rowid".to_string()
    } else {
        key.into_iter().map(|(_, c)| c).collect::<Vec<_>>().join(", ")
    };
    Ok((columns, key))
}

/// How a column's values are written in `COPY`'s binary format: what its live
/// PostgreSQL type is, among those the views use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `bigint`: eight bytes, most significant first.
    Int8,
    /// `integer`: four bytes.
    Int4,
    /// `boolean`: one byte.
    Bool,
    /// `double precision`: the IEEE 754 bits, eight bytes.
    Float8,
    /// `text`, `varchar`: the UTF-8 bytes as they are.
    Text,
}

/// The kinds of `columns` of the live `table`, or which column has a type the copy
/// cannot write yet.
async fn column_kinds(tx: &mut ViewTx, table: &str, columns: &[String]) -> Result<Vec<Kind>, ProjectionError> {
    let types = tx
        .fetch(
            "SELECT a.attname::text, a.atttypid::regtype::text FROM pg_attribute a \
             WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped",
            &[Param::from(table)],
        )
        .await?;
    columns
        .iter()
        .map(|column| {
            let found = types.iter().find(|t| t.text(0) == *column).map(|t| t.text(1));
            match found.as_deref() {
                Some("bigint") => Ok(Kind::Int8),
                Some("integer") => Ok(Kind::Int4),
                Some("boolean") => Ok(Kind::Bool),
                Some("double precision") => Ok(Kind::Float8),
                Some("text" | "character varying") => Ok(Kind::Text),
                other => Err(ProjectionError::Rebuild(format!(
                    "{table}.{column} is {} on PostgreSQL: a rebuild cannot copy it (aside::Kind)",
                    other.unwrap_or("missing")
                ))),
            }
        })
        .collect()
}

/// The rows of `select` in `COPY`'s binary format, their columns written as `kinds`,
/// handed to `send` in chunks of about [`COPY_CHUNK`] bytes; stops when `send` says the
/// chunks are no longer taken.
///
/// Binary rather than text: nothing to escape on this side, nothing to parse and
/// unescape on PostgreSQL's (numbers go as numbers); PostgreSQL took about a tenth less
/// CPU for the audit trail's million rows (BENCHMARKS.md, fourteenth session).
fn copy_binary(
    db: &Private,
    select: &str,
    kinds: &[Kind],
    mut send: impl FnMut(Vec<u8>) -> bool,
) -> Result<(), ProjectionError> {
    let mut data = CopyData::new(kinds.to_vec())?;
    let mut taken = true;
    db.for_each_row(select, &[], |row| {
        if let Some(chunk) = data.row(|i| row.get_ref(i).map_err(private_error))? {
            taken = send(chunk);
        }
        Ok(taken)
    })?;
    if taken {
        send(data.end());
    }
    Ok(())
}

/// Rows in `COPY`'s binary format, their columns written as `kinds`, handed out in chunks
/// of about [`COPY_CHUNK`] bytes: the header, each row's field count and fields, the
/// trailer.
struct CopyData {
    kinds: Vec<Kind>,
    /// The field count every row starts with.
    fields: i16,
    buffer: Vec<u8>,
}

impl CopyData {
    fn new(kinds: Vec<Kind>) -> Result<Self, sqlx::Error> {
        let fields = i16::try_from(kinds.len()).map_err(|_| copy_error(format!("{} columns", kinds.len())))?;
        let mut buffer = Vec::with_capacity(COPY_CHUNK + 4096);
        copy_header(&mut buffer);
        Ok(Self { kinds, fields, buffer })
    }

    /// Values per row.
    fn width(&self) -> usize {
        self.kinds.len()
    }

    /// Adds a row, its `i`th value given by `value(i)`; a full chunk, once there is one.
    fn row<'r>(
        &mut self,
        mut value: impl FnMut(usize) -> Result<rusqlite::types::ValueRef<'r>, sqlx::Error>,
    ) -> Result<Option<Vec<u8>>, sqlx::Error> {
        self.buffer.extend_from_slice(&self.fields.to_be_bytes());
        for (i, kind) in self.kinds.iter().enumerate() {
            copy_value(*kind, value(i)?, &mut self.buffer)?;
        }
        Ok((self.buffer.len() >= COPY_CHUNK)
            .then(|| std::mem::replace(&mut self.buffer, Vec::with_capacity(COPY_CHUNK + 4096))))
    }

    /// The last chunk, with the trailer.
    fn end(mut self) -> Vec<u8> {
        copy_trailer(&mut self.buffer);
        self.buffer
    }
}

/// What binary `COPY` data starts with: the signature, no flags, no header extension.
fn copy_header(out: &mut Vec<u8>) {
    out.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
    out.extend_from_slice(&0_i32.to_be_bytes());
    out.extend_from_slice(&0_i32.to_be_bytes());
}

/// What binary `COPY` data ends with: a tuple of -1 fields.
fn copy_trailer(out: &mut Vec<u8>) {
    out.extend_from_slice(&(-1_i16).to_be_bytes());
}

/// One field of a row in `COPY`'s binary format: its length (-1 for NULL) and its bytes.
/// SQLite keeps what a column was given; a value of another kind than the live column's
/// is converted where that is exact (an integer written into a text column goes as its
/// digits), else refused.
fn copy_value(kind: Kind, value: rusqlite::types::ValueRef<'_>, out: &mut Vec<u8>) -> Result<(), sqlx::Error> {
    use rusqlite::types::ValueRef;
    match (kind, value) {
        (_, ValueRef::Null) => out.extend_from_slice(&(-1_i32).to_be_bytes()),
        (Kind::Int8, ValueRef::Integer(n)) => field(out, &n.to_be_bytes())?,
        (Kind::Int4, ValueRef::Integer(n)) => {
            let n = i32::try_from(n).map_err(|_| copy_error(format!("{n} does not fit an integer column")))?;
            field(out, &n.to_be_bytes())?;
        }
        (Kind::Bool, ValueRef::Integer(n)) => field(out, &[u8::from(n != 0)])?,
        (Kind::Float8, ValueRef::Real(x)) => field(out, &x.to_bits().to_be_bytes())?,
        (Kind::Float8, ValueRef::Integer(n)) => field(out, &(n as f64).to_bits().to_be_bytes())?,
        (Kind::Text, ValueRef::Text(text) | ValueRef::Blob(text)) => field(out, text)?,
        (Kind::Text, ValueRef::Integer(n)) => field(out, n.to_string().as_bytes())?,
        (Kind::Text, ValueRef::Real(x)) => field(out, x.to_string().as_bytes())?,
        (kind, value) => {
            return Err(copy_error(format!("a {:?} value for a {kind:?} column", value.data_type())));
        }
    }
    Ok(())
}

/// One field: its length, then its bytes.
fn field(out: &mut Vec<u8>, bytes: &[u8]) -> Result<(), sqlx::Error> {
    let length = i32::try_from(bytes.len()).map_err(|_| copy_error("a value of over 2 GB".into()))?;
    out.extend_from_slice(&length.to_be_bytes());
    out.extend_from_slice(bytes);
    Ok(())
}

/// Why a scratch row could not be written for `COPY`.
fn copy_error(what: String) -> sqlx::Error {
    sqlx::Error::Protocol(format!("a rebuilt row cannot be copied to PostgreSQL: {what}"))
}

/// Where scratch databases go: beside the live SQLite file, else the temporary directory.
async fn scratch_dir(live: &Db) -> Result<PathBuf, sqlx::Error> {
    if let Db::Sqlite { read, .. } = live {
        let file: Option<String> = sqlx::query_scalar("SELECT file FROM pragma_database_list WHERE name = 'main'")
            .fetch_optional(read)
            .await?;
        if let Some(dir) = file.as_deref().filter(|f| !f.is_empty()).and_then(|f| Path::new(f).parent()) {
            return Ok(dir.to_path_buf());
        }
    }
    Ok(std::env::temp_dir())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `COPY`'s binary format, byte by byte: the header, each row's field count, each
    /// field's length (-1 for NULL) and bytes, the trailer; text goes as it is (a tab, a
    /// newline or a backslash needs no escaping), numbers as numbers.
    #[test]
    fn copy_rows_in_the_binary_format_postgresql_reads() {
        let db = Private::create(None, 16).unwrap();
        let select = "SELECT 42, NULL, 'tab\there \\N', 7, 1.5, 3";
        let kinds = [Kind::Int8, Kind::Text, Kind::Text, Kind::Text, Kind::Float8, Kind::Int4];
        let mut chunks = Vec::new();
        copy_binary(&db, select, &kinds, |chunk| {
            chunks.push(chunk);
            true
        })
        .unwrap();
        let mut expected = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0".to_vec();
        expected.extend_from_slice(&[0, 6]);
        expected.extend_from_slice(&[0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 42]);
        expected.extend_from_slice(&[0xff, 0xff, 0xff, 0xff]);
        expected.extend_from_slice(&[0, 0, 0, 11]);
        expected.extend_from_slice(b"tab\there \\N");
        expected.extend_from_slice(&[0, 0, 0, 1, b'7']);
        expected.extend_from_slice(&[0, 0, 0, 8]);
        expected.extend_from_slice(&1.5_f64.to_bits().to_be_bytes());
        expected.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 3]);
        expected.extend_from_slice(&[0xff, 0xff]);
        assert_eq!(chunks.concat(), expected);
    }

    /// A value that does not fit its live column stops the copy with what it was.
    #[test]
    fn a_value_of_another_kind_is_refused() {
        let db = Private::create(None, 16).unwrap();
        let refused = copy_binary(&db, "SELECT 'not a number'", &[Kind::Int8], |_| true).unwrap_err();
        assert!(refused.to_string().contains("Text value for a Int8 column"), "{refused}");
        let refused = copy_binary(&db, "SELECT 5000000000", &[Kind::Int4], |_| true).unwrap_err();
        assert!(refused.to_string().contains("does not fit"), "{refused}");
    }
}
