//! Fan-out of committed changes to live-stream subscribers. One task tails the
//! change log (woken by every commit, and once a second for writes of other
//! processes such as the CLI) and broadcasts each change, serialised once, to
//! every subscriber; a subscriber keeps only its account's changes. One that
//! falls behind the broadcast catches up from the durable log, and one that is
//! too far behind (or asks for changes no longer kept) gets an explicit resync.

use crate::db::changes::{self, ChangeFilter, LoggedChange};
use crate::db::sql::Pool;
use crate::db::Db;
use model::{AccountPk, AppError, ChangeKind};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;

/// Tuning of the live stream.
#[derive(Clone, Copy, Debug)]
pub struct LiveOptions {
    /// How often an idle stream sends a heartbeat comment, so proxies keep it open.
    pub heartbeat: Duration,
    /// Changes the broadcast holds for subscribers that are momentarily slow.
    pub channel_capacity: usize,
    /// The most changes one subscriber is replayed before it is told to resync.
    pub max_replay: usize,
}

impl Default for LiveOptions {
    fn default() -> LiveOptions {
        LiveOptions {
            heartbeat: Duration::from_secs(15),
            channel_capacity: 4096,
            max_replay: 10_000,
        }
    }
}

/// Rows read from the change log per query.
const PAGE: i64 = 500;
/// How often the log is read even without a commit in this process.
const POLL: Duration = Duration::from_secs(1);

#[derive(Debug)]
pub struct Fanout {
    sender: broadcast::Sender<Arc<LoggedChange>>,
    db: Db,
    pub options: LiveOptions,
    shutdown: watch::Receiver<bool>,
}

impl Fanout {
    /// Starts the tailing task; it and every subscription end when `shutdown` turns true.
    pub async fn start(
        db: Db,
        options: LiveOptions,
        shutdown: watch::Receiver<bool>,
    ) -> Result<(Arc<Fanout>, JoinHandle<()>), AppError> {
        let (sender, _) = broadcast::channel(options.channel_capacity.max(1));
        let start = changes::head(&db.read).await?;
        let fanout = Arc::new(Fanout {
            sender: sender.clone(),
            db: db.clone(),
            options,
            shutdown: shutdown.clone(),
        });
        let task = tokio::spawn(tail(db, sender, start, shutdown));
        Ok((fanout, task))
    }

    /// Open subscriptions (live streams), for the operator's metrics.
    pub fn subscribers(&self) -> usize {
        self.sender.receiver_count()
    }

    /// A subscription to one account's changes that pass `filter`. With
    /// `last_seen`, everything after it is replayed first.
    pub async fn subscribe(
        &self,
        account_pk: AccountPk,
        filter: ChangeFilter,
        last_seen: Option<i64>,
    ) -> Result<Subscription, AppError> {
        // Subscribe before reading the log: whatever is committed after the read
        // then arrives through the broadcast, so nothing falls in between.
        let receiver = self.sender.subscribe();
        let head = changes::head(&self.db.read).await?;
        let mut subscription = Subscription {
            account_pk,
            filter,
            last_seq: head,
            receiver,
            backlog: VecDeque::new(),
            catching_up: false,
            replayed: 0,
            resync: None,
            pool: self.db.read.clone(),
            max_replay: self.options.max_replay,
            shutdown: self.shutdown.clone(),
        };
        if let Some(last_seen) = last_seen {
            let oldest = changes::oldest(&self.db.read).await?;
            let forgotten = oldest.is_some_and(|oldest| last_seen + 1 < oldest);
            if last_seen > head {
                subscription.resync = Some("unknown_event_id");
            } else if forgotten {
                subscription.resync = Some("too_old");
            } else {
                subscription.last_seq = last_seen;
                subscription.catching_up = true;
            }
        }
        Ok(subscription)
    }
}

/// Reads new committed changes and broadcasts them, in sequence order.
async fn tail(
    db: Db,
    sender: broadcast::Sender<Arc<LoggedChange>>,
    mut last: i64,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        if *shutdown.borrow() {
            return;
        }
        tokio::select! {
            _ = db.next_commit() => {}
            _ = tokio::time::sleep(POLL) => {}
            _ = shutdown.changed() => return,
        }
        loop {
            match changes::after(&db.read, last, PAGE).await {
                Ok(batch) => {
                    let full = batch.len() as i64 == PAGE;
                    if !batch.is_empty() {
                        // Possibly another process's write (the CLI's, say).
                        db.views().invalidate();
                    }
                    for change in batch {
                        last = change.seq;
                        // No subscriber is not an error: the change stays in the log.
                        let _ = sender.send(Arc::new(change));
                    }
                    if !full {
                        break;
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "live stream: cannot read the change log");
                    tokio::time::sleep(POLL).await;
                    break;
                }
            }
        }
    }
}

