//! Pruning by each account's retention policy, in transactions small enough
//! that the single writer is never held for long: ingest goes on while a
//! backlog of a million runs is removed. The server runs a pass every few
//! minutes and at start; `runboard prune` runs one, or with `--dry-run` only
//! says what one would remove ([`dry_run`], the same conditions counted).
//!
//! A pass, for every agent of every account with a policy: deletes the runs
//! that ended too long ago (failed ones by their own days), then removes the
//! events and the artifacts of runs whose own days for those are up, leaving a
//! note in each log; then trims the change log to a day and deletes the stored
//! files of removed artifacts. While it deletes from the full-text indexes,
//! FTS5's automatic merging is off and the pass does that merge work itself,
//! in steps of its own size. Each kind of write has a [`Batcher`] that sizes
//! its transactions from the hold times it measures, to stay well under
//! [`MAX_HOLD`]; after each transaction the pass pauses about as long as it held
//! the writer, so other writers always get their turn.
//!
//! Files: an artifact's key goes to `storage_trash` in the transaction that
//! deletes its row; the file is deleted after the commit, and the key forgotten
//! after that. A crash in between leaves keys for the next pass, never a row
//! whose file is gone.

use crate::db::prune::{self, AgentCutoffs, Candidate, Kind, Position, Written};
use crate::db::stats::{self, StoredCensus};
use crate::db::{changes, from_ms, retention, Db};
use crate::storage::Store;
use model::{
    AccountPk, AppError, PruneCounts, PrunePreview, PruneReport, RetentionDays, RetentionPolicy,
    RunPk, StorageReport,
};
use std::time::Duration;
use tokio::sync::watch;

/// The longest a pruning transaction may hold the writer.
pub const MAX_HOLD: Duration = Duration::from_millis(50);

/// What batches aim at: a fifth of [`MAX_HOLD`]. A transaction's hold varies
/// around what its size predicts (pages not in the cache, the text indexes'
/// flushes), measured up to about four times.
pub const TARGET_HOLD: Duration = Duration::from_millis(10);

/// The most pages one step of merging a text index asks for.
pub const MAX_MERGE_PAGES: i64 = 200;

/// Candidates read per query.
const PAGE: i64 = 1_000;

/// Trashed files handled per transaction.
const FILES_PER_BATCH: i64 = 100;

/// Runs per kind and agent the storage page's preview counts at most, so that
/// the page reads a bounded number of runs' events whatever the backlog.
pub const PREVIEW_CAP: i64 = 1_000;

/// Sizes a kind of transaction, in rows, from the hold times it measures: it
/// starts small, grows while transactions are quick, and shrinks at once when
/// one takes long, always towards [`TARGET_HOLD`].
#[derive(Clone, Copy, Debug)]
pub struct Batcher {
    rows: i64,
    min: i64,
    max: i64,
    target: Duration,
}

impl Batcher {
    pub fn new(start: i64, target: Duration) -> Batcher {
        Batcher {
            rows: start,
            min: 1,
            max: 20_000,
            target,
        }
    }

    /// The same, never sized over `max` rows.
    pub fn at_most(mut self, max: i64) -> Batcher {
        self.max = max.max(1);
        self.rows = self.rows.min(self.max);
        self
    }

    /// Rows the next transaction should touch.
    pub fn rows(&self) -> i64 {
        self.rows
    }

    /// Learns from a transaction that touched `rows` rows in `held`: the next
    /// size is what the measured rate allows within the target, moving at most
    /// twofold up and eightfold down at a time.
    pub fn learn(&mut self, rows: i64, held: Duration) {
        if rows <= 0 {
            return;
        }
        let per_row = held.as_secs_f64() / rows as f64;
        let fits = if per_row > 0.0 {
            (self.target.as_secs_f64() / per_row) as i64
        } else {
            self.rows * 2
        };
        self.rows = fits
            .clamp(self.rows / 8, self.rows * 2)
            .clamp(self.min, self.max);
    }
}

/// When a pass also counts rows and artifact bytes for the storage page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CensusWhen {
    /// When the last count is old: older than 360 times what it took to count
    /// (so counting takes at most about 0.3 % of the time), and at least a
    /// minute, at most a day.
    IfDue,
    Always,
    Never,
}

