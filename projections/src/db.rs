//! The database the views live in (the event log's), and a transaction that speaks to
//! either backend with the same SQL: `$1, $2, …` placeholders, first used in ascending
//! order (SQLite numbers `$N` parameters by first appearance), integers and text only.
//!
//! Besides the log's database, a [`Db`] can be a private SQLite database of the process's
//! own ([`Private`]): a rebuild's scratch file, or the views as they stood at a moment.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use sqlx::{PgPool, Postgres, Row, Sqlite, SqlitePool, Transaction};

/// Where [`ViewTx::execute_rows`] puts the rows in its statement.
pub const ROWS: &str = "{rows}";

/// Most rows [`ViewTx::execute_rows`] puts in one SQLite statement.
pub const MAX_ROWS_PER_STATEMENT: usize = 1_024;

/// Below this many rows [`ViewTx::execute_rows`] puts them in one SQLite statement of
/// exactly that size.
const EXACT_ROWS: usize = 64;

/// Bound parameters per statement SQLite accepts.
const SQLITE_MAX_PARAMETERS: usize = 32_766;

/// A database views live in: the event log's (PostgreSQL or SQLite), or a private one
/// that holds views only.
#[derive(Clone)]
pub enum Db {
    /// PostgreSQL.
    Postgres(PgPool),
    /// SQLite: one writer connection, readers beside it.
    Sqlite {
        /// The one writer.
        write: SqlitePool,
        /// Readers.
        read: SqlitePool,
    },
    /// A private SQLite database: a rebuild's scratch file or the views as of a moment.
    Private(Private),
}

/// A bound parameter. Made with `From`, which makes its text [`storable`].
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    /// Text.
    Text(String),
    /// Integer.
    Int(i64),
    /// SQL NULL in a text column.
    NullText,
    /// SQL NULL in an integer column.
    NullInt,
}

impl From<&str> for Param {
    fn from(s: &str) -> Self {
        Param::Text(storable(s.to_string()))
    }
}

impl From<String> for Param {
    fn from(s: String) -> Self {
        Param::Text(storable(s))
    }
}

/// `text` as both backends store it: a NUL becomes U+FFFD (docs/decisions/0010).
/// PostgreSQL's `text` cannot hold a NUL at all, and one in a view's row (a unit typed
/// before the edge refused them, still in the log) used to fail the projection's batch
/// again and again, leaving every view behind it stale. SQLite could store it, but the
/// two backends show the same. New input never has one: the edge refuses it, so no
/// lookup or filter depends on this.
pub fn storable(text: String) -> String {
    if text.contains('\0') {
        text.replace('\0', "\u{FFFD}")
    } else {
        text
    }
}

impl From<i64> for Param {
    fn from(i: i64) -> Self {
        Param::Int(i)
    }
}

impl From<Option<String>> for Param {
    fn from(s: Option<String>) -> Self {
        s.map_or(Param::NullText, |s| Param::Text(storable(s)))
    }
}

/// One value of a row read from either backend.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// An integer.
    Int(i64),
    /// Text.
    Text(String),
    /// SQL NULL.
    Null,
}

/// A row read from either backend: integers and text, by column index.
#[derive(Debug, Clone, PartialEq)]
pub struct Record(pub Vec<Cell>);

impl Record {
    /// Column `i` as text ("" when NULL; an integer as its digits).
    pub fn text(&self, i: usize) -> String {
        self.opt_text(i).unwrap_or_default()
    }

    /// Column `i` as text, `None` when NULL.
    pub fn opt_text(&self, i: usize) -> Option<String> {
        match self.0.get(i) {
            Some(Cell::Text(s)) => Some(s.clone()),
            Some(Cell::Int(n)) => Some(n.to_string()),
            _ => None,
        }
    }

    /// Column `i` as an integer (0 when NULL).
    pub fn int(&self, i: usize) -> i64 {
        self.opt_int(i).unwrap_or(0)
    }

    /// Column `i` as an integer, `None` when NULL or not a number.
    pub fn opt_int(&self, i: usize) -> Option<i64> {
        match self.0.get(i) {
            Some(Cell::Int(n)) => Some(*n),
            Some(Cell::Text(s)) => s.parse().ok(),
            _ => None,
        }
    }

