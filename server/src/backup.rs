//! Backups as the operator sees them: `runboard backup --to FILE`, `runboard
//! restore --from FILE`, and the server's scheduled backups
//! (`RUNBOARD_BACKUP_DIR`, `RUNBOARD_BACKUP_EVERY`, `RUNBOARD_BACKUP_KEEP`).
//!
//! The database is copied by [`store::backup`] (consistent while the server
//! writes; see there why `VACUUM INTO`). Artifact files on the local disk are
//! copied after it into `FILE.artifacts/`, so every file the copy's rows name is
//! there unless it was deleted meanwhile; files written after the snapshot are
//! copied too and are harmless. Files in an S3 bucket stay where they are: the
//! bucket is the operator's to back up. A restore puts both back, the artifact
//! directory it replaces kept beside it like the database.

use crate::config::Config;
use anyhow::Context;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};
use store::backup::{self, ServerLock, Written};
use tokio::sync::watch;

/// The directory the artifact files of the backup `file` are copied to.
pub fn artifacts_beside(file: &Path) -> PathBuf {
    backup::with_suffix(file, ".artifacts")
}

/// The database file the configuration names.
fn database_file(config: &Config) -> anyhow::Result<PathBuf> {
    if config.on_postgres() {
        // Said without the URL: it may hold a password.
        anyhow::bail!(crate::config::POSTGRES_BACKUPS);
    }
    store::db::sqlite_file(&config.database_url).with_context(|| {
        format!(
            "{} is not a database file that can be backed up or restored",
            config.database_url
        )
    })
}

/// What a backup wrote, for the log and the command's output.
#[derive(Debug)]
pub struct Report {
    pub database: Written,
    /// Artifact files copied and their bytes (`None`: they are in S3).
    pub artifacts: Option<(u64, u64)>,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({} bytes) in {:.1} s",
            self.database.path.display(),
            self.database.bytes,
            self.database.took.as_secs_f64()
        )?;
        match self.artifacts {
            Some((files, bytes)) => write!(
                f,
                "; {files} artifact files ({bytes} bytes) in {}",
                artifacts_beside(&self.database.path).display()
            ),
            None => write!(f, "; artifacts are in the S3 bucket and were left there"),
        }
    }
}

/// Backs the configured database up to `to`, with its local artifact files.
pub async fn backup_to(config: &Config, to: &Path) -> anyhow::Result<Report> {
    let database = database_file(config)?;
    let artifacts_to = artifacts_beside(to);
    if artifacts_to.exists() {
        anyhow::bail!(
            "{} already exists; choose another name or remove it first",
            artifacts_to.display()
        );
    }
    let written = backup::backup(&database, to).await?;
    let artifacts = if config.s3_bucket.is_some() {
        None
    } else {
        let from = PathBuf::from(&config.artifact_dir);
        let copied = tokio::task::spawn_blocking(move || copy_tree(&from, &artifacts_to))
            .await
            .context("the artifact copy stopped")??;
        Some(copied)
    };
    Ok(Report {
        database: written,
        artifacts,
    })
}

/// Copies the directory `from` (absent: nothing) to `to`, which must not exist;
/// returns the files and bytes copied. Written under a temporary name and
/// renamed, so `to` is complete when it exists.
fn copy_tree(from: &Path, to: &Path) -> anyhow::Result<(u64, u64)> {
    let partial = backup::with_suffix(to, ".partial");
    if partial.exists() {
        std::fs::remove_dir_all(&partial)
            .with_context(|| format!("removing {}", partial.display()))?;
    }
    std::fs::create_dir_all(&partial).with_context(|| format!("creating {}", partial.display()))?;
    let mut totals = (0, 0);
    if from.is_dir() {
        copy_dir(from, &partial, &mut totals)?;
    }
    std::fs::rename(&partial, to).with_context(|| format!("renaming to {}", to.display()))?;
    Ok(totals)
}

