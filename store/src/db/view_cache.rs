//! Dashboard reads kept until the next committed write.
//!
//! Between two writes a dashboard asks the same questions again and again: who is
//! signed in, the runs list's page, counts and chart for a filter, the agents and
//! campaigns its forms offer. Every open tab asks again after each live change.
//! Here each answer is read once per write instead of once per request.
//!
//! An entry is served only while no write has committed since its read *began*
//! (the generation is taken before the read, so a read that overlaps a commit is
//! never served again), and for at most [`MAX_AGE`], which bounds how stale a
//! clock-dependent answer (today's bar of the chart) can be. Every write of this
//! process goes through [`WriteTx::commit`](super::WriteTx::commit), which calls
//! [`ViewCache::invalidate`] before the write's response can leave; writes of
//! another process on the same file are seen by the live stream's tail, which
//! invalidates too, within a second. Measured in docs/performance.md ("Scale
//! benchmark": the server-rendered runs list).

use model::AccountPk;
use std::any::Any;
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The longest an answer is served, even when nothing was written.
pub const MAX_AGE: Duration = Duration::from_secs(10);
/// Entries kept at most; past it, the stale ones go, then all.
const MAX_ENTRIES: usize = 1024;

/// What was asked: the kind of answer, for which account, with which details
/// (a filter's query string, a user's key).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ViewKey {
    kind: &'static str,
    account_pk: AccountPk,
    detail: String,
}

impl ViewKey {
    pub fn new(kind: &'static str, account_pk: AccountPk, detail: impl Into<String>) -> ViewKey {
        ViewKey {
            kind,
            account_pk,
            detail: detail.into(),
        }
    }
}

struct Entry {
    generation: u64,
    stored_at: Instant,
    value: Arc<dyn Any + Send + Sync>,
}

pub struct ViewCache {
    /// Bumped by every committed write.
    generation: AtomicU64,
    max_age: Duration,
    entries: Mutex<HashMap<ViewKey, Entry>>,
}

impl std::fmt::Debug for ViewCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ViewCache")
            .field("generation", &self.generation.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Default for ViewCache {
    fn default() -> ViewCache {
        ViewCache::with_max_age(MAX_AGE)
    }
}

impl ViewCache {
    pub fn with_max_age(max_age: Duration) -> ViewCache {
        ViewCache {
            generation: AtomicU64::new(0),
            max_age,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// Something was committed: no answer read before now is served again.
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// The answer read since the last write, or `load`'s, which is kept.
    pub async fn get_or_load<T, E, Fut>(
        &self,
        key: ViewKey,
        load: impl FnOnce() -> Fut,
    ) -> Result<T, E>
    where
        T: Clone + Send + Sync + 'static,
        Fut: Future<Output = Result<T, E>>,
    {
        let generation = self.generation.load(Ordering::Acquire);
        if let Some(value) = self.fresh::<T>(&key, generation) {
            return Ok(value);
        }
        let value = load().await?;
        self.keep(key, generation, Arc::new(value.clone()));
        Ok(value)
    }

    fn fresh<T: Clone + 'static>(&self, key: &ViewKey, generation: u64) -> Option<T> {
        let entries = self
            .entries
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        let entry = entries.get(key)?;
        if entry.generation != generation || entry.stored_at.elapsed() > self.max_age {
            return None;
        }
        entry.value.downcast_ref::<T>().cloned()
    }

    fn keep(&self, key: ViewKey, generation: u64, value: Arc<dyn Any + Send + Sync>) {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        if entries.len() >= MAX_ENTRIES {
            let current = self.generation.load(Ordering::Acquire);
            let max_age = self.max_age;
            entries.retain(|_, entry| {
                entry.generation == current && entry.stored_at.elapsed() <= max_age
            });
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(
            key,
            Entry {
                generation,
                stored_at: Instant::now(),
                value,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    /// Loads `key` through the cache, counting the reads that reach `source`.
    async fn read(cache: &ViewCache, key: &str, source: &AtomicUsize) -> usize {
        cache
            .get_or_load(ViewKey::new("test", AccountPk(1), key), || async {
                Ok::<_, ()>(source.fetch_add(1, Ordering::SeqCst) + 1)
            })
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn an_answer_is_served_until_the_next_write() {
        let cache = ViewCache::default();
        let reads = AtomicUsize::new(0);
        assert_eq!(read(&cache, "a", &reads).await, 1);
        assert_eq!(read(&cache, "a", &reads).await, 1, "served from memory");
        assert_eq!(
            read(&cache, "b", &reads).await,
            2,
            "another question is read"
        );
        cache.invalidate();
        assert_eq!(
            read(&cache, "a", &reads).await,
            3,
            "read again after a write"
        );
        assert_eq!(read(&cache, "a", &reads).await, 3);
    }

    #[tokio::test]
    async fn a_read_that_overlaps_a_write_is_not_served_again() {
        let cache = ViewCache::default();
        let key = ViewKey::new("test", AccountPk(1), "a");
        let value: Result<&str, ()> = cache
            .get_or_load(key.clone(), || async {
                // The write commits while this read is under way.
                cache.invalidate();
                Ok("read during the write")
            })
            .await;
        assert_eq!(value, Ok("read during the write"));
        let again: Result<&str, ()> = cache
            .get_or_load(key, || async { Ok("read after the write") })
            .await;
        assert_eq!(again, Ok("read after the write"));
    }

    #[tokio::test]
    async fn accounts_and_kinds_are_kept_apart_and_failures_are_not_kept() {
        let cache = ViewCache::default();
        let one: Result<i64, ()> = cache
            .get_or_load(ViewKey::new("runs", AccountPk(1), "q"), || async { Ok(1) })
            .await;
        let two: Result<i64, ()> = cache
            .get_or_load(ViewKey::new("runs", AccountPk(2), "q"), || async { Ok(2) })
            .await;
        let other_kind: Result<i64, ()> = cache
            .get_or_load(ViewKey::new("users", AccountPk(1), "q"), || async { Ok(3) })
            .await;
        assert_eq!((one, two, other_kind), (Ok(1), Ok(2), Ok(3)));
        let failed: Result<i64, &str> = cache
            .get_or_load(ViewKey::new("runs", AccountPk(3), "q"), || async {
                Err("down")
            })
            .await;
        assert_eq!(failed, Err("down"));
        let retried: Result<i64, &str> = cache
            .get_or_load(ViewKey::new("runs", AccountPk(3), "q"), || async { Ok(4) })
            .await;
        assert_eq!(retried, Ok(4));
    }

    #[tokio::test]
    async fn an_answer_older_than_the_max_age_is_read_again() {
        let cache = ViewCache::with_max_age(Duration::from_millis(20));
        let reads = AtomicUsize::new(0);
        assert_eq!(read(&cache, "a", &reads).await, 1);
        tokio::time::sleep(Duration::from_millis(40)).await;
        assert_eq!(read(&cache, "a", &reads).await, 2);
    }

    #[tokio::test]
    async fn the_number_of_entries_is_bounded() {
        let cache = ViewCache::default();
        let reads = AtomicUsize::new(0);
        for n in 0..(MAX_ENTRIES * 2) {
            read(&cache, &n.to_string(), &reads).await;
        }
        let kept = cache.entries.lock().unwrap().len();
        assert!(kept <= MAX_ENTRIES, "{kept} entries kept");
    }
}