    /// Column `i` as a flag stored as 0/1.
    pub fn flag(&self, i: usize) -> bool {
        self.int(i) != 0
    }
}

/// Reads every column of a row as an integer or text. PostgreSQL's `count` and `sum`
/// are bigint and numeric: cast sums with `CAST(... AS bigint)` in shared SQL.
fn record<R: Row>(row: &R) -> Record
where
    usize: sqlx::ColumnIndex<R>,
    for<'r> Option<i64>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<i32>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let cells = (0..row.len())
        .map(|i| {
            if let Ok(v) = row.try_get::<Option<i64>, _>(i) {
                v.map_or(Cell::Null, Cell::Int)
            } else if let Ok(v) = row.try_get::<Option<String>, _>(i) {
                v.map_or(Cell::Null, Cell::Text)
            } else if let Ok(v) = row.try_get::<Option<i32>, _>(i) {
                v.map_or(Cell::Null, |n| Cell::Int(i64::from(n)))
            } else {
                Cell::Null
            }
        })
        .collect();
    Record(cells)
}

/// A view transaction on either backend.
pub enum ViewTx {
    /// PostgreSQL.
    Postgres(Transaction<'static, Postgres>),
    /// SQLite.
    Sqlite(Transaction<'static, Sqlite>),
    /// A private SQLite database.
    Private(PrivateTx),
}

macro_rules! bind_all {
    ($query:expr, $params:expr) => {{
        let mut query = $query;
        for param in $params {
            query = match param {
                Param::Text(s) => query.bind(s.clone()),
                Param::Int(i) => query.bind(*i),
                Param::NullText => query.bind(None::<String>),
                Param::NullInt => query.bind(None::<i64>),
            };
        }
        query
    }};
}

/// A value bound to a statement of [`ViewTx::execute_rows`]: one per row and column on
/// SQLite, one array per column on PostgreSQL.
enum Bind {
    One(Param),
    Ints(Vec<Option<i64>>),
    Texts(Vec<Option<String>>),
}

macro_rules! bind_rows {
    ($query:expr, $binds:expr, arrays) => {{
        let mut query = $query;
        for bind in $binds {
            query = match bind {
                Bind::One(param) => bind_all!(query, [&param]),
                Bind::Ints(v) => query.bind(v),
                Bind::Texts(v) => query.bind(v),
            };
        }
        query
    }};
    ($query:expr, $binds:expr) => {{
        let mut query = $query;
        for bind in $binds {
            query = match bind {
                Bind::One(param) => bind_all!(query, [&param]),
                Bind::Ints(_) | Bind::Texts(_) => unreachable!("arrays are bound on PostgreSQL only"),
            };
        }
        query
    }};
}

/// The statements (and their values) that run `sql` over the rows in `params`.
fn row_statements(tx: &ViewTx, sql: &str, width: usize, params: &[Param]) -> Vec<(String, Vec<Bind>)> {
    assert!(width > 0 && params.len().is_multiple_of(width), "{} values do not make rows of {width}", params.len());
    assert!(sql.matches(ROWS).count() == 1, "the statement must hold {ROWS} once: {sql}");
    let rows = params.len() / width;
    if rows == 0 {
        return vec![];
    }
    let names: Vec<String> = (1..=width).map(|c| format!("column{c}")).collect();
    match tx {
        ViewTx::Postgres(_) => {
            let mut arrays = Vec::with_capacity(width);
            let mut columns = Vec::with_capacity(width);
            for c in 0..width {
                let column = params.iter().skip(c).step_by(width);
                let ints = column.clone().any(|p| matches!(p, Param::Int(_) | Param::NullInt));
                let texts = column.clone().any(|p| matches!(p, Param::Text(_) | Param::NullText));
                assert!(!(ints && texts), "column {} holds both integers and text", c + 1);
                if ints {
                    arrays.push(format!("${}::bigint[]", c + 1));
                    columns.push(Bind::Ints(
                        column.map(|p| if let Param::Int(i) = p { Some(*i) } else { None }).collect(),
                    ));
                } else {
                    arrays.push(format!("${}::text[]", c + 1));
                    columns.push(Bind::Texts(
                        column.map(|p| if let Param::Text(s) = p { Some(s.clone()) } else { None }).collect(),
                    ));
                }
            }
            let source = format!("SELECT * FROM UNNEST({}) AS r({})", arrays.join(", "), names.join(", "));
            vec![(sql.replacen(ROWS, &source, 1), columns)]
        }
        ViewTx::Sqlite(_) | ViewTx::Private(_) => {
            let most = (SQLITE_MAX_PARAMETERS / width).clamp(1, MAX_ROWS_PER_STATEMENT);
            let row = format!("({})", vec!["?"; width].join(", "));
            let mut statements = vec![];
            let mut start = 0;
            while start < rows {
                let left = (rows - start).min(most);
                // Up to EXACT_ROWS, the rows left as they are: one statement (each a round
                // trip to SQLite's worker thread) for the many small calls. Beyond, the
                // largest power of four that fits: few distinct large statements to prepare.
                let chunk = if left < EXACT_ROWS { left } else { 4_usize.pow(left.ilog(4)) };
                let source = format!("VALUES {}", vec![row.as_str(); chunk].join(", "));
                let binds = params[start * width..(start + chunk) * width].iter().cloned().map(Bind::One).collect();
                statements.push((sql.replacen(ROWS, &source, 1), binds));
                start += chunk;
            }
            statements
        }
    }
}

impl Db {
    /// Starts a view transaction (on SQLite, on the writer connection).
    pub async fn begin(&self) -> Result<ViewTx, sqlx::Error> {
        Ok(match self {
            Db::Postgres(pool) => ViewTx::Postgres(pool.begin().await?),
            Db::Sqlite { write, .. } => ViewTx::Sqlite(write.begin().await?),
            Db::Private(db) => ViewTx::Private(db.begin()?),
        })
    }
}

impl Db {
    /// Reads one optional integer (NULL is `None`) outside any transaction (on SQLite, from a reader, so
    /// the one writer stays free for appends).
    pub async fn read_int(&self, sql: &str, params: &[Param]) -> Result<Option<i64>, sqlx::Error> {
        Ok(match self {
            Db::Postgres(pool) => {
                bind_all!(sqlx::query_scalar::<_, Option<i64>>(sql), params).fetch_optional(pool).await?.flatten()
            }
            Db::Sqlite { read, .. } => {
                bind_all!(sqlx::query_scalar::<_, Option<i64>>(sql), params).fetch_optional(read).await?.flatten()
            }
            Db::Private(_) => self.fetch(sql, params).await?.first().and_then(|r| r.opt_int(0)),
        })
    }
}

impl Db {
    /// Runs a query outside any transaction (on SQLite, on a reader) and returns its rows.
    pub async fn fetch(&self, sql: &str, params: &[Param]) -> Result<Vec<Record>, sqlx::Error> {
        Ok(match self {
            Db::Postgres(pool) => {
                bind_all!(sqlx::query(sql), params).fetch_all(pool).await?.iter().map(record).collect()
            }
            Db::Sqlite { read, .. } => {
                bind_all!(sqlx::query(sql), params).fetch_all(read).await?.iter().map(record).collect()
            }
            Db::Private(db) => db.fetch_off_the_runtime(sql, params).await?,
        })
    }
}

impl Db {
    /// As [`Db::fetch`], for a query whose best plan depends on its values, such as a
    /// filter that may match a handful of rows or most of a table. On PostgreSQL it is sent
    /// as a one-off statement, so it is planned for the values given every time: a
    /// prepared statement would switch to a generic plan after five runs, and for "the
    /// first page of one person's audit trail" that plan reads the whole trail in
    /// position order (160-190 ms at a million events, against a few ms).
    pub async fn fetch_planned_for_values(&self, sql: &str, params: &[Param]) -> Result<Vec<Record>, sqlx::Error> {
        match self {
            Db::Postgres(pool) => Ok(bind_all!(sqlx::query(sql).persistent(false), params)
                .fetch_all(pool)
                .await?
                .iter()
                .map(record)
                .collect()),
            Db::Sqlite { .. } | Db::Private(_) => self.fetch(sql, params).await,
        }
    }
}

/// How SQL names an event's position in the log (the `events` table): its `position`
/// column on PostgreSQL; on SQLite the rowid, which is what the position is there.
fn log_position(postgres: bool) -> &'static str {
    if postgres {
        "position"
    } else {
        "rowid"
    }
}

impl Db {
    /// How SQL names an event's position in the log here (see [`log_position`]).
    pub fn log_position(&self) -> &'static str {
        log_position(matches!(self, Db::Postgres(_)))
    }
}

