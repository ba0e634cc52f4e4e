//! Generates the installation of a [`Plan`] straight into a SQLite file, in
//! minutes: one connection, prepared statements, multi-row `INSERT`s for the
//! tables with full text (so that FTS5 writes one segment per statement, not per
//! row: [`super::sql`]), transactions of half a million rows, no fsync. Going through the server's API instead would take days at
//! 20M events (it is what `scale` measures, a few hundred thousand events).
//!
//! The rows are those the server's own code would have left:
//!
//! - the schema is the real one: `Db::connect` runs the server's migrations; the
//!   owner, the agents and the campaigns are created by the server's functions
//!   (`bootstrap_owner`, `ensure_agent`, `create_campaign`);
//! - runs carry every column `insert_run` and `apply_status` set (duration from
//!   start, or creation when never started; `updated_at`; `event_seq`), their
//!   input fields are `store::db::runs::flatten_input`'s, `run_counts` holds exactly
//!   the runs' counts per day, agent and status, and the runs' full-text table is
//!   filled by the schema's own trigger; the events' full-text index gets the
//!   entries and pieces the server would have written, but all at the end in
//!   key order (see [`fill_event_text`]);
//! - events are numbered per run in arrival order, and the logs of runs that ran
//!   at the same time are interleaved as they would have arrived (so a run's
//!   events are spread over the table as in a real database);
//! - campaigns end in the state `on_run_started`/`on_run_finished` leave.
//!
//! Not written: the change log (`changes`, pruned after 24 h and read by no
//! measured request) and the webhook outbox rows (read by no measured request).
//! Then `PRAGMA optimize` runs as the server runs it at start (by reopening the
//! database with `Db::connect`).

use super::content::{artifact_rows, bundle_url, run_row, step_rows, EventSource};
use super::plan::{Plan, RunPlan, AGENTS, CAMPAIGNS, DAY_MS};
use super::sql::{insert_rows, int, text};
use crate::common::{sqlite_url, ADMIN_EMAIL, ADMIN_PASSWORD};
use anyhow::{anyhow, Context, Result};
use model::{AccountPk, RunStatus};
use rusqlite::types::Value;
use rusqlite::{params, Connection, Statement};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::time::{Duration, Instant};
use store::db::runs::flatten_input;
use store::db::Db;

/// Keys of what the server's own code created before the bulk rows.
struct Keys {
    account_pk: i64,
    /// By index of [`AGENTS`].
    agents: Vec<i64>,
    /// By index of [`CAMPAIGNS`].
    campaigns: Vec<i64>,
}

/// Rows per transaction.
const ROWS_PER_COMMIT: u64 = 500_000;
/// Rows per multi-row `INSERT` (each one FTS segment).
const RUNS_PER_INSERT: usize = 1_000;
const EVENTS_PER_INSERT: usize = 4_000;
const INSERT_RUNS: &str =
    "INSERT INTO runs (pk, id, account_pk, agent_pk, campaign_pk, status, progress,
    initiator, summary, input, context, error_code, error_message, error_details, created_at,
    started_at, completed_at, updated_at, duration_ms, webhook_url, webhook_status, retry_of_pk,
    attempt, event_seq)";
const RUN_COLUMNS: usize = 24;
const INSERT_EVENTS: &str =
    "INSERT INTO events (run_pk, seq, id, client_id, event_type, message, metadata, created_at)";
const EVENT_COLUMNS: usize = 8;
/// How much writing a run costs relative to one event (its input fields, steps,
/// artifacts and full-text entry): for the progress line's estimate only.
const RUN_WORK: u64 = 14;

/// Writes the plan into a new database at `path`.
pub async fn generate(path: &Path, plan: Plan, now: i64) -> Result<()> {
    let keys = create_with_server_code(path).await?;
    let owned = path.to_path_buf();
    tokio::task::spawn_blocking(move || write_rows(&owned, &keys, &plan, now))
        .await
        .context("the generator thread failed")??;
    // Planner statistics, exactly as the server gathers them at start.
    let db = Db::connect(&sqlite_url(path)).await?;
    db.close().await;
    // Everything in the main file, so that it can be moved (or copied) alone.
    let conn = Connection::open(path)?;
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    Ok(())
}