/// What a subscriber is sent next.
#[derive(Clone, Debug, PartialEq)]
pub enum Message {
    Change(Arc<LoggedChange>),
    /// A run's creation or update, to be sent as a `run.brief`.
    Brief(Arc<LoggedChange>),
    /// Reload everything, then follow on from `seq`; `reason` says why.
    Resync {
        seq: i64,
        reason: &'static str,
    },
}

/// One client's position in the change stream.
#[derive(Debug)]
pub struct Subscription {
    account_pk: AccountPk,
    filter: ChangeFilter,
    /// The last sequence number sent (or known to need no sending).
    last_seq: i64,
    receiver: broadcast::Receiver<Arc<LoggedChange>>,
    backlog: VecDeque<Arc<LoggedChange>>,
    /// Reading the durable log instead of the broadcast, after a gap.
    catching_up: bool,
    replayed: usize,
    resync: Option<&'static str>,
    pool: Pool,
    max_replay: usize,
    shutdown: watch::Receiver<bool>,
}

impl Subscription {
    /// The sequence number the subscription stands at.
    pub fn position(&self) -> i64 {
        self.last_seq
    }

    fn wants(&self, change: &LoggedChange) -> bool {
        change.account_pk == self.account_pk
            && change.seq > self.last_seq
            && self
                .filter
                .sends(change.run_id.as_deref(), change.kind)
                .is_some()
    }