fn copy_dir(from: &Path, to: &Path, totals: &mut (u64, u64)) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry.with_context(|| format!("reading {}", from.display()))?;
        let kind = entry.file_type()?;
        let target = to.join(entry.file_name());
        if kind.is_dir() {
            std::fs::create_dir(&target)
                .with_context(|| format!("creating {}", target.display()))?;
            copy_dir(&entry.path(), &target, totals)?;
        } else if kind.is_file() {
            let bytes = std::fs::copy(entry.path(), &target)
                .with_context(|| format!("copying {}", entry.path().display()))?;
            totals.0 += 1;
            totals.1 += bytes;
        }
        // Anything else (a symlink, a socket) is not an artifact the store wrote.
    }
    Ok(())
}

/// What a restore did, for the command's output.
#[derive(Debug)]
pub struct RestoreReport {
    pub database: PathBuf,
    pub restored: backup::Restored,
    pub artifacts: RestoredArtifacts,
}

/// What a restore did with artifact files.
#[derive(Debug)]
pub enum RestoredArtifacts {
    /// The backup's files went into `dir`; the ones they replaced are in `kept`.
    Restored { dir: PathBuf, kept: Option<PathBuf> },
    /// The backup has no artifact directory beside it: `dir` was left as it is.
    NoneInBackup { dir: PathBuf },
    /// Artifacts are in S3 and were left there.
    InS3,
}

impl std::fmt::Display for RestoreReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let inspected = &self.restored.inspected;
        writeln!(
            f,
            "Restored {} (schema version {}{}).",
            self.database.display(),
            inspected.schema_version,
            if inspected.schema_version < inspected.current_version {
                format!(
                    "; the server brings it up to {} on its next start",
                    inspected.current_version
                )
            } else {
                String::new()
            }
        )?;
        if let Some(previous) = &self.restored.previous {
            writeln!(
                f,
                "The database it replaced is kept as {} (remove it when you no longer need it).",
                previous.display()
            )?;
        }
        match &self.artifacts {
            RestoredArtifacts::Restored { dir, kept } => {
                write!(f, "Artifact files restored into {}", dir.display())?;
                match kept {
                    Some(kept) => write!(f, "; the ones they replaced are in {}.", kept.display()),
                    None => write!(f, "."),
                }
            }
            RestoredArtifacts::NoneInBackup { dir } => write!(
                f,
                "The backup has no artifact files beside it; {} was left as it is.",
                dir.display()
            ),
            RestoredArtifacts::InS3 => write!(
                f,
                "Artifacts are in the S3 bucket and were left where they are."
            ),
        }
    }
}