#[derive(Clone, Debug)]
pub struct PruneOptions {
    /// The time the policy is applied at (tests move it forward).
    pub now: i64,
    /// `server` or `cli`, for the reports.
    pub origin: &'static str,
    pub census: CensusWhen,
    /// Pause after each transaction, as a multiple of how long it held the writer.
    pub pause_ratio: f64,
    /// The pass stops between two transactions when this turns true.
    pub stop: Option<watch::Receiver<bool>>,
}

impl PruneOptions {
    pub fn new(origin: &'static str) -> PruneOptions {
        PruneOptions {
            now: crate::db::now_ms(),
            origin,
            census: CensusWhen::IfDue,
            pause_ratio: 1.0,
            stop: None,
        }
    }
}

/// What a pass did.
#[derive(Clone, Debug, Default)]
pub struct PassReport {
    pub started_at: i64,
    pub finished_at: i64,
    /// What was removed from each account with a policy.
    pub accounts: Vec<(AccountPk, PruneCounts)>,
    /// Change-log entries removed.
    pub changes: i64,
    /// Stored files deleted, and files whose deletion failed (kept for the next pass).
    pub files: i64,
    pub files_failed: i64,
    pub transactions: i64,
    /// Of those, steps of merging the text indexes.
    pub merges: i64,
    pub longest_hold: Duration,
    /// Rows each write transaction was sized for, in order (tests read the batching).
    pub batches: Vec<i64>,
    /// The pass was stopped before it finished.
    pub stopped: bool,
    pub census: Option<StoredCensus>,
}

impl PassReport {
    /// Everything removed from every account.
    pub fn removed(&self) -> PruneCounts {
        let mut total = PruneCounts::default();
        for (_, counts) in &self.accounts {
            total.add(counts);
        }
        total
    }
}

struct Pass<'a> {
    db: &'a Db,
    store: &'a Store,
    options: PruneOptions,
    report: PassReport,
    delete: Batcher,
    events: Batcher,
    artifacts: Batcher,
    changes: Batcher,
    /// Pages per step of merging a text index.
    merges: Batcher,
    /// FTS5's automatic merging is off for this pass.
    automerge_off: bool,
}

/// Runs one pass over every account with a policy. Errors end the pass; what
/// was committed before stays committed, and the next pass goes on from there.
pub async fn run(db: &Db, store: &Store, options: PruneOptions) -> Result<PassReport, AppError> {
    let mut pass = Pass {
        db,
        store,
        report: PassReport {
            started_at: crate::db::now_ms(),
            ..PassReport::default()
        },
        options,
        delete: Batcher::new(64, TARGET_HOLD),
        events: Batcher::new(256, TARGET_HOLD),
        artifacts: Batcher::new(64, TARGET_HOLD),
        changes: Batcher::new(1_000, TARGET_HOLD),
        // Merge work per page varies tenfold (segments read from disk or the
        // cache), more than anything else pruning does: small steps.
        merges: Batcher::new(64, TARGET_HOLD).at_most(MAX_MERGE_PAGES),
        automerge_off: false,
    };
    // Files left by an earlier pass (or a crash) first.
    pass.empty_trash().await?;
    for (account_pk, policy) in retention::all_policies(&db.read).await? {
        let started = crate::db::now_ms();
        let before = (
            pass.report.transactions,
            pass.report.changes,
            pass.report.files,
        );
        let counts = pass.account(account_pk, &policy).await?;
        pass.report.accounts.push((account_pk, counts));
        if !counts.is_empty() {
            tracing::info!(
                account = account_pk.0,
                runs = counts.runs,
                events = counts.events,
                artifacts = counts.artifacts,
                artifact_bytes = counts.artifact_bytes,
                event_logs = counts.event_logs,
                artifact_sets = counts.artifact_sets,
                "retention: pruned {} runs, {} events and {} artifacts ({}); emptied {} event logs and {} artifact lists",
                counts.runs,
                counts.events,
                counts.artifacts,
                model::format_bytes(counts.artifact_bytes),
                counts.event_logs,
                counts.artifact_sets,
            );
        }
        let report = PruneReport {
            started_at: from_ms(started),
            finished_at: from_ms(crate::db::now_ms()),
            origin: pass.options.origin.to_string(),
            removed: counts,
            changes: pass.report.changes - before.1,
            files: pass.report.files - before.2,
            transactions: pass.report.transactions - before.0,
            longest_hold_ms: pass.report.longest_hold.as_millis() as i64,
        };
        prune::record_report(db, account_pk, &report).await?;
        if pass.report.stopped {
            break;
        }
    }
    if !pass.report.stopped {
        pass.prune_changes().await?;
        pass.empty_trash().await?;
    }
    // The text indexes' own merging back on, after the merge work owed (or a
    // crash's leftover setting): also when the pass was stopped.
    if pass.automerge_off || prune::automerge_off(&db.read).await? {
        if !pass.report.stopped {
            pass.merge_text().await?;
        }
        let written = prune::set_automerge(db, true).await?;
        pass.wrote("automerge", 0, &written).await;
    }
    pass.report.finished_at = crate::db::now_ms();
    let report = &pass.report;
    if report.changes > 0 || report.files > 0 || !report.removed().is_empty() {
        tracing::info!(
            changes = report.changes,
            files = report.files,
            transactions = report.transactions,
            longest_hold_ms = report.longest_hold.as_millis() as u64,
            "retention: pass {} in {} ms: {} change-log entries and {} stored files removed, in {} write transactions (the longest held the writer {} ms)",
            if report.stopped { "stopped by shutdown" } else { "done" },
            report.finished_at - report.started_at,
            report.changes,
            report.files,
            report.transactions,
            report.longest_hold.as_millis(),
        );
    }
    if report.files_failed > 0 {
        tracing::warn!(
            failed = report.files_failed,
            "retention: some stored files could not be deleted; they are tried again next pass"
        );
    }
    if !pass.report.stopped && census_due(db, pass.options.census).await? {
        pass.report.census = Some(stats::take_census(db).await?);
    }
    Ok(pass.report)
}

