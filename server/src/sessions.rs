//! Sessions: stored in the database (they survive a restart) and kept in memory,
//! so a page view does not read its session from the database again. On one
//! server every session change goes through this process's store (login,
//! logout, expiry renewal), so the copy in memory is the stored one. Servers
//! sharing a database each keep their own copy, which does not hear of a
//! logout on another server: there a copy is read again from the database
//! once it is [`SHARED_MAX_AGE`] old, which bounds how long a session ended
//! elsewhere still opens pages here. A page view had read its
//! session on the single writer connection, queued behind ingest
//! (docs/performance.md, "Scale benchmark").
//!
//! The stored half is [`DatabaseSessions`], the `tower_sessions` table through
//! the store's queries, so that it works on either database.

use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use store::db::sql::{self, Pool};
use tower_sessions::cookie::time::OffsetDateTime;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};
use tower_sessions::CachingSessionStore;

/// Sessions kept in memory at most; past it, the expired ones go, then all (they
/// are read back from SQLite on their next request).
const MAX_SESSIONS: usize = 10_000;

/// How long a session's copy in memory is used on a database that other
/// servers share: as long as a kept dashboard read ([`store::db::view_cache::MAX_AGE`]).
pub const SHARED_MAX_AGE: Duration = store::db::view_cache::MAX_AGE;

/// The session store the server uses: the database behind an in-memory copy.
pub type Sessions = CachingSessionStore<MemorySessions, DatabaseSessions>;

/// `shared`: whether other servers use the same database ([`store::db::Db::is_shared`]).
pub fn store(stored: DatabaseSessions, shared: bool) -> Sessions {
    let memory = MemorySessions {
        max_age: shared.then_some(SHARED_MAX_AGE),
        ..MemorySessions::default()
    };
    CachingSessionStore::new(memory, stored)
}

/// The sessions in the database's `tower_sessions` table: the record as
/// MessagePack (as tower-sessions' own SQL stores keep it) and its expiry in
/// Unix seconds.
#[derive(Clone, Debug)]
pub struct DatabaseSessions {
    pool: Pool,
}

impl DatabaseSessions {
    pub fn new(pool: Pool) -> DatabaseSessions {
        DatabaseSessions { pool }
    }

    /// Deletes the expired sessions every `period`, for as long as the pool is open.
    pub async fn delete_expired_every(self, period: std::time::Duration) {
        let mut every = tokio::time::interval(period);
        loop {
            every.tick().await;
            if self.pool.is_closed() {
                return;
            }
            let deleted = sql::query("DELETE FROM tower_sessions WHERE expiry_date < ?")
                .bind(OffsetDateTime::now_utc().unix_timestamp())
                .execute(&self.pool)
                .await;
            if let Err(error) = deleted {
                tracing::warn!(%error, "deleting expired sessions failed");
            }
        }
    }

    /// Stores `record` under a new id; `false` when the id is taken.
    async fn insert(&self, record: &Record) -> session_store::Result<bool> {
        let insert = sql::query(
            "INSERT INTO tower_sessions (id, data, expiry_date) VALUES (?, ?, ?)
             ON CONFLICT (id) DO NOTHING",
        );
        let done = write(insert, record, &self.pool).await?;
        Ok(done.rows_affected() == 1)
    }
}

/// Runs `insert`, a statement taking `(id, data, expiry_date)`, for `record`.
async fn write(
    insert: sql::Query,
    record: &Record,
    pool: &Pool,
) -> session_store::Result<sql::Done> {
    insert
        .bind(record.id.to_string())
        .bind(encode(record)?)
        .bind(record.expiry_date.unix_timestamp())
        .execute(pool)
        .await
        .map_err(backend)
}

fn encode(record: &Record) -> session_store::Result<Vec<u8>> {
    rmp_serde::to_vec(record).map_err(|error| session_store::Error::Encode(error.to_string()))
}

fn backend(error: sqlx::Error) -> session_store::Error {
    session_store::Error::Backend(error.to_string())
}