impl ViewTx {
    /// How SQL names an event's position in the log here (see [`log_position`]).
    pub fn log_position(&self) -> &'static str {
        log_position(matches!(self, ViewTx::Postgres(_)))
    }

    /// Runs a query inside the transaction and returns its rows.
    pub async fn fetch(&mut self, sql: &str, params: &[Param]) -> Result<Vec<Record>, sqlx::Error> {
        Ok(match self {
            ViewTx::Postgres(tx) => {
                bind_all!(sqlx::query(sql), params).fetch_all(&mut **tx).await?.iter().map(record).collect()
            }
            ViewTx::Sqlite(tx) => {
                bind_all!(sqlx::query(sql), params).fetch_all(&mut **tx).await?.iter().map(record).collect()
            }
            ViewTx::Private(tx) => tx.db.fetch(sql, params)?,
        })
    }

    /// Runs a statement.
    pub async fn execute(&mut self, sql: &str, params: &[Param]) -> Result<u64, sqlx::Error> {
        Ok(match self {
            ViewTx::Postgres(tx) => bind_all!(sqlx::query(sql), params).execute(&mut **tx).await?.rows_affected(),
            ViewTx::Sqlite(tx) => bind_all!(sqlx::query(sql), params).execute(&mut **tx).await?.rows_affected(),
            ViewTx::Private(tx) => tx.db.execute(sql, params)?,
        })
    }

    /// Runs `sql` over many rows at once: `sql` holds [`ROWS`] once, where a row source
    /// goes whose columns are named `column1`, `column2`, … (`INSERT INTO t (a, b) {rows}
    /// ON CONFLICT …`, `… WHERE (a, b) IN ({rows})`, `UPDATE t SET … FROM ({rows}) AS r
    /// WHERE t.a = r.column1`). `params` are the rows' values one row after another,
    /// `width` to a row; `sql` itself takes no other parameters. Returns the rows
    /// affected.
    ///
    /// On PostgreSQL the rows are one `UNNEST` of one array per column: a single statement
    /// whatever the number of rows, prepared once per connection. On SQLite they are a
    /// `VALUES` list of anonymous `?` parameters (SQLite looks `$N` parameters up by name,
    /// which costs time quadratic in their number on every execution): fewer than 64 rows
    /// in one statement, more in chunks of a power of four rows up to
    /// [`MAX_ROWS_PER_STATEMENT`] and the rest in one, so large statements come in only a
    /// handful of sizes to prepare. The rows of one call must not depend on each other's
    /// order: an `ON CONFLICT … DO UPDATE` or `UPDATE … FROM` must not see one key twice.
    pub async fn execute_rows(&mut self, sql: &str, width: usize, params: &[Param]) -> Result<u64, sqlx::Error> {
        let mut affected = 0;
        for (sql, binds) in row_statements(self, sql, width, params) {
            affected += match self {
                ViewTx::Postgres(tx) => {
                    bind_rows!(sqlx::query(&sql), binds, arrays).execute(&mut **tx).await?.rows_affected()
                }
                ViewTx::Sqlite(tx) => bind_rows!(sqlx::query(&sql), binds).execute(&mut **tx).await?.rows_affected(),
                ViewTx::Private(tx) => tx.db.execute(&sql, &single_values(binds))?,
            };
        }
        Ok(affected)
    }

    /// Adds rows of `columns.len()` values each to `table`, a projection's appended table
    /// ([`crate::runner::Projection::appended_table`]), as one or more multi-row `INSERT`s;
    /// in a scratch database whose appended table is copied to PostgreSQL as a rebuild
    /// goes, straight to that copy instead (`crate::aside::streamed`). The rows it added.
    pub async fn append_rows(
        &mut self,
        table: &'static str,
        columns: &'static [&'static str],
        params: &[Param],
    ) -> Result<u64, sqlx::Error> {
        let width = columns.len();
        if let ViewTx::Private(tx) = self {
            if let Some(rows) = tx.db.diverted(table) {
                let added = (params.len() / width.max(1)) as u64;
                if added > 0 {
                    let sent = rows.send(Diverted::Rows { columns, params: params.to_vec() }).await;
                    sent.map_err(|_| sqlx::Error::Protocol(format!("the copy of {table} to PostgreSQL stopped")))?;
                }
                return Ok(added);
            }
        }
        self.execute_rows(&format!("INSERT INTO {table} ({}) {{rows}}", columns.join(", ")), width, params).await
    }

    /// [`ViewTx::execute_rows`] for a query: the rows of every statement, one after another.
    pub async fn fetch_rows(&mut self, sql: &str, width: usize, params: &[Param]) -> Result<Vec<Record>, sqlx::Error> {
        let mut records = Vec::new();
        for (sql, binds) in row_statements(self, sql, width, params) {
            match self {
                ViewTx::Postgres(tx) => {
                    records.extend(
                        bind_rows!(sqlx::query(&sql), binds, arrays).fetch_all(&mut **tx).await?.iter().map(record),
                    );
                }
                ViewTx::Sqlite(tx) => {
                    records.extend(bind_rows!(sqlx::query(&sql), binds).fetch_all(&mut **tx).await?.iter().map(record));
                }
                ViewTx::Private(tx) => records.extend(tx.db.fetch(&sql, &single_values(binds))?),
            }
        }
        Ok(records)
    }

    /// Reads one optional integer (e.g. a checkpoint).
    pub async fn fetch_int(&mut self, sql: &str, params: &[Param]) -> Result<Option<i64>, sqlx::Error> {
        Ok(match self {
            ViewTx::Postgres(tx) => {
                bind_all!(sqlx::query_scalar::<_, Option<i64>>(sql), params).fetch_optional(&mut **tx).await?.flatten()
            }
            ViewTx::Sqlite(tx) => {
                bind_all!(sqlx::query_scalar::<_, Option<i64>>(sql), params).fetch_optional(&mut **tx).await?.flatten()
            }
            ViewTx::Private(tx) => tx.db.fetch(sql, params)?.first().and_then(|r| r.opt_int(0)),
        })
    }

    /// Deletes every row of `table` (one of ours, named in code): on PostgreSQL by
    /// `TRUNCATE`, which leaves no dead rows for the refill to wade through.
    pub async fn empty(&mut self, table: &str) -> Result<(), sqlx::Error> {
        let sql = match self {
            ViewTx::Postgres(_) => format!("TRUNCATE {table}"),
            ViewTx::Sqlite(_) | ViewTx::Private(_) => format!("DELETE FROM {table}"),
        };
        self.execute(&sql, &[]).await.map(drop)
    }

    /// Commits.
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            ViewTx::Postgres(tx) => tx.commit().await,
            ViewTx::Sqlite(tx) => tx.commit().await,
            ViewTx::Private(tx) => tx.commit(),
        }
    }
}