/// Restores the configured database (and local artifact directory) from the
/// backup `from`. Refused while a server uses the database, and for a file that
/// is not a Runboard database this build can serve; then nothing changes.
pub async fn restore_from(config: &Config, from: &Path) -> anyhow::Result<RestoreReport> {
    let database = database_file(config)?;
    let lock = ServerLock::acquire(&database).map_err(|error| match error {
        backup::BackupError::InUse { .. } => {
            anyhow::anyhow!(
                "refusing to restore: {error}. Stop the server first; nothing was changed"
            )
        }
        other => other.into(),
    })?;
    let artifacts_from = artifacts_beside(from);
    let artifact_dir = PathBuf::from(&config.artifact_dir);
    // Staged before the database is touched: a failure here changes nothing.
    // The cheap refusal (not SQLite at all) before copying any artifact; the
    // rest of the checks run on the database's staged copy.
    backup::inspect_header(from)?;
    let staged = if config.s3_bucket.is_none() && artifacts_from.is_dir() {
        let staged = backup::with_suffix(&artifact_dir, ".restoring");
        let (source, target) = (artifacts_from.clone(), staged.clone());
        if target.exists() {
            std::fs::remove_dir_all(&target)
                .with_context(|| format!("removing {}", target.display()))?;
        }
        tokio::task::spawn_blocking(move || copy_tree(&source, &target))
            .await
            .context("the artifact copy stopped")??;
        Some(staged)
    } else {
        None
    };
    let restored = match backup::restore(from, &database, &lock).await {
        Ok(restored) => restored,
        Err(error) => {
            if let Some(staged) = &staged {
                let _ = std::fs::remove_dir_all(staged);
            }
            return Err(error.into());
        }
    };
    let artifacts = match staged {
        Some(staged) => {
            let kept = if artifact_dir.exists() {
                let kept = backup::with_suffix(
                    &artifact_dir,
                    &format!(
                        ".before-restore-{}",
                        chrono::Utc::now().format("%Y%m%dT%H%M%SZ")
                    ),
                );
                std::fs::rename(&artifact_dir, &kept)
                    .with_context(|| format!("moving {} aside", artifact_dir.display()))?;
                Some(kept)
            } else {
                None
            };
            std::fs::rename(&staged, &artifact_dir)
                .with_context(|| format!("moving the artifacts into {}", artifact_dir.display()))?;
            RestoredArtifacts::Restored {
                dir: artifact_dir,
                kept,
            }
        }
        None if config.s3_bucket.is_some() => RestoredArtifacts::InS3,
        None => RestoredArtifacts::NoneInBackup { dir: artifact_dir },
    };
    drop(lock);
    Ok(RestoreReport {
        database,
        restored,
        artifacts,
    })
}

/// The scheduled backups' settings.
#[derive(Clone, Debug)]
pub struct Schedule {
    pub dir: PathBuf,
    pub every: Duration,
    pub keep: usize,
}

impl Schedule {
    pub fn from_config(config: &Config) -> Option<Schedule> {
        Some(Schedule {
            dir: config.backup_dir.clone()?,
            every: config.backup_every?,
            keep: usize::try_from(config.backup_keep)
                .unwrap_or(usize::MAX)
                .max(1),
        })
    }
}

/// Scheduled backups' names: `runboard-20261202T101500Z.db`, which sort by time.
const PREFIX: &str = "runboard-";
const SUFFIX: &str = ".db";

fn scheduled_name(at: chrono::DateTime<chrono::Utc>) -> String {
    format!("{PREFIX}{}{SUFFIX}", at.format("%Y%m%dT%H%M%SZ"))
}

/// The scheduled backups in `dir`, oldest first, with their times.
fn scheduled_backups(dir: &Path) -> Vec<(chrono::DateTime<chrono::Utc>, PathBuf)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<_> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            let stamp = name.strip_prefix(PREFIX)?.strip_suffix(SUFFIX)?;
            let at = chrono::NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%M%SZ").ok()?;
            Some((at.and_utc(), entry.path()))
        })
        .collect();
    found.sort();
    found
}

/// Removes the oldest scheduled backups (with their artifacts) beyond `keep`.
fn prune(dir: &Path, keep: usize) {
    let backups = scheduled_backups(dir);
    let excess = backups.len().saturating_sub(keep);
    for (_, file) in backups.into_iter().take(excess) {
        let artifacts = artifacts_beside(&file);
        if let Err(error) = std::fs::remove_file(&file) {
            tracing::warn!(%error, file = %file.display(), "backup: could not remove an old backup");
            continue;
        }
        if artifacts.exists() {
            if let Err(error) = std::fs::remove_dir_all(&artifacts) {
                tracing::warn!(%error, dir = %artifacts.display(), "backup: could not remove an old backup's artifacts");
            }
        }
        tracing::info!(file = %file.display(), "backup: removed an old backup");
    }
}

/// Removes what an interrupted backup left in `dir` (partial copies).
fn remove_partials(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(PREFIX) && name.contains(".partial") {
            let path = entry.path();
            let removed = if path.is_dir() {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
            if removed.is_ok() {
                tracing::info!(path = %path.display(), "backup: removed an interrupted backup");
            }
        }
    }
}

