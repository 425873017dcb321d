//! Work that one instance does at a time (a projection, the mailer, the scheduler): on
//! PostgreSQL, whoever holds the work's session advisory lock does it, and the others
//! stand by to take over when that instance dies (its session ends and the lock with
//! it). On SQLite there is one instance.

use std::future::Future;
use std::time::Duration;

use sqlx::Connection;

use crate::db::Db;
use crate::runner::lock_key;

/// Runs `round` every `every` for as long as the process lives, on PostgreSQL only while
/// this instance holds the lock named `name`.
pub async fn lead<F, Fut>(db: Db, name: &'static str, every: Duration, mut round: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    let Db::Postgres(pool) = &db else {
        loop {
            round().await;
            tokio::time::sleep(every).await;
        }
    };
    loop {
        let held = async {
            let mut session = sqlx::PgConnection::connect_with(&pool.connect_options()).await?;
            loop {
                let held: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
                    .bind(lock_key(name))
                    .fetch_one(&mut session)
                    .await?;
                if held {
                    break;
                }
                tokio::time::sleep(every).await;
            }
            tracing::info!(work = name, "this instance now does the work");
            loop {
                round().await;
                // The lock lives as long as the session: stop if the session is gone.
                sqlx::query("SELECT 1").execute(&mut session).await?;
                tokio::time::sleep(every).await;
            }
            #[allow(unreachable_code)]
            Ok::<(), sqlx::Error>(())
        };
        if let Err(e) = held.await {
            tracing::error!(work = name, error = %e, "lost the database session; trying again");
        }
        tokio::time::sleep(every).await;
    }
}