/// The values of a SQLite statement of [`row_statements`], one per placeholder.
fn single_values(binds: Vec<Bind>) -> Vec<Param> {
    binds
        .into_iter()
        .map(|bind| match bind {
            Bind::One(param) => param,
            Bind::Ints(_) | Bind::Texts(_) => unreachable!("arrays are bound on PostgreSQL only"),
        })
        .collect()
}

/// A private SQLite database: one connection of the process's own, driven in-process
/// through rusqlite, its statements run on the calling thread.
///
/// Why not sqlx: sqlx runs each SQLite connection on a worker thread of its own and hands
/// every statement over to it and every result back, two thread switches a statement. A
/// rebuild aside runs some hundred thousand small statements against its scratch file,
/// and those switches were most of its time. Nothing else shares a private database, so
/// nothing is gained by the hand-over: it is used by one task at a time, and a task that
/// applies a rebuild's batches to one runs on a thread of its own (`crate::runner`).
#[derive(Clone)]
pub struct Private {
    connection: Arc<Mutex<rusqlite::Connection>>,
    /// The table whose rows [`ViewTx::append_rows`] sends elsewhere instead, if any.
    diversion: Arc<Mutex<Option<Diversion>>>,
}

/// Where the rows of one table of a private database go instead of into it: a rebuild
/// copying that table to PostgreSQL as it goes (`crate::aside::streamed`).
struct Diversion {
    table: &'static str,
    rows: tokio::sync::mpsc::Sender<Diverted>,
}