async fn census_due(db: &Db, when: CensusWhen) -> Result<bool, AppError> {
    Ok(match when {
        CensusWhen::Always => true,
        CensusWhen::Never => false,
        CensusWhen::IfDue => match stats::last_census(&db.read).await? {
            None => true,
            Some(last) => {
                let every =
                    (last.duration_ms.saturating_mul(360)).clamp(60 * 1000, 24 * 60 * 60 * 1000);
                crate::db::now_ms() - last.counted_at >= every
            }
        },
    })
}

/// An agent's cutoffs at `now`.
pub fn cutoffs(
    account_pk: AccountPk,
    agent_pk: i64,
    days: &RetentionDays,
    now: i64,
) -> AgentCutoffs {
    AgentCutoffs {
        account_pk,
        agent_pk,
        runs: prune::cutoff(now, days.runs),
        failed_runs: prune::cutoff(now, days.failed_runs),
        events: prune::cutoff(now, days.events),
        artifacts: prune::cutoff(now, days.artifacts),
    }
}

impl Pass<'_> {
    fn stopped(&mut self) -> bool {
        let stop = self
            .options
            .stop
            .as_ref()
            .is_some_and(|stop| *stop.borrow());
        if stop {
            self.report.stopped = true;
        }
        stop
    }

    /// Counts a committed transaction, then pauses so other writers get the writer.
    async fn wrote(&mut self, what: &str, rows: i64, written: &Written) {
        // One line per transaction at debug level: `runboard-bench prune` reads
        // the distribution of writer holds from them.
        tracing::debug!(
            what,
            rows,
            held_us = written.held.as_micros() as u64,
            commit_us = written.commit.as_micros() as u64,
            "retention: write transaction"
        );
        self.report.transactions += 1;
        self.report.longest_hold = self.report.longest_hold.max(written.held);
        self.report.batches.push(rows);
        let pause = written.held.mul_f64(self.options.pause_ratio.max(0.0));
        if pause.is_zero() {
            tokio::task::yield_now().await;
        } else {
            tokio::time::sleep(pause).await;
        }
    }

    async fn account(
        &mut self,
        account_pk: AccountPk,
        policy: &RetentionPolicy,
    ) -> Result<PruneCounts, AppError> {
        let mut counts = PruneCounts::default();
        for (agent_pk, slug) in prune::agents_of(&self.db.read, account_pk).await? {
            let days = policy.for_agent(&slug);
            if days.keeps_everything() {
                continue;
            }
            let cut = cutoffs(account_pk, agent_pk, &days, self.options.now);
            for (status, _) in cut.deletions() {
                self.walk(&cut, Kind::Delete(status), None, &mut counts)
                    .await?;
            }
            if days.events.is_some() {
                self.walk(&cut, Kind::Events, days.events, &mut counts)
                    .await?;
            }
            if days.artifacts.is_some() {
                self.walk(&cut, Kind::Artifacts, days.artifacts, &mut counts)
                    .await?;
            }
            if self.report.stopped {
                break;
            }
        }
        Ok(counts)
    }

    fn batcher(&mut self, kind: Kind) -> &mut Batcher {
        match kind {
            Kind::Delete(_) => &mut self.delete,
            Kind::Events => &mut self.events,
            Kind::Artifacts => &mut self.artifacts,
        }
    }

    /// What removing a candidate costs, in rows: the run and its events (artifact
    /// rows are few and cheap; their files are deleted outside the transaction).
    fn cost(kind: Kind, candidate: &Candidate) -> i64 {
        match kind {
            Kind::Delete(_) | Kind::Events => 1 + candidate.events.max(0),
            Kind::Artifacts => 2,
        }
    }

    /// Walks one agent's candidates of `kind`, oldest first, in batches.
    async fn walk(
        &mut self,
        cut: &AgentCutoffs,
        kind: Kind,
        days: Option<i64>,
        counts: &mut PruneCounts,
    ) -> Result<(), AppError> {
        let mut from = Position::START;
        loop {
            if self.stopped() {
                return Ok(());
            }
            let page = prune::candidates(&self.db.read, cut, kind, from, PAGE).await?;
            let Some(last) = page.last() else {
                return Ok(());
            };
            if kind != Kind::Artifacts {
                self.automerge_off().await?;
            }
            from = Position::after(last);
            let mut queue = page.into_iter().peekable();
            while queue.peek().is_some() {
                if self.stopped() {
                    return Ok(());
                }
                let budget = self.batcher(kind).rows();
                let mut batch: Vec<RunPk> = Vec::new();
                let mut earlier = Vec::new();
                let mut cost = 0;
                while let Some(candidate) = queue.peek() {
                    let mut each = Self::cost(kind, candidate);
                    if !batch.is_empty() && cost + each > budget {
                        break;
                    }
                    if batch.is_empty() && each > budget && kind != Kind::Artifacts {
                        // A log too long for one transaction is taken apart first.
                        let removed = self.take_apart(candidate.pk).await?;
                        counts.events += removed;
                        earlier.push((candidate.pk, removed));
                        each = 1;
                    }
                    batch.push(candidate.pk);
                    cost += each;
                    queue.next();
                }
                if self.report.stopped {
                    return Ok(());
                }
                let now = self.options.now;
                let written = match kind {
                    Kind::Delete(_) => prune::delete_runs(self.db, &batch, now).await?,
                    Kind::Events => {
                        prune::prune_events(self.db, &batch, &earlier, days, now).await?
                    }
                    Kind::Artifacts => prune::prune_artifacts(self.db, &batch, days, now).await?,
                };
                self.batcher(kind).learn(cost, written.held);
                self.wrote(kind.name(), cost, &written).await;
                counts.add(&written.counts);
                if written.trashed > 0 {
                    self.empty_trash().await?;
                }
                if kind != Kind::Artifacts {
                    self.merge_text().await?;
                }
            }
        }
    }

    /// Before the first deletion from the text indexes: FTS5's automatic merging
    /// off, so that its merge work happens in [`Pass::merge_text`]'s steps.
    async fn automerge_off(&mut self) -> Result<(), AppError> {
        if !self.automerge_off {
            let written = prune::set_automerge(self.db, false).await?;
            self.wrote("automerge", 0, &written).await;
            self.automerge_off = true;
        }
        Ok(())
    }

    /// Does the text indexes' merge work that deletions left, in steps sized
    /// like every other transaction, until there is none.
    async fn merge_text(&mut self) -> Result<(), AppError> {
        for table in prune::text_indexes(&self.db.read).await? {
            loop {
                if self.stopped() {
                    return Ok(());
                }
                let pages = self.merges.rows();
                let written = prune::merge_text(self.db, &table, pages).await?;
                if written.other == 0 {
                    break;
                }
                // Learnt from the work done, not asked for: a step asked for
                // many pages may find few, and the next one many.
                self.merges.learn(written.other, written.held);
                self.wrote(&table, written.other, &written).await;
                self.report.merges += 1;
            }
        }
        Ok(())
    }

    /// Deletes a run's events (its pruning notes aside) in transactions of the
    /// events batch size; returns how many.
    async fn take_apart(&mut self, run_pk: RunPk) -> Result<i64, AppError> {
        let mut removed = 0;
        loop {
            if self.stopped() {
                return Ok(removed);
            }
            let rows = self.events.rows();
            let written = prune::delete_event_chunk(self.db, run_pk, rows).await?;
            // From the rows deleted: the log's last piece may be much smaller.
            self.events.learn(written.counts.events, written.held);
            self.wrote("event chunk", written.counts.events, &written)
                .await;
            removed += written.counts.events;
            if written.counts.events < rows {
                return Ok(removed);
            }
        }
    }

    /// Removes change-log entries older than a day, in batches.
    async fn prune_changes(&mut self) -> Result<(), AppError> {
        let before = self.options.now - changes::RETENTION_MS;
        let Some(kept_from) = prune::changes_kept_from(&self.db.read, before).await? else {
            return Ok(());
        };
        loop {
            if self.stopped() {
                return Ok(());
            }
            let rows = self.changes.rows();
            let written = prune::prune_changes(self.db, kept_from, rows).await?;
            self.changes.learn(rows, written.held);
            self.wrote("changes", rows, &written).await;
            self.report.changes += written.other;
            if written.other < rows {
                return Ok(());
            }
        }
    }

    /// Deletes the stored files in the trash, then forgets their keys.
    async fn empty_trash(&mut self) -> Result<(), AppError> {
        loop {
            let keys = prune::trashed_files(&self.db.read, FILES_PER_BATCH).await?;
            let full = keys.len() as i64 == FILES_PER_BATCH;
            let mut gone = Vec::with_capacity(keys.len());
            for key in keys {
                match self.store.delete(&key).await {
                    // A key the store refuses cannot name a file Runboard wrote.
                    Ok(()) | Err(AppError::Invalid { .. }) => gone.push(key),
                    Err(error) => {
                        tracing::warn!(%error, %key, "retention: could not delete a stored file");
                        self.report.files_failed += 1;
                    }
                }
            }
            if gone.is_empty() {
                return Ok(());
            }
            let written = prune::forget_files(self.db, &gone).await?;
            self.wrote("files", gone.len() as i64, &written).await;
            self.report.files += written.other;
            if !full {
                return Ok(());
            }
        }
    }
}

