//! A table copied to PostgreSQL while its projection is rebuilt aside, not after.
//!
//! Why: at a million events the audit trail's entries were most of what a rebuild put in
//! place after its fill, one `COPY` of a million rows that ran mostly alone while the
//! other views were done (BENCHMARKS.md, fifteenth session). A table whose rows are only
//! ever added ([`crate::runner::Projection::appended_table`]) needs no final state: every
//! row is final as soon as it is written. So its rows skip the scratch database: the
//! projection adds them with [`ViewTx::append_rows`], which hands them to one `COPY` into
//! a new table that runs for the whole rebuild, in the transaction that will put the
//! projection in place. At the end that transaction swaps the new table in for the live
//! one (and makes its keys); the live table's secondary indexes are recorded and built
//! again on it afterwards, as for every other table.
//!
//! What users notice: nothing, beside a faster rebuild. The new table exists only inside
//! that transaction until it commits, so the live table answers as before, and a rebuild
//! cut off at any point leaves nothing behind (PostgreSQL rolls the transaction back).
//! A live table that a swap would change in any other way (privileges, triggers, views
//! on it, ...: [`OBSTACLES`]) is not streamed: its rows go into the scratch database and
//! are put in place after the fill like the other tables'.

use std::collections::HashMap;

use super::{column_kinds, columns, copy_error, CopyData, Kind};
use crate::db::{Diverted, Param, Private, ViewTx};
use crate::runner::ProjectionError;
use crate::tasks::Spawned;

/// The statements that make a new table `$2` like the live `$1`, without its indexes
/// (which are made again on it): its columns with their types, collations, `NOT NULL`
/// and defaults, then its `CHECK` constraints. Read from the catalog rather than by
/// `CREATE TABLE … (LIKE …)`, which would lock the live table against changes (a
/// migration, another rebuild putting it in place) for as long as the copy runs: the
/// whole fill. What this leaves out makes the live table an obstacle ([`OBSTACLES`]).
const NEW_TABLE: &str = "\
    SELECT format('CREATE TABLE %I (%s)', $2::text, string_agg(format('%I %s%s%s%s', a.attname, \
               format_type(a.atttypid, a.atttypmod), \
               CASE WHEN a.attcollation <> t.typcollation THEN format(' COLLATE %I.%I', cn.nspname, c.collname) \
                    ELSE '' END, \
               CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END, \
               coalesce(' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid), '')), ', ' ORDER BY a.attnum)) \
    FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid \
    LEFT JOIN pg_collation c ON c.oid = a.attcollation LEFT JOIN pg_namespace cn ON cn.oid = c.collnamespace \
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
    WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped \
    UNION ALL SELECT format('ALTER TABLE %I ADD CONSTRAINT %I %s', $2::text, conname, pg_get_constraintdef(oid)) \
    FROM pg_constraint WHERE conrelid = $1::regclass AND contype = 'c'";