/// What a diversion carries.
pub(crate) enum Diverted {
    /// Rows of `columns.len()` values each, in the order of `columns`.
    Rows { columns: &'static [&'static str], params: Vec<Param> },
    /// Every row has been sent (sent by the one who set the diversion up).
    End,
}

/// A transaction on a [`Private`] database: rolled back if dropped before its commit.
pub struct PrivateTx {
    db: Private,
    open: bool,
}

/// Statements prepared and kept per private database: every statement a projection runs,
/// in every row count [`ViewTx::execute_rows`] gives it.
const PRIVATE_STATEMENT_CACHE: usize = 512;

impl Private {
    /// A fresh private database with the service's schema (the SQLite migrations): in the
    /// file `path` (created; nothing in it has to survive a crash, so it is written
    /// without journal on disk or fsync), or in memory. `cache_pages` pages of 4 kB are
    /// kept in memory.
    pub fn create(path: Option<&Path>, cache_pages: i64) -> Result<Self, sqlx::Error> {
        let conn = match path {
            Some(path) => rusqlite::Connection::open(path),
            None => rusqlite::Connection::open_in_memory(),
        }
        .map_err(private_error)?;
        conn.set_prepared_statement_cache_capacity(PRIVATE_STATEMENT_CACHE);
        conn.execute_batch(&format!(
            "PRAGMA journal_mode = MEMORY; PRAGMA synchronous = OFF; PRAGMA temp_store = MEMORY; \
             PRAGMA cache_size = -{}",
            cache_pages * 4
        ))
        .map_err(private_error)?;
        for migration in sqlx::migrate!("../migrations/sqlite").iter().filter(|m| m.migration_type.is_up_migration()) {
            conn.execute_batch(&migration.sql).map_err(private_error)?;
        }
        Ok(Self { connection: Arc::new(Mutex::new(conn)), diversion: Arc::default() })
    }