/// Deletes stored files whose keys are in the trash (those a deletion just
/// returned) and forgets the keys of the files now gone. A failure is logged;
/// the key stays and the next prune tries again.
pub async fn discard_files(db: &Db, store: &Store, keys: &[String]) {
    let mut gone = Vec::with_capacity(keys.len());
    for key in keys {
        match store.delete(key).await {
            Ok(()) | Err(AppError::Invalid { .. }) => gone.push(key.clone()),
            Err(error) => {
                tracing::warn!(%error, %key, "could not delete a stored artifact file; the next prune tries again")
            }
        }
    }
    for chunk in gone.chunks(FILES_PER_BATCH as usize) {
        if let Err(error) = prune::forget_files(db, chunk).await {
            tracing::warn!(%error, "could not forget deleted files; the next prune does");
        }
    }
}

/// What the policy would remove from one agent's runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentPreview {
    pub agent: String,
    pub days: RetentionDays,
    pub counts: PruneCounts,
    /// Some count stopped at the cap.
    pub capped: bool,
}

/// What the policy would remove from an account now, agent by agent (agents it
/// keeps everything of are left out). With `cap`, each count stops after that
/// many runs per kind and agent.
pub async fn preview_account(
    db: &Db,
    account_pk: AccountPk,
    policy: &RetentionPolicy,
    now: i64,
    cap: Option<i64>,
) -> Result<Vec<AgentPreview>, AppError> {
    let mut agents = Vec::new();
    if policy.is_default() {
        return Ok(agents);
    }
    for (agent_pk, slug) in prune::agents_of(&db.read, account_pk).await? {
        let days = policy.for_agent(&slug);
        if days.keeps_everything() {
            continue;
        }
        let cut = cutoffs(account_pk, agent_pk, &days, now);
        let mut counts = PruneCounts::default();
        let mut capped = false;
        let mut kinds: Vec<Kind> = cut
            .deletions()
            .into_iter()
            .map(|(status, _)| Kind::Delete(status))
            .collect();
        if days.events.is_some() {
            kinds.push(Kind::Events);
        }
        if days.artifacts.is_some() {
            kinds.push(Kind::Artifacts);
        }
        for kind in kinds {
            let (runs, events, artifacts, bytes) =
                prune::preview(&db.read, &cut, kind, cap).await?;
            capped |= cap.is_some_and(|cap| runs >= cap);
            match kind {
                Kind::Delete(_) => {
                    counts.runs += runs;
                    counts.events += events;
                    counts.artifacts += artifacts;
                    counts.artifact_bytes += bytes;
                }
                Kind::Events => {
                    counts.event_logs += runs;
                    counts.events += events;
                }
                Kind::Artifacts => {
                    counts.artifact_sets += runs;
                    counts.artifacts += artifacts;
                    counts.artifact_bytes += bytes;
                }
            }
        }
        agents.push(AgentPreview {
            agent: slug,
            days,
            counts,
            capped,
        });
    }
    Ok(agents)
}

