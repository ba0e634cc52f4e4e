//! Artifacts: registered by reference or uploaded into Runboard's store.

use super::{changes, from_ms, now_ms};
use crate::db::sql::{self, Conn, Pool};
use model::{AppError, Artifact, ChangeData, RunPk};
use serde_json::Value;
use uuid::Uuid;

#[derive(Clone, Debug, Default)]
pub struct NewArtifact {
    /// Chosen by the caller when the bytes were stored under this id.
    pub id: Option<Uuid>,
    pub step_id: Option<String>,
    pub name: Option<String>,
    pub artifact_type: String,
    pub content_type: Option<String>,
    pub size_bytes: Option<i64>,
    pub sha256: Option<String>,
    pub storage_key: Option<String>,
    pub stored: bool,
    pub url: Option<String>,
    pub inline_text: Option<String>,
    pub metadata: Option<Value>,
}

/// Storage keys are paths inside the store: relative, no `..`, no backslashes or
/// control characters, so no key can point outside it.
pub fn validate_storage_key(key: &str) -> Result<(), AppError> {
    let valid = !key.is_empty()
        && key.len() <= 512
        && !key.starts_with('/')
        && !key.contains('\\')
        && !key.chars().any(char::is_control)
        && key
            .split('/')
            .all(|segment| !segment.is_empty() && segment != "." && segment != "..");
    if valid {
        Ok(())
    } else {
        Err(AppError::invalid(
            "storageKey",
            "storageKey must be a relative path without '..', empty segments or backslashes",
        ))
    }
}

/// Moves the stored files of the artifacts of these runs to the trash
/// (`storage_trash`), in the transaction that deletes their rows; returns their
/// keys. The files are deleted after that commits ([`crate::prune::discard_files`]),
/// so a crash in between leaves keys to retry, never rows whose file is gone.
pub async fn trash_files(
    conn: &mut Conn,
    run_pks: &[RunPk],
    now: i64,
) -> Result<Vec<String>, AppError> {
    if run_pks.is_empty() {
        return Ok(Vec::new());
    }
    let mut query = crate::db::sql::SqlBuilder::new(
        "INSERT INTO storage_trash (storage_key, created_at) SELECT storage_key, ",
    );
    query
        .push_bind(now)
        .push(" FROM artifacts WHERE stored = 1 AND storage_key IS NOT NULL AND run_pk IN ");
    super::prune::push_pks(&mut query, run_pks);
    query.push(" ON CONFLICT DO NOTHING RETURNING storage_key");
    Ok(query.build_query_scalar().fetch_all(conn).await?)
}

pub async fn insert_artifact(
    conn: &mut Conn,
    run_pk: RunPk,
    artifact: &NewArtifact,
) -> Result<Artifact, AppError> {
    let id = artifact.id.unwrap_or_else(Uuid::now_v7);
    let step_pk: Option<i64> = match &artifact.step_id {
        Some(step_id) => sql::query_scalar(
            "SELECT pk FROM steps WHERE run_pk = ? AND step_id = ? ORDER BY attempt DESC LIMIT 1",
        )
        .bind(run_pk)
        .bind(step_id)
        .fetch_optional(&mut *conn)
        .await?,
        None => None,
    };
    sql::query(
        "INSERT INTO artifacts (id, run_pk, step_pk, name, artifact_type, content_type, size_bytes, sha256,
                                storage_key, stored, url, inline_text, metadata, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(id.to_string())
    .bind(run_pk)
    .bind(step_pk)
    .bind(&artifact.name)
    .bind(&artifact.artifact_type)
    .bind(&artifact.content_type)
    .bind(artifact.size_bytes)
    .bind(&artifact.sha256)
    .bind(&artifact.storage_key)
    .bind(artifact.stored)
    .bind(&artifact.url)
    .bind(&artifact.inline_text)
    .bind(artifact.metadata.as_ref().map(Value::to_string))
    .bind(now_ms())
    .execute(&mut *conn)
    .await?;
    let saved = select(&mut *conn, run_pk, Some(id))
        .await?
        .into_iter()
        .next()
        .ok_or(AppError::Internal)?;
    changes::record_for_run(conn, run_pk, &ChangeData::ArtifactAdded(saved.clone())).await?;
    Ok(saved)
}

/// A row of `artifacts` (with its step's id) as [`select`] reads it.
#[derive(sqlx::FromRow)]
struct ArtifactRow {
    id: String,
    step_id: Option<String>,
    name: Option<String>,
    artifact_type: String,
    content_type: Option<String>,
    size_bytes: Option<i64>,
    sha256: Option<String>,
    storage_key: Option<String>,
    stored: bool,
    url: Option<String>,
    inline_text: Option<String>,
    metadata: Option<String>,
    created_at: i64,
}

impl ArtifactRow {
    fn into_artifact(self) -> Option<Artifact> {
        Some(Artifact {
            id: self.id.parse().ok()?,
            step_id: self.step_id,
            name: self.name,
            artifact_type: self.artifact_type,
            content_type: self.content_type,
            size_bytes: self.size_bytes,
            sha256: self.sha256,
            storage_key: self.storage_key,
            stored: self.stored,
            url: self.url,
            inline_text: self.inline_text,
            metadata: self
                .metadata
                .and_then(|text| serde_json::from_str(&text).ok()),
            created_at: from_ms(self.created_at),
        })
    }
}

async fn select<'c, E>(
    executor: E,
    run_pk: RunPk,
    one: Option<Uuid>,
) -> Result<Vec<Artifact>, AppError>
where
    E: crate::db::sql::Executor<'c>,
{
    let rows: Vec<ArtifactRow> = sql::query_as(
        "SELECT a.id, s.step_id, a.name, a.artifact_type, a.content_type, a.size_bytes, a.sha256,
                a.storage_key, a.stored <> 0 AS stored, a.url, a.inline_text, a.metadata, a.created_at
         FROM artifacts a LEFT JOIN steps s ON s.pk = a.step_pk
         WHERE a.run_pk = ? AND (? IS NULL OR a.id = ?)
         ORDER BY a.created_at, a.pk",
    )
    .bind(run_pk)
    .bind(one.map(|id| id.to_string()))
    .bind(one.map(|id| id.to_string()))
    .fetch_all(executor)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(ArtifactRow::into_artifact)
        .collect())
}

pub async fn list_artifacts(pool: &Pool, run_pk: RunPk) -> Result<Vec<Artifact>, AppError> {
    select(pool, run_pk, None).await
}

pub async fn get_artifact(pool: &Pool, run_pk: RunPk, id: Uuid) -> Result<Artifact, AppError> {
    select(pool, run_pk, Some(id))
        .await?
        .into_iter()
        .next()
        .ok_or(AppError::NotFound)
}

#[cfg(test)]
mod tests {
    use super::validate_storage_key;

    #[test]
    fn storage_keys_cannot_escape_the_store() {
        assert!(validate_storage_key("acct/run/report.html").is_ok());
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a//b",
            "a\\b",
            "./a",
            "a/\n",
        ] {
            assert!(validate_storage_key(bad).is_err(), "{bad:?}");
        }
    }
}
