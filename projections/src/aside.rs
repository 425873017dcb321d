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

use std::path::{Path, PathBuf};

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
        let scratch = Self { path, db };
        let mut tx = scratch.db().begin().await?;
        crate::runner::drop_indexes(&mut tx, projection.name(), projection.tables()).await?;
        projection.prepare_aside(live, &mut tx).await?;
        tx.commit().await?;
        Ok(scratch)
    }

    /// The scratch database, for the projection's runner to write to.
    pub(crate) fn db(&self) -> Db {
        Db::Private(self.db.clone())
    }

    /// The size of the scratch file: how much there is to put in place.
    pub(crate) fn bytes(&self) -> u64 {
        std::fs::metadata(&self.path).map(|m| m.len()).unwrap_or(0)
    }

    /// Puts the scratch rows of `projection` in place of its live ones, in one transaction
    /// that also sets its checkpoint to `reached`. The live tables' secondary indexes are
    /// dropped (and recorded) for the copy, as a rebuild in place does: the caller builds
    /// them again.
    pub(crate) async fn install(
        self,
        live: &Db,
        projection: &dyn Projection,
        reached: i64,
    ) -> Result<(), ProjectionError> {
        // For operators sizing the disk the scratch files go on.
        let bytes = self.bytes();
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
            layouts.push((table, columns(&self.db, table)?));
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
    async fn install_postgres(
        &self,
        live: &Db,
        projection: &dyn Projection,
        reached: i64,
    ) -> Result<(), ProjectionError> {
        let mut tx = replace_begin(live, projection).await?;
        // The keys made again below sort a million rows in memory, not on disk.
        tx.execute("SET LOCAL maintenance_work_mem = '256MB'", &[]).await?;
        for table in projection.tables() {
            let (columns, key) = columns(&self.db, table)?;
            let keys = unique_keys(&mut tx, table).await?;
            for (drop_key, _) in &keys {
                tx.execute(drop_key, &[]).await?;
            }
            let ViewTx::Postgres(pg) = &mut tx else {
                unreachable!("a PostgreSQL database gives PostgreSQL transactions")
            };
            let mut copy = pg.copy_in_raw(&format!("COPY {table} ({columns}) FROM STDIN WITH (FREEZE)")).await?;
            let (chunks, mut received) = tokio::sync::mpsc::channel::<Vec<u8>>(2);
            let (db, select) = (self.db.clone(), format!("SELECT {columns} FROM {table} ORDER BY {key}"));
            let reader = tokio::task::spawn_blocking(move || {
                copy_text(&db, &select, |chunk| chunks.blocking_send(chunk).is_ok())
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
/// indexes), each as the statement that drops it and the one that makes it again.
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
             FROM pg_constraint c WHERE c.conrelid = $1::regclass AND c.contype IN ('p', 'u') \
             UNION ALL \
             SELECT format('DROP INDEX %s', i.indexrelid::regclass), pg_get_indexdef(i.indexrelid) \
             FROM pg_index i WHERE i.indrelid = $1::regclass AND i.indisunique \
             AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)",
            &[Param::from(table)],
        )
        .await?;
    Ok(keys.iter().map(|key| (key.text(0), key.text(1))).collect())
}

/// Starts the transaction that replaces `projection`'s live rows: holds its checkpoint
/// (on PostgreSQL, a runner of it in another instance waits and then carries on from the
/// new one), empties its tables and drops their secondary indexes, recorded.
async fn replace_begin(live: &Db, projection: &dyn Projection) -> Result<ViewTx, ProjectionError> {
    let mut tx = crate::runner::begin(live).await?;
    crate::runner::checkpoint_in(&mut tx, projection.name()).await?;
    projection.reset(&mut tx).await?;
    crate::runner::drop_indexes(&mut tx, projection.name(), projection.tables()).await?;
    Ok(tx)
}

/// A table's columns (comma-separated) and its key (what to order the copy by, so the
/// live key index is filled from one end; the row order where there is no key).
fn columns(db: &Private, table: &str) -> Result<(String, String), sqlx::Error> {
    let rows = db.fetch("SELECT name, pk FROM pragma_table_info($1) ORDER BY cid", &[Param::from(table)])?;
    let columns: Vec<String> = rows.iter().map(|r| r.text(0)).collect();
    let mut key: Vec<(i64, String)> = rows.iter().filter(|r| r.int(1) > 0).map(|r| (r.int(1), r.text(0))).collect();
    key.sort();
    let key = if key.is_empty() {
        "rowid".to_string()
    } else {
        key.into_iter().map(|(_, c)| c).collect::<Vec<_>>().join(", ")
    };
    Ok((columns.join(", "), key))
}

/// The rows of `select` as `COPY` text, handed to `send` in chunks of about
/// [`COPY_CHUNK`] bytes; stops when `send` says the chunks are no longer taken.
fn copy_text(db: &Private, select: &str, mut send: impl FnMut(Vec<u8>) -> bool) -> Result<(), ProjectionError> {
    let mut buffer = Vec::with_capacity(COPY_CHUNK + 4096);
    let mut taken = true;
    db.for_each_row(select, &[], |row| {
        copy_line(row, &mut buffer).map_err(private_error)?;
        if buffer.len() >= COPY_CHUNK {
            taken = send(std::mem::replace(&mut buffer, Vec::with_capacity(COPY_CHUNK + 4096)));
        }
        Ok(taken)
    })?;
    if taken && !buffer.is_empty() {
        send(buffer);
    }
    Ok(())
}

/// One row in `COPY`'s text format: tab-separated, `\N` for NULL, with backslash,
/// tab, newline and carriage return escaped.
fn copy_line(row: &rusqlite::Row<'_>, out: &mut Vec<u8>) -> Result<(), rusqlite::Error> {
    use rusqlite::types::ValueRef;
    for i in 0..row.as_ref().column_count() {
        if i > 0 {
            out.push(b'\t');
        }
        match row.get_ref(i)? {
            ValueRef::Null => out.extend_from_slice(b"\\N"),
            ValueRef::Integer(n) => out.extend_from_slice(n.to_string().as_bytes()),
            ValueRef::Real(x) => out.extend_from_slice(x.to_string().as_bytes()),
            ValueRef::Text(text) | ValueRef::Blob(text) => {
                for &byte in text {
                    match byte {
                        b'\\' => out.extend_from_slice(b"\\\\"),
                        b'\t' => out.extend_from_slice(b"\\t"),
                        b'\n' => out.extend_from_slice(b"\\n"),
                        b'\r' => out.extend_from_slice(b"\\r"),
                        b => out.push(b),
                    }
                }
            }
        }
    }
    out.push(b'\n');
    Ok(())
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

    /// What PostgreSQL's `COPY … FROM STDIN` (text format) will read back as the values.
    #[test]
    fn copy_lines_escape_what_copy_would_misread() {
        let db = Private::create(None, 16).unwrap();
        let select = "SELECT 42, NULL, 'tab\there', 'line\nbreak\r', 'back\\slash \\N', '{\"a\":\"b\"}', ''";
        let mut chunks = Vec::new();
        copy_text(&db, select, |chunk| {
            chunks.push(chunk);
            true
        })
        .unwrap();
        assert_eq!(
            String::from_utf8(chunks.concat()).unwrap(),
            "42\t\\N\ttab\\there\tline\\nbreak\\r\tback\\\\slash \\\\N\t{\"a\":\"b\"}\t\n"
        );
    }
}