/// The schema (the server's migrations), the owner, the agents and campaigns.
async fn create_with_server_code(path: &Path) -> Result<Keys> {
    let db = Db::connect(&sqlite_url(path)).await?;
    store::auth::bootstrap_owner(&db, Some(ADMIN_EMAIL), Some(ADMIN_PASSWORD))
        .await
        .map_err(|error| anyhow!("cannot create the owner: {error}"))?;
    let account_pk: i64 =
        store::db::sql::query_scalar("SELECT account_pk FROM users WHERE email = ?")
            .bind(ADMIN_EMAIL)
            .fetch_one(&db.read)
            .await?;
    let mut tx = db.begin_write().await?;
    let mut agents = Vec::new();
    for agent in &AGENTS {
        agents
            .push(store::db::runs::ensure_agent(&mut tx, AccountPk(account_pk), agent.slug).await?);
    }
    tx.commit().await?;
    let mut campaigns = Vec::new();
    for name in CAMPAIGNS {
        let campaign = store::db::campaigns::create_campaign(
            &db,
            &store::db::audit::Actor::system(AccountPk(account_pk), model::Via::System),
            name,
        )
        .await
        .map_err(|error| anyhow!("cannot create a campaign: {error}"))?;
        let pk: i64 = store::db::sql::query_scalar("SELECT pk FROM campaigns WHERE id = ?")
            .bind(campaign.id.to_string())
            .fetch_one(&db.read)
            .await?;
        campaigns.push(pk);
    }
    db.close().await;
    Ok(Keys {
        account_pk,
        agents,
        campaigns,
    })
}

fn write_rows(path: &Path, keys: &Keys, plan: &Plan, now: i64) -> Result<()> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    // A generated file is made again rather than recovered: no fsync, a large
    // cache for the indexes being built, no foreign-key probes (the rows are
    // consistent by construction).
    conn.execute_batch(
        "PRAGMA synchronous = OFF; PRAGMA cache_size = -1048576; PRAGMA temp_store = MEMORY;
         PRAGMA foreign_keys = OFF;",
    )?;
    let base_pk: i64 = conn.query_row("SELECT coalesce(max(pk), 0) + 1 FROM runs", [], |row| {
        row.get(0)
    })?;
    let events: u64 = plan.runs.iter().map(|run| run.events).sum();
    let mut writer = Writer::new(&conn, keys, base_pk, now)?;
    let mut progress = Progress::new(plan.runs.len() as u64, events);
    conn.execute_batch("BEGIN")?;
    for (index, run) in plan.runs.iter().enumerate() {
        writer.events_until(run.created_at, &mut progress)?;
        writer.run(index, run)?;
        progress.add(1, 0);
        writer.commit_now_and_then()?;
    }
    writer.events_until(i64::MAX, &mut progress)?;
    writer.finish(plan)?;
    conn.execute_batch("COMMIT")?;
    progress.done();
    fill_event_text(&conn, base_pk)?;
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    Ok(())
}