    fn connection(&self) -> MutexGuard<'_, rusqlite::Connection> {
        // A panic while the connection was held leaves nothing half-done that the next
        // statement could see: SQLite's own state is consistent after every call.
        self.connection.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// From now on, rows that [`ViewTx::append_rows`] adds to `table` go to `rows` instead
    /// of into this database.
    pub(crate) fn divert(&self, table: &'static str, rows: tokio::sync::mpsc::Sender<Diverted>) {
        *self.diversion.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Diversion { table, rows });
    }

    /// Where rows added to `table` go instead, if elsewhere.
    fn diverted(&self, table: &str) -> Option<tokio::sync::mpsc::Sender<Diverted>> {
        let diversion = self.diversion.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        diversion.as_ref().filter(|d| d.table == table).map(|d| d.rows.clone())
    }

    /// Starts a transaction.
    pub fn begin(&self) -> Result<PrivateTx, sqlx::Error> {
        self.connection().execute_batch("BEGIN").map_err(private_error)?;
        Ok(PrivateTx { db: self.clone(), open: true })
    }

    /// Runs a statement (stepping through any rows it returns); the rows it changed.
    pub fn execute(&self, sql: &str, params: &[Param]) -> Result<u64, sqlx::Error> {
        let conn = self.connection();
        each_row(&conn, sql, params, |_| Ok(true))?;
        Ok(conn.changes())
    }

    /// Runs a query and returns its rows.
    pub fn fetch(&self, sql: &str, params: &[Param]) -> Result<Vec<Record>, sqlx::Error> {
        let mut records = Vec::new();
        self.for_each_row(sql, params, |row| {
            let cells = (0..row.as_ref().column_count()).map(|i| row.get_ref(i).map(cell)).collect::<Result<_, _>>();
            records.push(Record(cells.map_err(private_error)?));
            Ok(true)
        })?;
        Ok(records)
    }

    /// [`Private::fetch`] on a thread of its own, for a caller on the runtime's threads
    /// (a view asked as of a moment, from an HTTP handler), which a long query would
    /// otherwise hold up.
    async fn fetch_off_the_runtime(&self, sql: &str, params: &[Param]) -> Result<Vec<Record>, sqlx::Error> {
        let (db, sql, params) = (self.clone(), sql.to_string(), params.to_vec());
        tokio::task::spawn_blocking(move || db.fetch(&sql, &params))
            .await
            .unwrap_or_else(|e| Err(sqlx::Error::AnyDriverError(Box::new(e))))
    }

    /// Runs a query and hands each of its rows to `each`, without gathering them; stops
    /// early when `each` says so (returns false).
    pub fn for_each_row(
        &self,
        sql: &str,
        params: &[Param],
        each: impl FnMut(&rusqlite::Row<'_>) -> Result<bool, sqlx::Error>,
    ) -> Result<(), sqlx::Error> {
        each_row(&self.connection(), sql, params, each)
    }
}