    /// The next message; `None` when the server shuts down or the log cannot be read.
    pub async fn next(&mut self) -> Option<Message> {
        loop {
            if *self.shutdown.borrow() {
                return None;
            }
            if let Some(reason) = self.resync.take() {
                return self.resync_now(reason).await;
            }
            if let Some(change) = self.backlog.pop_front() {
                self.last_seq = change.seq;
                let sent_as = self.filter.sends(change.run_id.as_deref(), change.kind);
                return Some(if sent_as == Some(ChangeKind::RunBrief) {
                    Message::Brief(change)
                } else {
                    Message::Change(change)
                });
            }
            if self.catching_up {
                let missed = match changes::for_account_after(
                    &self.pool,
                    self.account_pk,
                    &self.filter,
                    self.last_seq,
                    PAGE,
                )
                .await
                {
                    Ok(missed) => missed,
                    Err(error) => {
                        tracing::warn!(%error, "live stream: cannot replay the change log");
                        return None;
                    }
                };
                if self.replayed + missed.len() > self.max_replay {
                    return self.resync_now("too_far_behind").await;
                }
                self.replayed += missed.len();
                if (missed.len() as i64) < PAGE {
                    self.catching_up = false;
                    self.replayed = 0;
                }
                self.backlog.extend(missed.into_iter().map(Arc::new));
                continue;
            }
            tokio::select! {
                received = self.receiver.recv() => match received {
                    Ok(change) => {
                        if self.wants(&change) {
                            self.backlog.push_back(change);
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => self.catching_up = true,
                    Err(broadcast::error::RecvError::Closed) => return None,
                },
                _ = self.shutdown.changed() => return None,
            }
        }
    }

    /// Skips to the head of the log and says so.
    async fn resync_now(&mut self, reason: &'static str) -> Option<Message> {
        let head = match changes::head(&self.pool).await {
            Ok(head) => head,
            Err(error) => {
                tracing::warn!(%error, "live stream: cannot read the change log");
                return None;
            }
        };
        self.backlog.clear();
        self.catching_up = false;
        self.replayed = 0;
        self.last_seq = head;
        Some(Message::Resync { seq: head, reason })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use model::{ChangeData, Resync};

    async fn database() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/live.db", dir.path().display());
        let db = Db::connect(&url).await.unwrap();
        (dir, db)
    }

    async fn commit_changes(db: &Db, account_pk: AccountPk, count: usize) {
        for index in 0..count {
            let mut tx = db.begin_write().await.unwrap();
            changes::record(
                &mut tx,
                account_pk,
                None,
                &ChangeData::Resync(Resync {
                    reason: format!("change {index}"),
                }),
            )
            .await
            .unwrap();
            tx.commit().await.unwrap();
        }
    }

    fn seqs(messages: &[Message]) -> Vec<i64> {
        messages
            .iter()
            .filter_map(|message| match message {
                Message::Change(change) | Message::Brief(change) => Some(change.seq),
                Message::Resync { .. } => None,
            })
            .collect()
    }

    async fn next(subscription: &mut Subscription) -> Message {
        tokio::time::timeout(Duration::from_secs(5), subscription.next())
            .await
            .unwrap()
            .unwrap()
    }

    async fn commit_deletions(db: &Db, account_pk: AccountPk, count: usize) {
        let mut tx = db.begin_write().await.unwrap();
        for _ in 0..count {
            let id = uuid::Uuid::now_v7();
            let change = ChangeData::RunDeleted(model::DeletedRun { id });
            changes::record(&mut tx, account_pk, Some(id), &change)
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
    }

    #[tokio::test]
    async fn a_subscriber_gets_only_the_kinds_it_follows_live_and_in_replay() {
        let (_dir, db) = database().await;
        let (_stop, stopped) = watch::channel(false);
        let (fanout, _task) = Fanout::start(db.clone(), LiveOptions::default(), stopped)
            .await
            .unwrap();
        let created_only = ChangeFilter {
            run_id: None,
            kinds: Some(vec![model::ChangeKind::RunCreated]),
        };
        // Live: deletions pass by, a resync gets through.
        let mut live = fanout
            .subscribe(AccountPk(1), created_only.clone(), None)
            .await
            .unwrap();
        commit_deletions(&db, AccountPk(1), 3).await;
        commit_changes(&db, AccountPk(1), 1).await;
        assert_eq!(seqs(&[next(&mut live).await]), vec![4]);
        // Replay from the start: more than a page of deletions is skipped in the
        // log itself, and the replay goes on past them to the resync.
        commit_deletions(&db, AccountPk(1), PAGE as usize + 100).await;
        commit_changes(&db, AccountPk(1), 1).await;
        let mut replay = fanout
            .subscribe(AccountPk(1), created_only, Some(0))
            .await
            .unwrap();
        let last = 4 + PAGE + 100 + 1;
        assert_eq!(
            seqs(&[next(&mut replay).await, next(&mut replay).await]),
            vec![4, last]
        );
        // Without a filter, everything.
        let mut all = fanout
            .subscribe(AccountPk(1), ChangeFilter::default(), Some(0))
            .await
            .unwrap();
        assert_eq!(seqs(&[next(&mut all).await]), vec![1]);
    }

    #[tokio::test]
    async fn a_subscriber_that_lags_catches_up_from_the_log_without_a_gap() {
        let (_dir, db) = database().await;
        let options = LiveOptions {
            channel_capacity: 4,
            ..LiveOptions::default()
        };
        let (_stop, stopped) = watch::channel(false);
        let (fanout, _task) = Fanout::start(db.clone(), options, stopped).await.unwrap();
        let mut subscription = fanout
            .subscribe(AccountPk(1), ChangeFilter::default(), None)
            .await
            .unwrap();
        commit_changes(&db, AccountPk(1), 100).await;
        commit_changes(&db, AccountPk(2), 10).await;
        // Let the broadcast overrun the subscriber's four places.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let mut messages = Vec::new();
        for _ in 0..100 {
            messages.push(next(&mut subscription).await);
        }
        assert_eq!(seqs(&messages), (1..=100).collect::<Vec<i64>>());
    }

    #[tokio::test]
    async fn a_subscriber_too_far_behind_is_told_to_resync_then_follows_on() {
        let (_dir, db) = database().await;
        let options = LiveOptions {
            channel_capacity: 4,
            max_replay: 20,
            ..LiveOptions::default()
        };
        let (_stop, stopped) = watch::channel(false);
        let (fanout, _task) = Fanout::start(db.clone(), options, stopped).await.unwrap();
        let mut subscription = fanout
            .subscribe(AccountPk(1), ChangeFilter::default(), None)
            .await
            .unwrap();
        commit_changes(&db, AccountPk(1), 50).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(
            next(&mut subscription).await,
            Message::Resync {
                seq: 50,
                reason: "too_far_behind"
            }
        );
        commit_changes(&db, AccountPk(1), 2).await;
        let after = vec![next(&mut subscription).await, next(&mut subscription).await];
        assert_eq!(seqs(&after), vec![51, 52]);
    }

    #[tokio::test]
    async fn a_reconnecting_subscriber_is_replayed_what_it_missed() {
        let (_dir, db) = database().await;
        let (_stop, stopped) = watch::channel(false);
        let (fanout, _task) = Fanout::start(db.clone(), LiveOptions::default(), stopped)
            .await
            .unwrap();
        commit_changes(&db, AccountPk(1), 5).await;
        let mut subscription = fanout
            .subscribe(AccountPk(1), ChangeFilter::default(), Some(2))
            .await
            .unwrap();
        commit_changes(&db, AccountPk(1), 1).await;
        let mut messages = Vec::new();
        for _ in 0..4 {
            messages.push(next(&mut subscription).await);
        }
        assert_eq!(seqs(&messages), vec![3, 4, 5, 6]);
    }

    #[tokio::test]
    async fn shutdown_ends_subscriptions() {
        let (_dir, db) = database().await;
        let (stop, stopped) = watch::channel(false);
        let (fanout, task) = Fanout::start(db.clone(), LiveOptions::default(), stopped)
            .await
            .unwrap();
        let mut subscription = fanout
            .subscribe(AccountPk(1), ChangeFilter::default(), None)
            .await
            .unwrap();
        stop.send(true).unwrap();
        assert_eq!(subscription.next().await, None);
        tokio::time::timeout(Duration::from_secs(2), task)
            .await
            .unwrap()
            .unwrap();
    }
}
