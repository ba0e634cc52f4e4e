//! A run's tags, stored twice: as a JSON array on the run (what lists show, in the
//! order set) and as `run_tags` rows (what `tag:` filters read, by index). Every
//! change of tags goes through [`set_tags`], which keeps the two in step.

use super::read::StoredRun;
use crate::db::sql::{self, Conn};
use model::{validate_tags, AppError, RunPk};

/// Replaces a run's tags (already checked by [`model::validate_tags`]).
pub async fn set_tags(conn: &mut Conn, run_pk: RunPk, tags: &[String]) -> Result<(), sqlx::Error> {
    let json = (!tags.is_empty()).then(|| serde_json::Value::from(tags.to_vec()).to_string());
    sql::query("UPDATE runs SET tags = ? WHERE pk = ?")
        .bind(json)
        .bind(run_pk)
        .execute(&mut *conn)
        .await?;
    sql::query("DELETE FROM run_tags WHERE run_pk = ?")
        .bind(run_pk)
        .execute(&mut *conn)
        .await?;
    for tag in tags {
        sql::query(
            "INSERT INTO run_tags (run_pk, account_pk, tag, created_at)
             SELECT pk, account_pk, ?, created_at FROM runs WHERE pk = ? ON CONFLICT DO NOTHING",
        )
        .bind(tag)
        .bind(run_pk)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// The run's tags with `add` added (at the end) and `remove` removed, checked
/// like any tags (`field` names the input in errors: more than 20 is refused);
/// `None` when that changes nothing.
pub fn changed_tags(
    run: &StoredRun,
    field: &str,
    add: &[String],
    remove: &[String],
) -> Result<Option<Vec<String>>, AppError> {
    let mut tags: Vec<String> = run
        .run
        .tags
        .iter()
        .filter(|tag| !remove.contains(tag))
        .cloned()
        .collect();
    tags.extend(add.iter().cloned());
    let tags = validate_tags(field, &tags)?;
    Ok((tags != run.run.tags).then_some(tags))
}