/// What makes swapping a new table `$2` (made by [`NEW_TABLE`]) in for the live `$1`
/// change more than its rows: one line each. (Privileges are compared as they are in
/// effect: a table whose grants were revoked again has the default ones written out. Of a
/// column's options only `n_distinct` is compared: some builds of PostgreSQL give every
/// column an option of their own.)
const OBSTACLES: &str = "\
    SELECT 'it is not a plain, logged heap table' FROM pg_class \
        WHERE oid = $1::regclass AND (relkind <> 'r' OR relpersistence <> 'p' \
                                      OR relam <> (SELECT oid FROM pg_am WHERE amname = 'heap')) \
    UNION ALL SELECT 'it has triggers' \
        WHERE EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = $1::regclass AND NOT tgisinternal) \
    UNION ALL SELECT 'it has row security' WHERE (SELECT relrowsecurity FROM pg_class WHERE oid = $1::regclass) \
        OR EXISTS (SELECT 1 FROM pg_policy WHERE polrelid = $1::regclass) \
    UNION ALL SELECT 'other objects (views, foreign keys, ...) depend on it' \
        WHERE EXISTS (SELECT 1 FROM pg_depend WHERE refclassid = 'pg_class'::regclass AND refobjid = $1::regclass \
                      AND deptype = 'n') \
    UNION ALL SELECT 'it has foreign keys or exclusion constraints' \
        WHERE EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = $1::regclass AND contype NOT IN ('p', 'u', 'c', 'n')) \
    UNION ALL SELECT 'it is published by name' WHERE EXISTS (SELECT 1 FROM pg_publication_rel WHERE prrelid = $1::regclass) \
    UNION ALL SELECT 'it inherits or is inherited' \
        WHERE EXISTS (SELECT 1 FROM pg_inherits WHERE inhrelid = $1::regclass OR inhparent = $1::regclass) \
    UNION ALL SELECT 'a sequence belongs to it' \
        WHERE EXISTS (SELECT 1 FROM pg_depend d JOIN pg_class s ON s.oid = d.objid \
                      WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass \
                      AND d.refobjid = $1::regclass AND s.relkind = 'S') \
    UNION ALL SELECT 'it has extended statistics' \
        WHERE EXISTS (SELECT 1 FROM pg_statistic_ext WHERE stxrelid = $1::regclass) \
    UNION ALL SELECT 'it or its columns have comments' \
        WHERE EXISTS (SELECT 1 FROM pg_description WHERE classoid = 'pg_class'::regclass AND objoid = $1::regclass) \
    UNION ALL SELECT 'its owner, privileges or settings are not a new table''s' \
        WHERE EXISTS (SELECT 1 FROM pg_class l, pg_class n WHERE l.oid = $1::regclass AND n.oid = $2::regclass \
                      AND (l.relowner <> n.relowner \
                           OR coalesce(l.relacl, acldefault('r', l.relowner)) \
                              IS DISTINCT FROM coalesce(n.relacl, acldefault('r', n.relowner)) \
                           OR l.reloptions IS DISTINCT FROM n.reloptions OR l.relreplident <> n.relreplident \
                           OR l.reltablespace <> n.reltablespace)) \
    UNION ALL SELECT 'its columns have privileges, settings, statistics targets, storage or identities of their own' \
        WHERE EXISTS (SELECT 1 FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid \
                      WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped \
                      AND (a.attacl IS NOT NULL OR coalesce(a.attstattarget, -1) <> -1 \
                           OR a.attidentity <> '' OR a.attgenerated <> '' OR a.attstorage <> t.typstorage \
                           OR a.attcompression <> '' \
                           OR EXISTS (SELECT 1 FROM unnest(a.attoptions) o WHERE o LIKE 'n_distinct%')))";

/// The rows of a table on their way to PostgreSQL during a rebuild aside: the `COPY`
/// into the new table, on a task of its own holding the transaction that will put the
/// projection in place.
pub(super) struct Streamed {
    /// The live table.
    pub(super) table: &'static str,
    /// The new table, until it takes the live one's name.
    new_table: String,
    /// The `COPY`: gives the transaction back once the applier has sent the last row.
    copying: Spawned<Result<ViewTx, ProjectionError>>,
    /// What the applier ends the `COPY` with, until it is taken.
    tail: Option<Tail>,
}

/// The applier's end of the copy: tells it that every row has been sent.
pub(crate) struct Tail {
    table: &'static str,
    scratch: Private,
    rows: tokio::sync::mpsc::Sender<Diverted>,
}

