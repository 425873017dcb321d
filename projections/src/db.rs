//! The database the views live in (the event log's), and a transaction that speaks to
//! either backend with the same SQL: `$1, $2, …` placeholders, first used in ascending
//! order (SQLite numbers `$N` parameters by first appearance), integers and text only.

use sqlx::{PgPool, Postgres, Sqlite, SqlitePool, Transaction};

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

impl ViewTx {
    /// Runs a statement.
    pub async fn execute(&mut self, sql: &str, params: &[Param]) -> Result<u64, sqlx::Error> {
        Ok(match self {
            ViewTx::Postgres(tx) => bind_all!(sqlx::query(sql), params).execute(&mut **tx).await?.rows_affected(),
            ViewTx::Sqlite(tx) => bind_all!(sqlx::query(sql), params).execute(&mut **tx).await?.rows_affected(),
        })
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