/// Runs `sql` on `conn` with `params` and hands each row to `each` until it says stop
/// (returns false).
fn each_row(
    conn: &rusqlite::Connection,
    sql: &str,
    params: &[Param],
    mut each: impl FnMut(&rusqlite::Row<'_>) -> Result<bool, sqlx::Error>,
) -> Result<(), sqlx::Error> {
    let mut statement = prepare(conn, sql, params)?;
    let mut rows = statement.raw_query();
    while let Some(row) = rows.next().map_err(private_error)? {
        if !each(row)? {
            break;
        }
    }
    Ok(())
}

impl PrivateTx {
    fn commit(mut self) -> Result<(), sqlx::Error> {
        self.db.connection().execute_batch("COMMIT").map_err(private_error)?;
        // Only now: a COMMIT that failed may leave the transaction open, for drop to end.
        self.open = false;
        Ok(())
    }
}

impl Drop for PrivateTx {
    fn drop(&mut self) {
        if self.open {
            let _ = self.db.connection().execute_batch("ROLLBACK");
        }
    }
}

/// `sql`, one statement (anything after the first is not run), prepared from the
/// connection's cache with `params` bound in order: as many as it has placeholders.
fn prepare<'c>(
    conn: &'c rusqlite::Connection,
    sql: &str,
    params: &[Param],
) -> Result<rusqlite::CachedStatement<'c>, sqlx::Error> {
    let mut statement = conn.prepare_cached(sql).map_err(private_error)?;
    if statement.parameter_count() != params.len() {
        return Err(sqlx::Error::InvalidArgument(format!(
            "{} values given for the {} placeholders of: {sql}",
            params.len(),
            statement.parameter_count()
        )));
    }
    for (i, param) in params.iter().enumerate() {
        let bound = match param {
            Param::Text(s) => statement.raw_bind_parameter(i + 1, s.as_str()),
            Param::Int(n) => statement.raw_bind_parameter(i + 1, n),
            Param::NullText | Param::NullInt => statement.raw_bind_parameter(i + 1, rusqlite::types::Null),
        };
        bound.map_err(private_error)?;
    }
    Ok(statement)
}

/// A value read from a private database as a [`Cell`], as sqlx's rows are read.
fn cell(value: rusqlite::types::ValueRef<'_>) -> Cell {
    use rusqlite::types::ValueRef;
    match value {
        ValueRef::Null => Cell::Null,
        ValueRef::Integer(n) => Cell::Int(n),
        ValueRef::Real(x) if x.fract() == 0.0 && x.abs() < 9.0e15 => Cell::Int(x as i64),
        ValueRef::Real(x) => Cell::Text(x.to_string()),
        ValueRef::Text(bytes) | ValueRef::Blob(bytes) => Cell::Text(String::from_utf8_lossy(bytes).into_owned()),
    }
}

/// A private database's error, as the rest of the crate's database errors.
pub(crate) fn private_error(error: rusqlite::Error) -> sqlx::Error {
    sqlx::Error::AnyDriverError(Box::new(error))
}

/// Rows for a multi-row statement ([`ViewTx::execute_rows`]), gathered while applying
/// events, keyed by what they write to: the last row given for a key replaces earlier
/// ones, so an `ON CONFLICT … DO UPDATE` never sees one key twice.
pub(crate) struct Keyed<K> {
    width: usize,
    at: HashMap<K, usize>,
    params: Vec<Param>,
}

impl<K: std::hash::Hash + Eq> Keyed<K> {
    pub(crate) fn new(width: usize) -> Self {
        Self { width, at: HashMap::new(), params: Vec::new() }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.params.is_empty()
    }