/// When the next scheduled backup is due: one interval after the newest in the
/// directory (at once if that is past), so that restarts neither skip nor
/// repeat backups.
fn next_due(schedule: &Schedule) -> Duration {
    let Some((newest, _)) = scheduled_backups(&schedule.dir).pop() else {
        return Duration::ZERO;
    };
    let age = SystemTime::now()
        .duration_since(SystemTime::from(newest))
        .unwrap_or(Duration::ZERO);
    schedule.every.saturating_sub(age)
}

/// Takes one scheduled backup and prunes the old ones; logs the outcome.
pub async fn scheduled_backup(config: &Config, schedule: &Schedule) -> anyhow::Result<Report> {
    std::fs::create_dir_all(&schedule.dir)
        .with_context(|| format!("creating {}", schedule.dir.display()))?;
    let mut at = chrono::Utc::now();
    let mut file = schedule.dir.join(scheduled_name(at));
    // Two backups within a second (a very short interval): the next second's name.
    while file.exists() || artifacts_beside(&file).exists() {
        at += chrono::Duration::seconds(1);
        file = schedule.dir.join(scheduled_name(at));
    }
    let report = backup_to(config, &file).await?;
    prune(&schedule.dir, schedule.keep);
    Ok(report)
}

/// The server's scheduled backups, until `stop` changes.
pub async fn run_schedule(config: Config, schedule: Schedule, mut stop: watch::Receiver<bool>) {
    remove_partials(&schedule.dir);
    let mut wait = next_due(&schedule);
    tracing::info!(
        dir = %schedule.dir.display(),
        every_secs = schedule.every.as_secs(),
        keep = schedule.keep,
        first_in_secs = wait.as_secs(),
        "backup: scheduled"
    );
    loop {
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => return,
        }
        let started = std::time::Instant::now();
        match scheduled_backup(&config, &schedule).await {
            Ok(report) => {
                metrics::counter!(store::metrics::BACKUPS, "result" => "ok").increment(1);
                metrics::gauge!(store::metrics::BACKUP_DURATION)
                    .set(started.elapsed().as_secs_f64());
                metrics::gauge!(store::metrics::BACKUP_LAST_SUCCESS)
                    .set(chrono::Utc::now().timestamp() as f64);
                tracing::info!(
                    path = %report.database.path.display(),
                    bytes = report.database.bytes,
                    took_ms = u64::try_from(report.database.took.as_millis()).unwrap_or(u64::MAX),
                    "backup: written {report}"
                );
            }
            Err(error) => {
                metrics::counter!(store::metrics::BACKUPS, "result" => "failed").increment(1);
                tracing::error!("backup: failed: {error:#}");
            }
        }
        wait = schedule.every;
    }
}

/// Holds the server's lock on its database file for the server's life
/// ([`ServerLock`]); `None` for an in-memory database.
pub fn lock_database(config: &Config) -> anyhow::Result<Option<ServerLock>> {
    match store::db::sqlite_file(&config.database_url) {
        Some(file) => Ok(Some(ServerLock::acquire(&file).map_err(|error| {
            anyhow::anyhow!(
                "cannot start: {error} (one server per database; a restore holds it too)"
            )
        })?)),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheduled_names_sort_by_time_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let early = chrono::DateTime::parse_from_rfc3339("2026-12-02T09:00:00Z")
            .unwrap()
            .to_utc();
        let late = early + chrono::Duration::hours(6);
        for at in [late, early] {
            std::fs::write(dir.path().join(scheduled_name(at)), b"x").unwrap();
        }
        std::fs::write(dir.path().join("notes.txt"), b"x").unwrap();
        let found = scheduled_backups(dir.path());
        assert_eq!(
            found.iter().map(|(at, _)| *at).collect::<Vec<_>>(),
            [early, late]
        );
        assert_eq!(scheduled_name(early), "runboard-20261202T090000Z.db");
    }
}