impl Streamed {
    /// Starts copying `table` of the scratch database `scratch` to the live PostgreSQL
    /// database `live`, as it grows: the transaction, the new table and its `COPY`. `None`
    /// when the live table cannot be swapped for a new one without changing more than its
    /// rows (the reasons are logged): its rows are then put in place after the fill.
    pub(super) async fn start(
        live: &crate::db::Db,
        scratch: &Private,
        table: &'static str,
    ) -> Result<Option<Self>, ProjectionError> {
        let (columns, _) = columns(scratch, table)?;
        let mut tx = crate::runner::begin(live).await?;
        // One statement runs for the whole fill, and the transaction may then wait for the
        // other projections: no timeout an operator set for the service's role applies.
        tx.execute("SET LOCAL statement_timeout = 0", &[]).await?;
        tx.execute("SET LOCAL idle_in_transaction_session_timeout = 0", &[]).await?;
        let new_table = format!("{table}_rebuilt_{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        let made = [Param::from(table), Param::from(new_table.as_str())];
        for statement in tx.fetch(NEW_TABLE, &made).await? {
            tx.execute(&statement.text(0), &[]).await?;
        }
        let obstacles = obstacles(&mut tx, table, &new_table).await?;
        if !obstacles.is_empty() {
            tracing::info!(table, ?obstacles, "rows put in place after the rebuild, not as it goes");
            return Ok(None);
        }
        // Every column's kind now: a type the copy cannot write stops the rebuild at once.
        let kinds: HashMap<String, Kind> =
            columns.iter().cloned().zip(column_kinds(&mut tx, table, &columns).await?).collect();
        let (rows, received) = tokio::sync::mpsc::channel(2);
        scratch.divert(table, rows.clone());
        let into = new_table.clone();
        let copying = Spawned::new(async move {
            let copied = copy_as_sent(tx, &into, &kinds, received).await;
            match &copied {
                Err(ProjectionError::Rebuild(_)) | Ok(_) => {}
                // The applier only learns that PostgreSQL stopped taking the rows.
                Err(e) => tracing::warn!(table, error = %e, "copying a table as it was rebuilt"),
            }
            copied
        });
        let tail = Tail { table, scratch: scratch.clone(), rows };
        Ok(Some(Self { table, new_table, copying, tail: Some(tail) }))
    }

    /// The applier's end, once.
    pub(super) fn take_tail(&mut self) -> Option<Tail> {
        self.tail.take()
    }

    /// The transaction that copied the rows, once the applier has sent the last
    /// ([`Tail::finish`]): it goes on to put the projection in place.
    pub(super) async fn copied(self) -> Result<(ViewTx, Swap), ProjectionError> {
        let tx = self.copying.await.unwrap_or_else(|e| Err(ProjectionError::Rebuild(format!("copying: {e}"))))?;
        Ok((tx, Swap { table: self.table, new_table: self.new_table }))
    }
}

/// The new table, copied, to be swapped in for the live one.
pub(super) struct Swap {
    pub(super) table: &'static str,
    new_table: String,
}

impl Swap {
    /// Inside the transaction that puts the projection in place, after its reset and the
    /// recording of the live table's secondary indexes: the live table goes, the new one
    /// takes its name and its unique keys are made (with the live ones' names and
    /// settings), so no one ever sees it without them.
    pub(super) async fn swap_in(self, tx: &mut ViewTx) -> Result<(), ProjectionError> {
        let (table, new_table) = (self.table, &self.new_table);
        // Checked again under the lock the reset took: the live table may have changed.
        let obstacles = obstacles(tx, table, new_table).await?;
        if !obstacles.is_empty() {
            return Err(ProjectionError::Rebuild(format!(
                "{table} changed during the rebuild ({}): run the rebuild again",
                obstacles.join(", ")
            )));
        }
        let keys = super::unique_keys(tx, table).await?;
        tx.execute(&format!("DROP TABLE {table}"), &[]).await?;
        tx.execute(&format!("ALTER TABLE {new_table} RENAME TO {table}"), &[]).await?;
        for (_, make_key) in &keys {
            tx.execute(make_key, &[]).await?;
        }
        Ok(())
    }
}

/// The `COPY` of `tx` into `new_table` (made in it, so `FREEZE` is allowed: see
/// `Scratch::install_postgres`) of the rows the projection appends, in the binary format
/// (`kinds` by column); `tx` back once the applier says every row has been sent.
async fn copy_as_sent(
    mut tx: ViewTx,
    new_table: &str,
    kinds: &HashMap<String, Kind>,
    received: tokio::sync::mpsc::Receiver<Diverted>,
) -> Result<ViewTx, ProjectionError> {
    let ViewTx::Postgres(pg) = &mut tx else { unreachable!("a PostgreSQL database gives PostgreSQL transactions") };
    copy_rows(pg, new_table, kinds, received).await?;
    Ok(tx)
}

async fn copy_rows(
    pg: &mut sqlx::PgConnection,
    new_table: &str,
    kinds: &HashMap<String, Kind>,
    mut received: tokio::sync::mpsc::Receiver<Diverted>,
) -> Result<(), ProjectionError> {
    let cut_off = || ProjectionError::Rebuild("the rebuild was cut off".into());
    // The first rows name the columns; a projection that appended none leaves the table empty.
    let (named, mut params) = match received.recv().await {
        Some(Diverted::Rows { columns, params }) => (columns, params),
        Some(Diverted::End) => return Ok(()),
        None => return Err(cut_off()),
    };
    let kinds = named
        .iter()
        .map(|c| kinds.get(*c).copied().ok_or_else(|| copy_error(format!("no column {c} in {new_table}"))))
        .collect::<Result<Vec<Kind>, _>>()?;
    let mut data = CopyData::new(kinds)?;
    let sql = format!("COPY {new_table} ({}) FROM STDIN WITH (FORMAT binary, FREEZE)", named.join(", "));
    let mut copy = pg.copy_in_raw(&sql).await?;
    loop {
        for row in params.chunks_exact(data.width()) {
            if let Some(chunk) = data.row(|i| Ok(value_of(&row[i])))? {
                copy.send(chunk).await?;
            }
        }
        params = match received.recv().await {
            Some(Diverted::Rows { columns, params }) if columns == named => params,
            Some(Diverted::Rows { columns, .. }) => {
                let _ = copy.abort("rows with other columns").await;
                return Err(copy_error(format!("rows of {new_table} with other columns: {columns:?}")).into());
            }
            Some(Diverted::End) => break,
            None => {
                let _ = copy.abort("the rebuild was cut off").await;
                return Err(cut_off());
            }
        };
    }
    copy.send(data.end()).await?;
    copy.finish().await?;
    Ok(())
}

/// A parameter as SQLite would have stored it.
fn value_of(param: &Param) -> rusqlite::types::ValueRef<'_> {
    use rusqlite::types::ValueRef;
    match param {
        Param::Text(text) => ValueRef::Text(text.as_bytes()),
        Param::Int(n) => ValueRef::Integer(*n),
        Param::NullText | Param::NullInt => ValueRef::Null,
    }
}

/// Why the live `table` cannot be swapped for `new_table`, if it cannot.
async fn obstacles(tx: &mut ViewTx, table: &str, new_table: &str) -> Result<Vec<String>, sqlx::Error> {
    let found = tx.fetch(OBSTACLES, &[Param::from(table), Param::from(new_table)]).await?;
    Ok(found.iter().map(|r| r.text(0)).collect())
}

impl Tail {
    /// After the last batch: ends the `COPY`. No row may have gone into the scratch table
    /// itself: a projection that wrote it otherwise than by [`ViewTx::append_rows`] broke
    /// its promise ([`crate::runner::Projection::appended_table`]).
    pub(crate) async fn finish(self) -> Result<(), ProjectionError> {
        let held = self.scratch.fetch(&format!("SELECT count(*) FROM {}", self.table), &[])?;
        if held.first().map(|r| r.int(0)) != Some(0) {
            return Err(ProjectionError::Rebuild(format!(
                "{} was written otherwise than by appending: it cannot be copied as it grows",
                self.table
            )));
        }
        self.rows.send(Diverted::End).await.map_err(|_| {
            ProjectionError::Rebuild(format!("PostgreSQL stopped taking the rows of {} (see the log)", self.table))
        })
    }
}
