//! The database the views live in (the event log's), and a transaction that speaks to
//! either backend with the same SQL: `$1, $2, …` placeholders, first used in ascending
//! order (SQLite numbers `$N` parameters by first appearance), integers and text only.

use sqlx::{PgPool, Postgres, Row, Sqlite, SqlitePool, Transaction};

/// Most rows [`ViewTx::insert_rows`] puts in one statement.
pub const MAX_ROWS_PER_STATEMENT: usize = 1_024;

/// Bound parameters per statement that both backends accept (SQLite's limit is 32,766,
/// PostgreSQL's 65,535).
const MAX_BOUND_PARAMETERS: usize = 32_766;

/// The event log's database.
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
}

/// A bound parameter.
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
        Param::Text(s.to_string())
    }
}

impl From<String> for Param {
    fn from(s: String) -> Self {
        Param::Text(s)
    }
}

impl From<i64> for Param {
    fn from(i: i64) -> Self {
        Param::Int(i)
    }
}

impl From<Option<String>> for Param {
    fn from(s: Option<String>) -> Self {
        s.map_or(Param::NullText, Param::Text)
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

impl Db {
    /// Starts a view transaction (on SQLite, on the writer connection).
    pub async fn begin(&self) -> Result<ViewTx, sqlx::Error> {
        Ok(match self {
            Db::Postgres(pool) => ViewTx::Postgres(pool.begin().await?),
            Db::Sqlite { write, .. } => ViewTx::Sqlite(write.begin().await?),
        })
    }
}

impl Db {
    /// Reads one optional integer outside any transaction (on SQLite, from a reader, so
    /// the one writer stays free for appends).
    pub async fn read_int(&self, sql: &str, params: &[Param]) -> Result<Option<i64>, sqlx::Error> {
        Ok(match self {
            Db::Postgres(pool) => bind_all!(sqlx::query_scalar::<_, i64>(sql), params).fetch_optional(pool).await?,
            Db::Sqlite { read, .. } => {
                bind_all!(sqlx::query_scalar::<_, i64>(sql), params).fetch_optional(read).await?
            }
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
        })
    }
}

impl ViewTx {
    /// Runs a query inside the transaction and returns its rows.
    pub async fn fetch(&mut self, sql: &str, params: &[Param]) -> Result<Vec<Record>, sqlx::Error> {
        Ok(match self {
            ViewTx::Postgres(tx) => {
                bind_all!(sqlx::query(sql), params).fetch_all(&mut **tx).await?.iter().map(record).collect()
            }
            ViewTx::Sqlite(tx) => {
                bind_all!(sqlx::query(sql), params).fetch_all(&mut **tx).await?.iter().map(record).collect()
            }
        })
    }

    /// Runs a statement.
    pub async fn execute(&mut self, sql: &str, params: &[Param]) -> Result<u64, sqlx::Error> {
        Ok(match self {
            ViewTx::Postgres(tx) => bind_all!(sqlx::query(sql), params).execute(&mut **tx).await?.rows_affected(),
            ViewTx::Sqlite(tx) => bind_all!(sqlx::query(sql), params).execute(&mut **tx).await?.rows_affected(),
        })
    }

    /// Inserts many rows with as few statements as the backends allow: `head` is
    /// `INSERT INTO table (col, …) VALUES`, `tail` what follows the rows (an `ON
    /// CONFLICT` clause, or ""), `params` the rows' values one row after another, `width`
    /// to a row. Rows go in order; a statement takes a power-of-two number of rows (at
    /// most [`MAX_ROWS_PER_STATEMENT`], and never more than the bound-parameter limits:
    /// PostgreSQL's 65,535, SQLite's 32,766), so each backend prepares and caches only a
    /// handful of distinct statements. Returns the rows affected.
    ///
    /// An `ON CONFLICT … DO UPDATE` statement must not see one key twice (PostgreSQL
    /// refuses it): the caller keeps keys distinct.
    pub async fn insert_rows(
        &mut self,
        head: &str,
        tail: &str,
        width: usize,
        params: &[Param],
    ) -> Result<u64, sqlx::Error> {
        assert!(width > 0 && params.len() % width == 0, "insert_rows: {} values do not make rows of {width}", params.len());
        let most = (MAX_BOUND_PARAMETERS / width).clamp(1, MAX_ROWS_PER_STATEMENT);
        let mut rows_left = params.len() / width;
        let mut start = 0;
        let mut affected = 0;
        while rows_left > 0 {
            // The largest power of two that fits.
            let rows = 1usize << (usize::BITS - 1 - rows_left.min(most).leading_zeros());
            let mut sql = String::with_capacity(head.len() + tail.len() + rows * width * 6);
            sql.push_str(head);
            for row in 0..rows {
                sql.push_str(if row == 0 { " (" } else { ", (" });
                for column in 0..width {
                    if column > 0 {
                        sql.push_str(", ");
                    }
                    sql.push('$');
                    sql.push_str(&(row * width + column + 1).to_string());
                }
                sql.push(')');
            }
            sql.push_str(tail);
            let end = start + rows * width;
            affected += self.execute(&sql, &params[start..end]).await?;
            start = end;
            rows_left -= rows;
        }
        Ok(affected)
    }

    /// Reads one optional integer (e.g. a checkpoint).
    pub async fn fetch_int(&mut self, sql: &str, params: &[Param]) -> Result<Option<i64>, sqlx::Error> {
        Ok(match self {
            ViewTx::Postgres(tx) => {
                bind_all!(sqlx::query_scalar::<_, i64>(sql), params).fetch_optional(&mut **tx).await?
            }
            ViewTx::Sqlite(tx) => {
                bind_all!(sqlx::query_scalar::<_, i64>(sql), params).fetch_optional(&mut **tx).await?
            }
        })
    }

    /// Commits.
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            ViewTx::Postgres(tx) => tx.commit().await,
            ViewTx::Sqlite(tx) => tx.commit().await,
        }
    }
}
