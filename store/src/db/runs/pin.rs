//! Pinning: a pinned run is kept whatever the retention policy says, with its
//! events and artifacts ([`crate::prune`] never selects one).

use super::read::{get_run, get_run_by_pk, StoredRun};
use crate::db::audit::{self, Actor, Target};
use crate::db::sql;
use crate::db::{changes, now_ms, Db};
use model::{AppError, AuditAction, ChangeData};
use uuid::Uuid;

/// Pins (or unpins) a run of the actor's account; returns the run. Pinning a
/// pinned run changes nothing and records nothing.
pub async fn set_pinned(
    db: &Db,
    actor: &Actor,
    id: Uuid,
    pinned: bool,
) -> Result<StoredRun, AppError> {
    let mut tx = db.begin_write().await?;
    let run = get_run(&mut tx, actor.account_pk, id).await?;
    if run.run.pinned == pinned {
        return Ok(run);
    }
    sql::query("UPDATE runs SET pinned = ?, updated_at = ? WHERE pk = ?")
        .bind(pinned)
        .bind(now_ms())
        .bind(run.pk)
        .execute(&mut *tx)
        .await?;
    let stored = get_run_by_pk(&mut tx, run.pk).await?;
    changes::record_for_run(&mut tx, run.pk, &ChangeData::RunUpdated(stored.run.clone())).await?;
    let action = if pinned {
        AuditAction::RunPin
    } else {
        AuditAction::RunUnpin
    };
    audit::record(&mut tx, actor, action, Target::new("run", id)).await?;
    tx.commit().await?;
    Ok(stored)
}