#[async_trait]
impl SessionStore for DatabaseSessions {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        while !self.insert(record).await? {
            record.id = Id::default();
        }
        Ok(())
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let upsert = sql::query(
            "INSERT INTO tower_sessions (id, data, expiry_date) VALUES (?, ?, ?)
             ON CONFLICT (id) DO UPDATE SET data = excluded.data, expiry_date = excluded.expiry_date",
        );
        write(upsert, record, &self.pool).await?;
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let data: Option<Vec<u8>> =
            sql::query_scalar("SELECT data FROM tower_sessions WHERE id = ? AND expiry_date > ?")
                .bind(id.to_string())
                .bind(OffsetDateTime::now_utc().unix_timestamp())
                .fetch_optional(&self.pool)
                .await
                .map_err(backend)?;
        data.map(|data| {
            rmp_serde::from_slice(&data)
                .map_err(|error| session_store::Error::Decode(error.to_string()))
        })
        .transpose()
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        sql::query("DELETE FROM tower_sessions WHERE id = ?")
            .bind(id.to_string())
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }
}

/// The in-memory half: a bounded map of the sessions recently used, each with
/// when it was kept.
#[derive(Clone, Debug, Default)]
pub struct MemorySessions {
    records: Arc<Mutex<HashMap<Id, (Record, Instant)>>>,
    /// How long a kept copy is used; `None`: until it changes here.
    max_age: Option<Duration>,
}

impl MemorySessions {
    fn records(&self) -> std::sync::MutexGuard<'_, HashMap<Id, (Record, Instant)>> {
        self.records
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }
}

#[async_trait]
impl SessionStore for MemorySessions {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        // The SQLite store created it first (and settled any id collision).
        self.save(record).await
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let mut records = self.records();
        if records.len() >= MAX_SESSIONS && !records.contains_key(&record.id) {
            let now = OffsetDateTime::now_utc();
            records.retain(|_, (kept, _)| kept.expiry_date > now);
            if records.len() >= MAX_SESSIONS {
                records.clear();
            }
        }
        records.insert(record.id, (record.clone(), Instant::now()));
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let mut records = self.records();
        let current = |kept: &Instant| self.max_age.is_none_or(|age| kept.elapsed() < age);
        match records.get(id) {
            Some((record, kept))
                if record.expiry_date > OffsetDateTime::now_utc() && current(kept) =>
            {
                Ok(Some(record.clone()))
            }
            Some(_) => {
                records.remove(id);
                Ok(None)
            }
            None => Ok(None),
        }
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.records().remove(id);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower_sessions::cookie::time::Duration;

    fn record(id: i128, expires_in: Duration) -> Record {
        Record {
            id: Id(id),
            data: Default::default(),
            expiry_date: OffsetDateTime::now_utc() + expires_in,
        }
    }

    #[tokio::test]
    async fn saved_sessions_load_until_they_expire_or_are_deleted() {
        let memory = MemorySessions::default();
        memory.save(&record(1, Duration::hours(1))).await.unwrap();
        memory
            .save(&record(2, Duration::seconds(-1)))
            .await
            .unwrap();
        memory.save(&record(3, Duration::hours(1))).await.unwrap();
        let one = memory.load(&Id(1)).await.unwrap().expect("kept");
        assert_eq!(one.id, Id(1));
        assert_eq!(memory.load(&Id(2)).await.unwrap(), None, "expired");
        memory.delete(&Id(3)).await.unwrap();
        assert_eq!(memory.load(&Id(3)).await.unwrap(), None, "deleted");
        assert_eq!(memory.load(&Id(4)).await.unwrap(), None, "never saved");
    }

    #[tokio::test]
    async fn on_a_shared_database_a_copy_is_used_only_while_young() {
        let memory = MemorySessions {
            max_age: Some(std::time::Duration::from_millis(200)),
            ..MemorySessions::default()
        };
        memory.save(&record(1, Duration::hours(1))).await.unwrap();
        assert!(memory.load(&Id(1)).await.unwrap().is_some(), "young");
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        assert_eq!(
            memory.load(&Id(1)).await.unwrap(),
            None,
            "read again from the database"
        );
    }

    #[tokio::test]
    async fn the_number_kept_is_bounded() {
        let memory = MemorySessions::default();
        for id in 0..(MAX_SESSIONS as i128 + 10) {
            memory.save(&record(id, Duration::hours(1))).await.unwrap();
        }
        assert!(memory.records().len() <= MAX_SESSIONS);
        let last = MAX_SESSIONS as i128 + 9;
        assert!(
            memory.load(&Id(last)).await.unwrap().is_some(),
            "the newest is kept"
        );
    }
}