/// What a pass would remove now, changing nothing.
#[derive(Clone, Debug, Default)]
pub struct DryRun {
    pub accounts: Vec<(AccountPk, String, Vec<AgentPreview>)>,
    /// Change-log entries older than a day.
    pub changes: i64,
    /// Stored files whose rows are gone, waiting to be deleted.
    pub files_pending: i64,
}

/// What [`run`] would remove at `now`, counted with the same conditions, uncapped.
pub async fn dry_run(db: &Db, now: i64) -> Result<DryRun, AppError> {
    let mut dry = DryRun::default();
    for (account_pk, policy) in retention::all_policies(&db.read).await? {
        let name = crate::db::accounts::get_account(&db.read, account_pk)
            .await?
            .name;
        let agents = preview_account(db, account_pk, &policy, now, None).await?;
        dry.accounts.push((account_pk, name, agents));
    }
    if let Some(kept_from) = prune::changes_kept_from(&db.read, now - changes::RETENTION_MS).await?
    {
        dry.changes = prune::changes_before(&db.read, kept_from).await?;
    }
    dry.files_pending = prune::trash_size(&db.read).await?;
    Ok(dry)
}

/// The storage page of an account: the database's size, the last census, what
/// the policy will remove next (capped at [`PREVIEW_CAP`] runs per kind and
/// agent) and the account's last prunes.
pub async fn storage_report(db: &Db, account_pk: AccountPk) -> Result<StorageReport, AppError> {
    let sizes = stats::file_sizes(&db.read).await?;
    let census = stats::last_census(&db.read).await?;
    let policy = retention::get_policy(&db.read, account_pk).await?;
    let agents = preview_account(
        db,
        account_pk,
        &policy,
        crate::db::now_ms(),
        Some(PREVIEW_CAP),
    )
    .await?;
    let mut next = PrunePreview::default();
    for agent in &agents {
        next.counts.add(&agent.counts);
        next.capped |= agent.capped;
    }
    Ok(StorageReport {
        database_bytes: sizes.database_bytes,
        free_bytes: sizes.free_bytes,
        wal_bytes: sizes.wal_bytes,
        tables: census
            .as_ref()
            .map(|census| census.census.tables.clone())
            .unwrap_or_default(),
        artifacts: census
            .as_ref()
            .map(|census| census.census.artifacts_of(account_pk))
            .unwrap_or_default(),
        counted_at: census.as_ref().map(|census| from_ms(census.counted_at)),
        files_pending: prune::trash_size(&db.read).await?,
        policy,
        next,
        last_prunes: prune::last_reports(&db.read, account_pk, 10).await?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_batcher_grows_while_quick_and_shrinks_when_slow() {
        let mut batcher = Batcher::new(64, Duration::from_millis(16));
        batcher.learn(64, Duration::from_millis(1));
        assert_eq!(batcher.rows(), 128, "at most twice as many at a time");
        batcher.learn(128, Duration::from_millis(64));
        assert_eq!(
            batcher.rows(),
            32,
            "what fits the target at the measured rate"
        );
        batcher.learn(32, Duration::from_secs(10));
        assert_eq!(batcher.rows(), 4, "at most eight times fewer at a time");
        for _ in 0..10 {
            batcher.learn(batcher.rows(), Duration::from_secs(1));
        }
        assert_eq!(batcher.rows(), 1, "never below one row");
        batcher.learn(0, Duration::from_secs(1));
        assert_eq!(batcher.rows(), 1, "an empty transaction teaches nothing");
        let mut capped = Batcher::new(64, Duration::from_millis(16)).at_most(100);
        capped.learn(64, Duration::from_micros(1));
        assert_eq!(capped.rows(), 100, "never over its cap");
    }
}
