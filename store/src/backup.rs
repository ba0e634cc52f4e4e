//! Backups of the database while the server serves and writes, and restores of
//! them when it does not.
//!
//! A backup is SQLite's `VACUUM INTO` through a read-only connection of its own.
//! In WAL mode that is an ordinary read transaction: it copies the snapshot it
//! started on, so the copy is consistent (every commit before it, none after),
//! and the writer never waits for it. Readers do not block writers in WAL mode;
//! the only cost is that checkpoints cannot move past the backup's snapshot, so
//! the `-wal` file grows by what is written meanwhile and shrinks at the next
//! checkpoint after the backup. SQLite's online backup API was the alternative:
//! copied step by step it restarts whenever another connection writes (so under
//! steady ingest it may never finish), and copied in one step it is the same read
//! transaction as `VACUUM INTO` without the compaction. Measured
//! (docs/performance.md, "Backups while serving"): a 6.9 GB database copied in
//! 66 s under 15,000 events/s of ingest, whose slowest batch took 276 ms during
//! the copy (1.3 s before it, 379 ms after): the writer is not blocked, it only
//! shares the machine's CPU and disk with the copy. The copy is written beside
//! its destination and renamed into place, so a file with the backup's name is
//! always complete.
//!
//! A restore checks the file first ([`inspect`]): a SQLite file that passes
//! `PRAGMA integrity_check`, has Runboard's tables and a migration history this
//! build knows (nothing newer, nothing changed). Only then does it replace the
//! live file: copied beside it, synced, and renamed over it, after the live
//! database's write-ahead log was checkpointed away so that no stale `-wal` or
//! `-shm` can be applied to the new file. The file it replaced stays beside it
//! (a hard link), until the operator removes it.
//!
//! A running server holds an exclusive lock on `<database>.server.lock` for its
//! whole life ([`ServerLock`]); a restore takes the same lock, so it refuses while
//! a server uses the database, and a server refuses to start during a restore.
//! The lock is the operating system's (`flock`): it ends with the process, so a
//! crashed server leaves nothing to clean up.

use crate::db::MIGRATOR;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode};
use sqlx::{ConnectOptions, Connection, SqliteConnection};
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The tables a Runboard database has whatever its version.
const REQUIRED_TABLES: [&str; 8] = [
    "accounts",
    "users",
    "agents",
    "runs",
    "events",
    "artifacts",
    "changes",
    "outbox",
];

/// The first 16 bytes of every SQLite database file.
const SQLITE_HEADER: &[u8; 16] = b"SQLite format 3\0";