/// Writes every new event's entry into the events' text index, as
/// `store::db::text_pieces` would have (a new piece each time one has taken its
/// share, starting at a run), but piece by piece in key order, FTS5's fast path.
///
/// FTS5 keeps a segment's keys ascending: a key below the last one pending flushes
/// what is pending and starts a new segment. The events' keys are
/// `run_pk * 2^24 + seq`, and interleaved logs go back and forth between runs, so
/// writing them in arrival order would flush at nearly every row and spend its
/// time merging tiny segments (measured: 17,000 events/s falling below 6,000
/// within a minute).
fn fill_event_text(conn: &Connection, base_pk: i64) -> Result<()> {
    use store::db::text_pieces::{create_piece_sql, table_name, view_sql, PIECE_EVENTS};
    let started = Instant::now();
    eprintln!("indexing the events' messages for full text");
    // Each new run's messages, in key order, cut into pieces at run boundaries.
    let mut per_run = conn.prepare(
        "SELECT run_pk, count(*) FROM events WHERE message IS NOT NULL AND run_pk >= ?
         GROUP BY run_pk ORDER BY run_pk",
    )?;
    let counts: Vec<(i64, i64)> = per_run
        .query_map([base_pk], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut ranges: Vec<(i64, i64)> = Vec::new(); // (first run, messages)
    for (run_pk, count) in counts {
        match ranges.last_mut() {
            Some((_, taken)) if *taken < PIECE_EVENTS => *taken += count,
            _ => ranges.push((run_pk, count)),
        }
    }
    let last_event: i64 = conn.query_row("SELECT coalesce(max(pk), 0) FROM events", [], |row| {
        row.get(0)
    })?;
    let (mut number, newest_first_run): (i64, i64) = conn.query_row(
        "SELECT piece, first_run_pk FROM event_text_pieces ORDER BY piece DESC LIMIT 1",
        [],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )?;
    let newest_is_empty = base_pk == 1 && newest_first_run <= 1;
    conn.execute_batch("BEGIN")?;
    for (index, &(first_run, messages)) in ranges.iter().enumerate() {
        if !(index == 0 && newest_is_empty) {
            number += 1;
            for statement in create_piece_sql(number) {
                conn.execute_batch(&statement)?;
            }
            // As if the piece began `messages` events before the last one.
            conn.execute(
                "INSERT INTO event_text_pieces (piece, first_run_pk, first_event_pk) VALUES (?, ?, ?)",
                params![number, first_run, last_event - messages],
            )?;
        }
        let end_run = ranges.get(index + 1).map_or(i64::MAX >> 24, |next| next.0);
        conn.execute(
            &format!(
                "INSERT INTO {table} (rowid, message)
                 SELECT run_pk * {key_base} + seq, message FROM events
                 WHERE message IS NOT NULL AND run_pk >= ? AND run_pk < ? ORDER BY run_pk, seq",
                table = table_name(number),
                key_base = store::db::events::MAX_RUN_EVENTS + 1,
            ),
            params![first_run, end_run],
        )?;
    }
    let numbers: Vec<i64> = conn
        .prepare("SELECT piece FROM event_text_pieces ORDER BY piece")?
        .query_map([], |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for statement in view_sql(&numbers) {
        conn.execute_batch(&statement)?;
    }
    conn.execute_batch("COMMIT")?;
    eprintln!(
        "indexed in {:.0} s, {} pieces",
        started.elapsed().as_secs_f64(),
        numbers.len()
    );
    Ok(())
}

/// Where a campaign stands after its runs, as the server's campaign hooks leave it.
#[derive(Clone, Default)]
struct CampaignState {
    /// The time of the last start or finish that moved it.
    at: i64,
    status: &'static str,
    latest_run_pk: i64,
    bundle_url: Option<String>,
}

/// An event log waiting for its next event in the interleaving heap.
type Due = Reverse<(i64, usize)>;

struct Writer<'c> {
    conn: &'c Connection,
    insert_field: Statement<'c>,
    insert_step: Statement<'c>,
    insert_artifact: Statement<'c>,
    /// Runs and events waiting for their multi-row `INSERT` (see [`super::sql`]).
    runs: Vec<Value>,
    events: Vec<Value>,
    keys: &'c Keys,
    base_pk: i64,
    now: i64,
    /// Runs whose logs are still being written, by their next event's time.
    due: BinaryHeap<Due>,
    sources: Vec<Option<EventSource>>,
    free: Vec<usize>,
    counts: HashMap<(i64, i64, &'static str), i64>,
    campaigns: Vec<CampaignState>,
    rows: u64,
}

impl<'c> Writer<'c> {
    fn new(conn: &'c Connection, keys: &'c Keys, base_pk: i64, now: i64) -> Result<Writer<'c>> {
        Ok(Writer {
            conn,
            insert_field: conn.prepare(
                "INSERT OR IGNORE INTO run_input_fields (run_pk, account_pk, path, value, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?,
            insert_step: conn.prepare(
                "INSERT INTO steps (run_pk, step_id, attempt, idx, name, skill_id, status, cache_hit,
                    started_at, ended_at, duration_ms, output_preview, error, output_artifact_ids,
                    created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
            )?,
            insert_artifact: conn.prepare(
                "INSERT INTO artifacts (id, run_pk, step_pk, name, artifact_type, content_type,
                    size_bytes, sha256, storage_key, stored, url, inline_text, metadata, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
            )?,
            runs: Vec::with_capacity(RUNS_PER_INSERT * RUN_COLUMNS),
            events: Vec::with_capacity(EVENTS_PER_INSERT * EVENT_COLUMNS),
            keys,
            base_pk,
            now,
            due: BinaryHeap::new(),
            sources: Vec::new(),
            free: Vec::new(),
            counts: HashMap::new(),
            campaigns: vec![CampaignState::default(); CAMPAIGNS.len()],
            rows: 0,
        })
    }

    fn commit_now_and_then(&mut self) -> Result<()> {
        if self.rows >= ROWS_PER_COMMIT {
            self.flush()?;
            self.conn.execute_batch("COMMIT; BEGIN")?;
            self.rows = 0;
        }
        Ok(())
    }

    /// Writes the buffered runs and events.
    fn flush(&mut self) -> Result<()> {
        insert_rows(self.conn, INSERT_RUNS, RUN_COLUMNS, &self.runs)?;
        self.runs.clear();
        insert_rows(self.conn, INSERT_EVENTS, EVENT_COLUMNS, &self.events)?;
        self.events.clear();
        Ok(())
    }

    /// One run with its input fields, steps and artifacts; its log joins the heap.
    fn run(&mut self, index: usize, plan: &RunPlan) -> Result<()> {
        let pk = self.base_pk + index as i64;
        let row = run_row(plan);
        let source = EventSource::new(pk, plan, self.now);
        let updated_at = plan
            .completed_at
            .or(source.as_ref().map(EventSource::last_time))
            .or(plan.started_at)
            .unwrap_or(plan.created_at);
        let duration_ms = plan
            .completed_at
            .map(|completed| completed - plan.started_at.unwrap_or(plan.created_at));
        let agent_pk = self.keys.agents[plan.agent];
        let campaign_pk = plan.campaign.map(|campaign| self.keys.campaigns[campaign]);
        let error = row.error.as_ref();
        self.runs.extend([
            Value::Integer(pk),
            Value::Text(row.id.to_string()),
            Value::Integer(self.keys.account_pk),
            Value::Integer(agent_pk),
            int(campaign_pk),
            Value::Text(plan.status.as_str().into()),
            Value::Real(row.progress),
            Value::Text(row.initiator.into()),
            Value::Text(row.summary),
            Value::Text(row.input.to_string()),
            Value::Text(row.context.to_string()),
            text(error.map(|error| error.code)),
            text(error.map(|error| error.message.as_str())),
            text(error.map(|error| error.details.to_string())),
            Value::Integer(plan.created_at),
            int(plan.started_at),
            int(plan.completed_at),
            Value::Integer(updated_at),
            int(duration_ms),
            text(row.webhook.as_ref().map(|(url, _)| url.as_str())),
            Value::Text(
                row.webhook
                    .as_ref()
                    .map_or("none", |(_, status)| *status)
                    .into(),
            ),
            int(plan.retry_of.map(|original| self.base_pk + original as i64)),
            Value::Integer(plan.attempt),
            Value::Integer(plan.events as i64),
        ]);
        if self.runs.len() >= RUNS_PER_INSERT * RUN_COLUMNS {
            insert_rows(self.conn, INSERT_RUNS, RUN_COLUMNS, &self.runs)?;
            self.runs.clear();
        }
        for (path, value) in flatten_input(&row.input) {
            self.insert_field.execute(params![
                pk,
                self.keys.account_pk,
                path,
                value,
                plan.created_at
            ])?;
            self.rows += 1;
        }
        let artifacts = artifact_rows(plan, row.id);
        self.steps_and_artifacts(pk, plan, &artifacts)?;
        *self
            .counts
            .entry((plan.created_at / DAY_MS, agent_pk, plan.status.as_str()))
            .or_default() += 1;
        if let Some(campaign) = plan.campaign {
            let bundle = artifacts
                .iter()
                .find(|artifact| artifact.artifact_type == "bundle")
                .map(|_| bundle_url(row.id));
            self.move_campaign(campaign, pk, plan, bundle);
        }
        if let Some(source) = source {
            self.schedule(source);
        }
        self.rows += 1;
        Ok(())
    }

    fn steps_and_artifacts(
        &mut self,
        pk: i64,
        plan: &RunPlan,
        artifacts: &[super::content::ArtifactRow],
    ) -> Result<()> {
        // The newest attempt of each step, which an artifact of that step refers to.
        let mut step_pks: HashMap<&str, i64> = HashMap::new();
        for step in step_rows(plan, self.now, artifacts) {
            let created_at = step.started_at.unwrap_or(plan.created_at);
            self.insert_step.execute(params![
                pk,
                step.step_id,
                step.attempt,
                step.idx,
                step.name,
                step.skill_id,
                step.status.as_str(),
                step.cache_hit,
                step.started_at,
                step.ended_at,
                step.started_at
                    .zip(step.ended_at)
                    .map(|(started, ended)| ended - started),
                step.output_preview,
                step.error.as_ref().map(|error| error.to_string()),
                step.output_artifact_ids.as_ref().map(|ids| ids.to_string()),
                created_at,
                step.ended_at.unwrap_or(created_at),
            ])?;
            step_pks.insert(step.step_id, self.conn.last_insert_rowid());
            self.rows += 1;
        }
        for artifact in artifacts {
            let step_pk = artifact
                .step_id
                .and_then(|step_id| step_pks.get(step_id).copied());
            self.insert_artifact.execute(params![
                artifact.id.to_string(),
                pk,
                step_pk,
                artifact.name,
                artifact.artifact_type,
                artifact.content_type,
                artifact.size_bytes,
                artifact.sha256,
                artifact.storage_key,
                artifact.stored,
                artifact.url,
                artifact.inline_text,
                artifact
                    .metadata
                    .as_ref()
                    .map(|metadata| metadata.to_string()),
                artifact.created_at,
            ])?;
            self.rows += 1;
        }
        Ok(())
    }

    /// A new run makes its campaign running and latest; its completion makes it
    /// live (with the run's bundle), its failure failed. Whatever came last wins.
    fn move_campaign(&mut self, campaign: usize, pk: i64, plan: &RunPlan, bundle: Option<String>) {
        let state = &mut self.campaigns[campaign];
        let mut apply = |at: i64, status: &'static str, bundle: Option<String>| {
            if at >= state.at {
                state.at = at;
                state.status = status;
                state.latest_run_pk = pk;
                if bundle.is_some() {
                    state.bundle_url = bundle;
                }
            }
        };
        apply(plan.created_at, "running", None);
        match (plan.status, plan.completed_at) {
            (RunStatus::Completed, Some(at)) => apply(at, "live", bundle),
            (RunStatus::Failed, Some(at)) => apply(at, "failed", None),
            _ => {}
        }
    }

    fn schedule(&mut self, source: EventSource) {
        let Some(at) = source.next_time() else {
            return;
        };
        let slot = match self.free.pop() {
            Some(slot) => {
                self.sources[slot] = Some(source);
                slot
            }
            None => {
                self.sources.push(Some(source));
                self.sources.len() - 1
            }
        };
        self.due.push(Reverse((at, slot)));
    }

    /// Writes every pending event logged before `until`, oldest first.
    fn events_until(&mut self, until: i64, progress: &mut Progress) -> Result<()> {
        while let Some(&Reverse((at, slot))) = self.due.peek() {
            if at > until {
                break;
            }
            self.due.pop();
            let Some(source) = self.sources[slot].as_mut() else {
                continue;
            };
            if let Some(event) = source.next_event() {
                self.events.extend([
                    Value::Integer(source.run_pk),
                    Value::Integer(event.seq),
                    Value::Blob(event.id.as_bytes().to_vec()),
                    text(event.client_id),
                    Value::Text(event.event_type.into()),
                    Value::Text(event.message),
                    text(event.metadata),
                    Value::Integer(event.created_at),
                ]);
                if self.events.len() >= EVENTS_PER_INSERT * EVENT_COLUMNS {
                    insert_rows(self.conn, INSERT_EVENTS, EVENT_COLUMNS, &self.events)?;
                    self.events.clear();
                }
                self.rows += 1;
                progress.add(0, 1);
            }
            match source.next_time() {
                Some(next) => self.due.push(Reverse((next, slot))),
                None => {
                    self.sources[slot] = None;
                    self.free.push(slot);
                }
            }
            self.commit_now_and_then()?;
        }
        Ok(())
    }

    /// The rest of the buffers, the counters and the campaigns' final state.
    fn finish(&mut self, plan: &Plan) -> Result<()> {
        self.flush()?;
        let mut insert_count = self.conn.prepare(
            "INSERT INTO run_counts (account_pk, day, agent_pk, status, count) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (account_pk, day, agent_pk, status) DO UPDATE SET count = count + excluded.count",
        )?;
        for ((day, agent_pk, status), count) in &self.counts {
            insert_count.execute(params![self.keys.account_pk, day, agent_pk, status, count])?;
        }
        let mut update_campaign = self.conn.prepare(
            "UPDATE campaigns SET status = ?1, bundle_url = ?2, latest_run_pk = ?3, created_at = ?4,
                updated_at = ?5 WHERE pk = ?6",
        )?;
        for (index, state) in self.campaigns.iter().enumerate() {
            if state.latest_run_pk == 0 {
                continue;
            }
            update_campaign.execute(params![
                state.status,
                state.bundle_url,
                state.latest_run_pk,
                plan.campaigns[index],
                state.at,
                self.keys.campaigns[index],
            ])?;
        }
        Ok(())
    }
}

/// A progress line on stderr: runs and events written, rate, estimated time left.
/// Redrawn in place every second on a terminal, a new line every 15 s otherwise.
pub struct Progress {
    runs: (u64, u64),
    events: (u64, u64),
    started: Instant,
    shown: Instant,
    every: Duration,
    terminal: bool,
    ticks: u32,
}

impl Progress {
    fn new(runs: u64, events: u64) -> Progress {
        let terminal = std::io::stderr().is_terminal();
        Progress {
            runs: (0, runs),
            events: (0, events),
            started: Instant::now(),
            shown: Instant::now(),
            every: Duration::from_secs(if terminal { 1 } else { 15 }),
            terminal,
            ticks: 0,
        }
    }

    fn add(&mut self, runs: u64, events: u64) {
        self.runs.0 += runs;
        self.events.0 += events;
        self.ticks += 1;
        if self.ticks.is_multiple_of(4096) && self.shown.elapsed() >= self.every {
            self.shown = Instant::now();
            self.show();
        }
    }

    fn show(&self) {
        let elapsed = self.started.elapsed().as_secs_f64();
        let work = |(done, total): (u64, u64), weight: u64| (done * weight, total * weight);
        let (runs_done, runs_total) = work(self.runs, RUN_WORK);
        let (events_done, events_total) = work(self.events, 1);
        let done = (runs_done + events_done) as f64 / (runs_total + events_total).max(1) as f64;
        let left = if done > 0.0 {
            elapsed * (1.0 - done) / done
        } else {
            f64::NAN
        };
        let line = format!(
            "generating: runs {}/{}  events {}/{}  {:.0} events/s  {:.0}%  {} left",
            self.runs.0,
            self.runs.1,
            self.events.0,
            self.events.1,
            self.events.0 as f64 / elapsed.max(1e-9),
            done * 100.0,
            clock(left),
        );
        let mut stderr = std::io::stderr();
        let _ = if self.terminal {
            write!(stderr, "\r{line}\x1b[K")
        } else {
            writeln!(stderr, "{line}")
        };
        let _ = stderr.flush();
    }

    fn done(&self) {
        self.show();
        if self.terminal {
            eprintln!();
        }
    }
}

/// Seconds as `1h02m`, `3m05s` or `42s`.
pub fn clock(seconds: f64) -> String {
    if !seconds.is_finite() {
        return "?".to_string();
    }
    let total = seconds.round() as u64;
    match (total / 3600, total / 60 % 60, total % 60) {
        (0, 0, secs) => format!("{secs}s"),
        (0, mins, secs) => format!("{mins}m{secs:02}s"),
        (hours, mins, _) => format!("{hours}h{mins:02}m"),
    }
}

#[cfg(test)]
mod tests {
    use super::clock;

    #[test]
    fn durations_read_like_a_clock() {
        assert_eq!(clock(42.2), "42s");
        assert_eq!(clock(185.0), "3m05s");
        assert_eq!(clock(3720.0), "1h02m");
        assert_eq!(clock(f64::NAN), "?");
    }
}
