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

use futures::TryStreamExt;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Decode, Row, Sqlite, TypeInfo, ValueRef};

use crate::db::{Db, Param, ViewTx};
use crate::runner::{Projection, ProjectionError};

/// Bytes of `COPY` data sent to PostgreSQL at a time.
const COPY_CHUNK: usize = 1 << 20;

/// A projection's scratch database, deleted when dropped.
pub(crate) struct Scratch {
    path: PathBuf,
    pool: SqlitePool,
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // A rebuild cut off at any point leaves nothing behind (the file is unlinked even
        // while the pool still has it open).
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
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            // Nothing here has to survive a crash: a rebuild cut off starts again.
            .journal_mode(SqliteJournalMode::Memory)
            .synchronous(SqliteSynchronous::Off)
            // 256 MiB of pages: a million-event rebuild's working set stays in memory.
            .pragma("cache_size", "-262144")
            .pragma("temp_store", "memory");
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await?;
        let scratch = Self { path, pool };
        sqlx::migrate!("../migrations/sqlite").run(&scratch.pool).await.map_err(sqlx::Error::from)?;
        let mut tx = scratch.db().begin().await?;
        crate::runner::drop_indexes(&mut tx, projection.name(), projection.tables()).await?;
        projection.prepare_aside(live, &mut tx).await?;
        tx.commit().await?;
        Ok(scratch)
    }

    /// The scratch database, for the projection's runner to write to.
    pub(crate) fn db(&self) -> Db {
        Db::Sqlite { write: self.pool.clone(), read: self.pool.clone() }
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
        let bytes = std::fs::metadata(&self.path).map(|m| m.len()).unwrap_or(0);
        let (name, scratch) = (projection.name(), self.path.display());
        tracing::info!(projection = name, %scratch, bytes, "putting a rebuilt view in place");
        let installed = match live {
            Db::Sqlite { write, .. } => self.install_sqlite(live, write, projection, reached).await,
            Db::Postgres(_) => self.install_postgres(live, projection, reached).await,
        };
        self.pool.close().await;
        installed
    }

    async fn install_sqlite(
        &self,
        live: &Db,
        write: &SqlitePool,
        projection: &dyn Projection,
        reached: i64,
    ) -> Result<(), ProjectionError> {
        // SQLite attaches a database outside a transaction only, to one connection: the one
        // writer, which the transaction below then runs on.
        let alias = format!("rebuilt_{}", projection.name());
        let mut layouts = Vec::new();
        for table in projection.tables() {
            layouts.push((table, columns(&self.pool, table).await?));
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

    async fn install_postgres(
        &self,
        live: &Db,
        projection: &dyn Projection,
        reached: i64,
    ) -> Result<(), ProjectionError> {
        let mut tx = replace_begin(live, projection).await?;
        let ViewTx::Postgres(pg) = &mut tx else { unreachable!("a PostgreSQL database gives PostgreSQL transactions") };
        for table in projection.tables() {
            let (columns, key) = columns(&self.pool, table).await?;
            let mut copy = pg.copy_in_raw(&format!("COPY {table} ({columns}) FROM STDIN")).await?;
            let select = format!("SELECT {columns} FROM {table} ORDER BY {key}");
            let mut rows = sqlx::query(&select).fetch(&self.pool);
            let mut buffer = Vec::with_capacity(COPY_CHUNK + 4096);
            let sent = async {
                while let Some(row) = rows.try_next().await? {
                    copy_line(&row, &mut buffer)?;
                    if buffer.len() >= COPY_CHUNK {
                        copy.send(std::mem::take(&mut buffer)).await?;
                        buffer.reserve(COPY_CHUNK + 4096);
                    }
                }
                if !buffer.is_empty() {
                    copy.send(buffer).await?;
                }
                Ok::<_, sqlx::Error>(())
            }
            .await;
            drop(rows);
            match sent {
                Ok(()) => drop(copy.finish().await?),
                Err(e) => {
                    let _ = copy.abort("the scratch database could not be read").await;
                    return Err(e.into());
                }
            }
        }
        projection.install_aside(&self.db(), &mut tx, reached).await?;
        crate::runner::save_checkpoint(&mut tx, projection.name(), reached).await?;
        tx.commit().await?;
        Ok(())
    }
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
async fn columns(pool: &SqlitePool, table: &str) -> Result<(String, String), sqlx::Error> {
    let rows =
        sqlx::query("SELECT name, pk FROM pragma_table_info($1) ORDER BY cid").bind(table).fetch_all(pool).await?;
    let columns: Vec<String> = rows.iter().map(|r| r.get::<String, _>(0)).collect();
    let mut key: Vec<(i64, String)> =
        rows.iter().filter(|r| r.get::<i64, _>(1) > 0).map(|r| (r.get::<i64, _>(1), r.get::<String, _>(0))).collect();
    key.sort();
    let key = if key.is_empty() {
        "rowid".to_string()
    } else {
        key.into_iter().map(|(_, c)| c).collect::<Vec<_>>().join(", ")
    };
    Ok((columns.join(", "), key))
}

/// One row in `COPY`'s text format: tab-separated, `\N` for NULL, with backslash,
/// tab, newline and carriage return escaped.
fn copy_line(row: &sqlx::sqlite::SqliteRow, out: &mut Vec<u8>) -> Result<(), sqlx::Error> {
    for i in 0..row.len() {
        if i > 0 {
            out.push(b'\t');
        }
        let value = row.try_get_raw(i)?;
        if value.is_null() {
            out.extend_from_slice(b"\\N");
            continue;
        }
        if value.type_info().name() == "INTEGER" {
            let n = <i64 as Decode<Sqlite>>::decode(value).map_err(sqlx::Error::Decode)?;
            out.extend_from_slice(n.to_string().as_bytes());
        } else {
            let text = <&str as Decode<Sqlite>>::decode(value).map_err(sqlx::Error::Decode)?;
            for byte in text.bytes() {
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
    #[tokio::test]
    async fn copy_lines_escape_what_copy_would_misread() {
        let pool = SqlitePoolOptions::new().max_connections(1).connect("sqlite::memory:").await.unwrap();
        let row = sqlx::query("SELECT 42, NULL, 'tab\there', 'line\nbreak\r', 'back\\slash \\N', '{\"a\":\"b\"}', ''")
            .fetch_one(&pool)
            .await
            .unwrap();
        let mut out = Vec::new();
        copy_line(&row, &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "42\t\\N\ttab\\there\tline\\nbreak\\r\tback\\\\slash \\\\N\t{\"a\":\"b\"}\t\n"
        );
    }
}
