//! Work that one server at a time should do is done under a named lease: a
//! retention pass (two at once would each report what they removed) and the
//! bulk jobs' walk (two workers on one job would both apply its next batch).
//! Several servers share a PostgreSQL database; each takes a lease before such
//! work and renews it while working. A lease that is not renewed runs out, so
//! the work passes to another server when its holder stops or dies.
//!
//! A SQLite database has one server (its lock file sees to that), so there a
//! lease is always held and the database is not asked.

use super::{millis, now_ms, Db};
use crate::db::sql;
use model::AppError;
use std::time::{Duration, Instant};

/// One server's claim on the work named `name`.
#[derive(Debug)]
pub struct Lease {
    name: &'static str,
    /// How long a taken lease lasts without renewal.
    lasts: Duration,
    /// When this server last took or renewed it.
    renewed: Option<Instant>,
}

impl Lease {
    pub fn new(name: &'static str, lasts: Duration) -> Lease {
        Lease {
            name,
            lasts,
            renewed: None,
        }
    }

    /// Whether this server holds the lease now: it takes the lease when it is
    /// free (never taken, run out, or already its own) and renews its own once a
    /// third of its time has passed, so a worker can call this before each step.
    pub async fn hold(&mut self, db: &Db) -> Result<bool, AppError> {
        if !db.is_shared() {
            return Ok(true);
        }
        let fresh = self
            .renewed
            .is_some_and(|renewed| renewed.elapsed() < self.lasts / 3);
        if fresh {
            return Ok(true);
        }
        let asked = Instant::now();
        let taken = take(db, self.name, db.instance(), self.lasts).await?;
        self.renewed = taken.then_some(asked);
        Ok(taken)
    }

    /// Gives the lease up, so another server need not wait for it to run out.
    pub async fn release(&mut self, db: &Db) -> Result<(), AppError> {
        if self.renewed.take().is_some() && db.is_shared() {
            let mut tx = db.begin_write().await?;
            sql::query("DELETE FROM leases WHERE name = ? AND holder = ?")
                .bind(self.name)
                .bind(db.instance())
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        }
        Ok(())
    }
}

/// Takes or renews the lease `name` for `holder` until `lasts` from now, unless
/// another holder's lease is still running; returns whether it is `holder`'s.
pub async fn take(db: &Db, name: &str, holder: &str, lasts: Duration) -> Result<bool, AppError> {
    let now = now_ms();
    let until = now.saturating_add(millis(lasts));
    let mut tx = db.begin_write().await?;
    let taken = sql::query(
        "INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
         WHERE leases.holder = excluded.holder OR leases.expires_at <= ?",
    )
    .bind(name)
    .bind(holder)
    .bind(until)
    .bind(now)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    tx.commit().await?;
    Ok(taken)
}