/// How long the backup's connection waits for a lock (a checkpoint truncating
/// the log, say) before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0} already exists; choose another name or remove it first")]
    Exists(PathBuf),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the database could not be copied: {0}")]
    Sqlite(#[from] sqlx::Error),
    #[error("{path} is not a Runboard database: {reason}")]
    NotRunboard { path: PathBuf, reason: String },
    #[error("a Runboard server (pid {pid}) is using {database}: it holds {lock}")]
    InUse {
        database: PathBuf,
        lock: PathBuf,
        pid: String,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BackupError + '_ {
    move |source| BackupError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// What a backup wrote.
#[derive(Clone, Debug)]
pub struct Written {
    pub path: PathBuf,
    pub bytes: u64,
    pub took: Duration,
}

/// `file` with `suffix` appended to its name (`runboard.db` → `runboard.db-wal`).
pub fn with_suffix(file: &Path, suffix: &str) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// A connection of its own to `file`, read-only.
async fn read_only(file: &Path) -> Result<SqliteConnection, sqlx::Error> {
    options(file)
        .read_only(true)
        .busy_timeout(BUSY_TIMEOUT)
        .connect()
        .await
}

/// A connection to `file` for these whole-file jobs, whose statements run for
/// minutes on a large database by design (sqlx would warn about each as slow).
fn options(file: &Path) -> SqliteConnectOptions {
    SqliteConnectOptions::new()
        .filename(file)
        .disable_statement_logging()
}

/// Copies the database `database` to `to` as it is at one moment, while a
/// server may be writing to it. `to` must not exist.
pub async fn backup(database: &Path, to: &Path) -> Result<Written, BackupError> {
    if to.exists() {
        return Err(BackupError::Exists(to.to_path_buf()));
    }
    if !database.exists() {
        return Err(BackupError::Io {
            path: database.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no database here"),
        });
    }
    let started = Instant::now();
    let partial = with_suffix(to, &format!(".partial-{}", std::process::id()));
    let _ = std::fs::remove_file(&partial);
    let result = async {
        let mut conn = read_only(database).await?;
        let copied = sqlx::query("VACUUM INTO ?")
            .bind(partial.to_string_lossy().as_ref())
            .execute(&mut conn)
            .await;
        conn.close().await?;
        copied?;
        sync_file(&partial)?;
        std::fs::rename(&partial, to).map_err(io(to))?;
        sync_parent(to)?;
        Ok::<_, BackupError>(())
    }
    .await;
    if let Err(error) = result {
        let _ = std::fs::remove_file(&partial);
        return Err(error);
    }
    let bytes = std::fs::metadata(to).map_err(io(to))?.len();
    Ok(Written {
        path: to.to_path_buf(),
        bytes,
        took: started.elapsed(),
    })
}

fn sync_file(path: &Path) -> Result<(), BackupError> {
    File::open(path)
        .and_then(|file| file.sync_all())
        .map_err(io(path))
}

/// Makes a rename in `path`'s directory durable.
fn sync_parent(path: &Path) -> Result<(), BackupError> {
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    File::open(parent)
        .and_then(|dir| dir.sync_all())
        .map_err(io(parent))
}

/// What [`inspect`] found in a backup.
#[derive(Clone, Debug)]
pub struct Inspected {
    /// The newest migration applied to it.
    pub schema_version: i64,
    /// The newest migration this build knows (the server brings an older backup
    /// up to it on start).
    pub current_version: i64,
}

/// Checks that `file` is a Runboard database this build can serve: a SQLite
/// file that passes `PRAGMA integrity_check`, with Runboard's tables and a
/// migration history of migrations this build knows, unchanged. Reads only.
pub async fn inspect(file: &Path) -> Result<Inspected, BackupError> {
    let refuse = |reason: String| BackupError::NotRunboard {
        path: file.to_path_buf(),
        reason,
    };
    inspect_header(file)?;
    // Immutable: nothing is written beside the file (no -wal, no -shm), and
    // nothing of it is trusted to be a live database.
    let mut conn = options(file)
        .read_only(true)
        .immutable(true)
        .connect()
        .await
        .map_err(|error| refuse(format!("SQLite cannot open it ({error})")))?;
    let result = check_contents(&mut conn).await.map_err(refuse);
    let _ = conn.close().await;
    result
}

async fn check_contents(conn: &mut SqliteConnection) -> Result<Inspected, String> {
    let problems: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check(10)")
        .fetch_all(&mut *conn)
        .await
        .map_err(|error| format!("it is damaged: {error}"))?;
    if problems != ["ok"] {
        return Err(format!(
            "it is damaged (PRAGMA integrity_check: {})",
            problems.join("; ")
        ));
    }
    let tables: Vec<String> =
        sqlx::query_scalar("SELECT name FROM sqlite_schema WHERE type = 'table'")
            .fetch_all(&mut *conn)
            .await
            .map_err(|error| format!("its tables cannot be read: {error}"))?;
    if !tables.iter().any(|table| table == "_sqlx_migrations") {
        return Err("it has no migration history (_sqlx_migrations)".into());
    }
    let missing: Vec<&str> = REQUIRED_TABLES
        .into_iter()
        .filter(|required| !tables.iter().any(|table| table == required))
        .collect();
    if !missing.is_empty() {
        return Err(format!("it lacks the tables {}", missing.join(", ")));
    }
    let applied: Vec<(i64, bool, Vec<u8>)> =
        sqlx::query_as("SELECT version, success, checksum FROM _sqlx_migrations ORDER BY version")
            .fetch_all(&mut *conn)
            .await
            .map_err(|error| format!("its migration history cannot be read: {error}"))?;
    let current_version = MIGRATOR
        .iter()
        .map(|migration| migration.version)
        .max()
        .unwrap_or(0);
    for (version, success, checksum) in &applied {
        let Some(known) = MIGRATOR
            .iter()
            .find(|migration| migration.version == *version)
        else {
            return Err(format!(
                "it is from a newer Runboard (its schema has migration {version}; this build \
                 knows up to {current_version}): restore it with that version"
            ));
        };
        if !success {
            return Err(format!("its migration {version} did not complete"));
        }
        if checksum.as_slice() != known.checksum.as_ref() {
            return Err(format!(
                "its migration {version} differs from this build's ({})",
                known.description
            ));
        }
    }
    let schema_version = applied.last().map(|(version, ..)| *version).unwrap_or(0);
    Ok(Inspected {
        schema_version,
        current_version,
    })
}

/// The lock a server holds on its database for its whole life, and a restore
/// for its duration: an exclusive `flock` on `<database>.server.lock`.
#[derive(Debug)]
pub struct ServerLock {
    path: PathBuf,
    _file: File,
}

impl ServerLock {
    /// The lock file of `database`.
    pub fn path_for(database: &Path) -> PathBuf {
        with_suffix(database, ".server.lock")
    }

    /// Takes the lock of `database`, or says who holds it.
    pub fn acquire(database: &Path) -> Result<ServerLock, BackupError> {
        let path = ServerLock::path_for(database);
        if let Some(parent) = path
            .parent()
            .filter(|parent| !parent.as_os_str().is_empty())
        {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io(&path))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut pid = String::new();
                let _ = file.read_to_string(&mut pid);
                let pid = pid.trim();
                return Err(BackupError::InUse {
                    database: database.to_path_buf(),
                    lock: path,
                    pid: if pid.is_empty() { "unknown" } else { pid }.to_string(),
                });
            }
            Err(TryLockError::Error(error)) => return Err(io(&path)(error)),
        }
        // Who holds it, for the message of whoever finds it taken.
        let _ = file
            .set_len(0)
            .and_then(|()| write!(file, "{}", std::process::id()))
            .and_then(|()| file.flush());
        Ok(ServerLock { path, _file: file })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// What a restore did.
#[derive(Clone, Debug)]
pub struct Restored {
    pub inspected: Inspected,
    /// The database the restore replaced, kept beside it (`None` when there was none).
    pub previous: Option<PathBuf>,
}

/// Puts the backup `from` in place of the database `database`, whose lock the
/// caller holds (no server uses it). Checks `from` first ([`inspect`], on the copy
/// that will be used): a file that is not a Runboard database this build can serve
/// changes nothing.
pub async fn restore(
    from: &Path,
    database: &Path,
    _lock: &ServerLock,
) -> Result<Restored, BackupError> {
    // Cheap refusals before copying anything.
    inspect_header(from)?;
    let staged = with_suffix(database, ".restoring");
    let _ = std::fs::remove_file(&staged);
    let staged_result = async {
        std::fs::copy(from, &staged).map_err(io(&staged))?;
        let inspected = inspect(&staged).await.map_err(|error| match error {
            BackupError::NotRunboard { reason, .. } => BackupError::NotRunboard {
                path: from.to_path_buf(),
                reason,
            },
            other => other,
        })?;
        sync_file(&staged)?;
        Ok::<_, BackupError>(inspected)
    }
    .await;
    let inspected = match staged_result {
        Ok(inspected) => inspected,
        Err(error) => {
            let _ = std::fs::remove_file(&staged);
            return Err(error);
        }
    };
    let previous = if database.exists() {
        Some(keep_previous(database).await?)
    } else {
        None
    };
    // Whatever is left of the old file's log must not meet the new file.
    for stale in ["-wal", "-shm"] {
        let stale = with_suffix(database, stale);
        match std::fs::remove_file(&stale) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(io(&stale)(error)),
        }
    }
    std::fs::rename(&staged, database).map_err(io(database))?;
    sync_parent(database)?;
    Ok(Restored {
        inspected,
        previous,
    })
}

/// Refuses a file that does not even start like a SQLite database.
pub fn inspect_header(file: &Path) -> Result<(), BackupError> {
    let mut header = [0u8; 16];
    let read = File::open(file)
        .and_then(|mut opened| opened.read(&mut header))
        .map_err(io(file))?;
    if read < header.len() || &header != SQLITE_HEADER {
        return Err(BackupError::NotRunboard {
            path: file.to_path_buf(),
            reason: "it is not a SQLite database".into(),
        });
    }
    Ok(())
}

/// Keeps the database a restore is about to replace beside it, complete: its
/// write-ahead log is first checkpointed into the file (switching it to
/// rollback-journal mode does that), then the file is hard-linked to the kept
/// name. A live file SQLite cannot open (the reason for restoring, perhaps) is
/// kept as it is, with its `-wal` moved along.
async fn keep_previous(database: &Path) -> Result<PathBuf, BackupError> {
    let checkpointed = async {
        let conn = options(database)
            .busy_timeout(BUSY_TIMEOUT)
            .journal_mode(SqliteJournalMode::Delete)
            .connect()
            .await?;
        conn.close().await
    }
    .await;
    let kept = with_suffix(
        database,
        &format!(
            ".before-restore-{}",
            chrono::Utc::now().format("%Y%m%dT%H%M%SZ")
        ),
    );
    if let Err(error) = checkpointed {
        tracing::warn!(%error, "restore: the database being replaced could not be checkpointed; kept with its log");
        let wal = with_suffix(database, "-wal");
        if wal.exists() {
            std::fs::rename(&wal, with_suffix(&kept, "-wal")).map_err(io(&wal))?;
        }
    }
    if std::fs::hard_link(database, &kept).is_err() {
        std::fs::copy(database, &kept).map_err(io(&kept))?;
    }
    Ok(kept)
}