    pub(crate) fn set(&mut self, key: K, row: Vec<Param>) {
        debug_assert_eq!(row.len(), self.width);
        match self.at.get(&key) {
            Some(&i) => self.params.splice(i * self.width..(i + 1) * self.width, row).for_each(drop),
            None => {
                self.at.insert(key, self.params.len() / self.width);
                self.params.extend(row);
            }
        }
    }

    /// The rows, and an empty set for what follows.
    pub(crate) fn take(&mut self) -> Vec<Param> {
        self.at.clear();
        std::mem::take(&mut self.params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every row goes in, in as few statements as the sizes allow: one below
    /// [`EXACT_ROWS`], chunks of a power of four and one for the rest above.
    #[tokio::test]
    async fn execute_rows_writes_every_row_in_few_statements() {
        let pool = sqlx::sqlite::SqlitePoolOptions::new().max_connections(1).connect("sqlite::memory:").await.unwrap();
        sqlx::query("CREATE TABLE t (a integer PRIMARY KEY, b text)").execute(&pool).await.unwrap();
        let db = Db::Sqlite { write: pool.clone(), read: pool };
        for (rows, statements) in [(1, 1), (63, 1), (64, 1), (65, 2), (1_000, 7), (5_000, 10)] {
            let params: Vec<Param> = (0..rows).flat_map(|i| [Param::Int(i), Param::from(format!("row {i}"))]).collect();
            let mut tx = db.begin().await.unwrap();
            tx.execute("DELETE FROM t", &[]).await.unwrap();
            let sql = "INSERT INTO t (a, b) {rows}";
            assert_eq!(row_statements(&tx, sql, 2, &params).len(), statements, "statements for {rows} rows");
            assert_eq!(tx.execute_rows(sql, 2, &params).await.unwrap(), rows as u64);
            let stored = tx.fetch("SELECT count(*), sum(a), min(b), max(a) FROM t", &[]).await.unwrap();
            tx.commit().await.unwrap();
            let sum = rows * (rows - 1) / 2;
            assert_eq!((stored[0].int(0), stored[0].int(1), stored[0].int(3)), (rows, sum, rows - 1), "{rows} rows");
            assert_eq!(stored[0].text(2), "row 0");
        }
    }

    /// A private database's transaction keeps what it committed and nothing of what it
    /// dropped, and its rows read back as they were written, over the same SQL and
    /// multi-row statements as the service's databases.
    #[tokio::test]
    async fn a_private_transaction_keeps_what_it_committed_only() {
        let db = Db::Private(Private::create(None, 16).unwrap());
        let mut tx = db.begin().await.unwrap();
        tx.execute("CREATE TABLE t (a integer PRIMARY KEY, b text)", &[]).await.unwrap();
        let rows: Vec<Param> = (0..100).flat_map(|i| [Param::Int(i), Param::from(format!("row {i}"))]).collect();
        assert_eq!(tx.execute_rows("INSERT INTO t (a, b) {rows}", 2, &rows).await.unwrap(), 100);
        tx.commit().await.unwrap();

        let mut tx = db.begin().await.unwrap();
        tx.execute("INSERT INTO t (a, b) VALUES ($1, $2)", &[Param::Int(1_000), Param::NullText]).await.unwrap();
        assert_eq!(tx.fetch_int("SELECT count(*) FROM t", &[]).await.unwrap(), Some(101), "seen inside");
        drop(tx);

        let stored = db.fetch("SELECT count(*), sum(a), min(b), max(b) FROM t", &[]).await.unwrap();
        assert_eq!(
            stored[0].0,
            vec![Cell::Int(100), Cell::Int(4_950), Cell::Text("row 0".into()), Cell::Text("row 99".into())]
        );
        let picked = "SELECT a, b FROM t WHERE (a, b) IN ({rows}) ORDER BY a";
        let mut tx = db.begin().await.unwrap();
        let found =
            tx.fetch_rows(picked, 2, &[Param::Int(7), "row 7".into(), Param::Int(8), "row 9".into()]).await.unwrap();
        assert_eq!(found, vec![Record(vec![Cell::Int(7), Cell::Text("row 7".into())])]);
        assert_eq!(db.read_int("SELECT max(a) FROM t WHERE a < $1", &[Param::Int(50)]).await.unwrap(), Some(49));
    }
}
