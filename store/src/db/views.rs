//! Saved views: named queries of the runs list. A person sees their own views and
//! the account's shared ones; anyone may save views, sharing one takes a member;
//! only a view's author changes it, and an account owner may also change or
//! delete shared views (someone has to tidy up after a person leaves). Every
//! change is audited. The API and the dashboard both come here with the caller's
//! role, so the rule is this module's alone.

use super::audit::{self, Actor, Target};
use super::{from_ms, now_ms, Db};
use crate::db::sql::{self, Conn, Pool};
use model::{
    validate_view_columns, validate_view_name, validate_view_query, AccountPk, AppError,
    AuditAction, Role, SavedView, UserPk, MAX_VIEWS_PER_USER,
};
use serde_json::json;
use uuid::Uuid;

const VIEW_SELECT: &str =
    "SELECT v.pk, v.id, v.name, v.q, v.columns, v.shared <> 0 AS shared, v.user_pk,
        u.email AS author, v.created_at, v.updated_at
    FROM saved_views v JOIN users u ON u.pk = v.user_pk";

#[derive(sqlx::FromRow)]
struct ViewRow {
    pk: i64,
    id: String,
    name: String,
    q: String,
    columns: Option<String>,
    shared: bool,
    user_pk: UserPk,
    author: String,
    created_at: i64,
    updated_at: i64,
}

impl ViewRow {
    fn into_view(self, viewer: UserPk) -> Result<SavedView, AppError> {
        Ok(SavedView {
            id: self.id.parse().map_err(|_| AppError::Internal)?,
            name: self.name,
            q: self.q,
            columns: self
                .columns
                .as_deref()
                .and_then(|columns| serde_json::from_str(columns).ok()),
            shared: self.shared,
            author: self.author,
            mine: self.user_pk == viewer,
            created_at: from_ms(self.created_at),
            updated_at: from_ms(self.updated_at),
        })
    }
}

/// The views a person sees, shared ones and their own, by name.
pub async fn list_views(
    pool: &Pool,
    account_pk: AccountPk,
    user_pk: UserPk,
) -> Result<Vec<SavedView>, AppError> {
    let rows: Vec<ViewRow> = sql::query_as(format!(
        "{VIEW_SELECT} WHERE v.account_pk = ? AND (v.shared = 1 OR v.user_pk = ?)
         ORDER BY lower(v.name), v.pk"
    ))
    .bind(account_pk)
    .bind(user_pk)
    .fetch_all(pool)
    .await?;
    rows.into_iter().map(|row| row.into_view(user_pk)).collect()
}

/// One view the person sees; another account's, or someone's private view, is `NotFound`.
pub async fn get_view(
    pool: &Pool,
    account_pk: AccountPk,
    user_pk: UserPk,
    id: Uuid,
) -> Result<SavedView, AppError> {
    let mut conn = pool.acquire().await?;
    visible_row(&mut conn, account_pk, user_pk, id)
        .await?
        .into_view(user_pk)
}

async fn visible_row(
    conn: &mut Conn,
    account_pk: AccountPk,
    user_pk: UserPk,
    id: Uuid,
) -> Result<ViewRow, AppError> {
    sql::query_as(format!(
        "{VIEW_SELECT} WHERE v.account_pk = ? AND v.id = ? AND (v.shared = 1 OR v.user_pk = ?)"
    ))
    .bind(account_pk)
    .bind(id.to_string())
    .bind(user_pk)
    .fetch_optional(conn)
    .await?
    .ok_or(AppError::NotFound)
}

/// What a new view holds, or what a change sets (`None`: keep).
#[derive(Clone, Debug, Default)]
pub struct ViewChange {
    pub name: Option<String>,
    pub q: Option<String>,
    /// An empty list goes back to the default columns.
    pub columns: Option<Vec<String>>,
    pub shared: Option<bool>,
}

/// Sharing a view takes a member: viewers keep their views to themselves.
fn check_sharing(role: Role, shared: Option<bool>) -> Result<(), AppError> {
    if shared == Some(true) {
        role.require(Role::Member)?;
    }
    Ok(())
}

/// Saves a view for the acting person (whose role is `role`).
pub async fn create_view(
    db: &Db,
    actor: &Actor,
    role: Role,
    change: ViewChange,
) -> Result<SavedView, AppError> {
    check_sharing(role, change.shared)?;
    let user_pk = actor.user_pk.ok_or(AppError::Unauthorized)?;
    let name = validate_view_name(change.name.as_deref().unwrap_or_default())?;
    let q = validate_view_query(change.q.as_deref().unwrap_or_default())?;
    let columns = validate_view_columns(change.columns.as_deref().unwrap_or_default())?;
    let shared = change.shared.unwrap_or(false);
    let mut tx = db.begin_write().await?;
    let saved: i64 = sql::query_scalar("SELECT count(*) FROM saved_views WHERE user_pk = ?")
        .bind(user_pk)
        .fetch_one(&mut *tx)
        .await?;
    if saved >= MAX_VIEWS_PER_USER {
        return Err(AppError::invalid(
            "name",
            format!("a person may save at most {MAX_VIEWS_PER_USER} views; delete one first"),
        ));
    }
    let id = Uuid::now_v7();
    let now = now_ms();
    sql::query(
        "INSERT INTO saved_views (id, account_pk, user_pk, name, q, columns, shared, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(id.to_string())
    .bind(actor.account_pk)
    .bind(user_pk)
    .bind(&name)
    .bind(&q)
    .bind(columns.map(|columns| json!(columns).to_string()))
    .bind(shared)
    .bind(now)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let view = visible_row(&mut tx, actor.account_pk, user_pk, id)
        .await?
        .into_view(user_pk)?;
    audit::record(
        &mut tx,
        actor,
        AuditAction::ViewCreate,
        Target::new("view", id).with_detail(json!({"name": name, "q": q, "shared": shared})),
    )
    .await?;
    tx.commit().await?;
    Ok(view)
}

/// Changes a view: its author may, and for a shared view an account owner.
/// Anyone else gets `Forbidden` for a view they see, and `NotFound` for one they
/// do not.
pub async fn update_view(
    db: &Db,
    actor: &Actor,
    role: Role,
    id: Uuid,
    change: ViewChange,
) -> Result<SavedView, AppError> {
    check_sharing(role, change.shared)?;
    let user_pk = actor.user_pk.ok_or(AppError::Unauthorized)?;
    let name = change.name.as_deref().map(validate_view_name).transpose()?;
    let q = change.q.as_deref().map(validate_view_query).transpose()?;
    let columns = change
        .columns
        .as_deref()
        .map(validate_view_columns)
        .transpose()?;
    let mut tx = db.begin_write().await?;
    let row = writable_row(&mut tx, actor.account_pk, user_pk, id, role).await?;
    sql::query(
        "UPDATE saved_views SET name = COALESCE(?, name), q = COALESCE(?, q),
            columns = CASE WHEN ? <> 0 THEN ? ELSE columns END, shared = COALESCE(?, shared),
            updated_at = ?
         WHERE pk = ?",
    )
    .bind(&name)
    .bind(&q)
    .bind(columns.is_some())
    .bind(
        columns
            .clone()
            .flatten()
            .map(|columns| json!(columns).to_string()),
    )
    .bind(change.shared)
    .bind(now_ms())
    .bind(row.pk)
    .execute(&mut *tx)
    .await?;
    let view = visible_row(&mut tx, actor.account_pk, user_pk, id)
        .await?
        .into_view(user_pk)?;
    audit::record(
        &mut tx,
        actor,
        AuditAction::ViewUpdate,
        Target::new("view", id).with_detail(json!({
            "name": name, "q": q, "columns": columns, "shared": change.shared,
        })),
    )
    .await?;
    tx.commit().await?;
    Ok(view)
}

/// Deletes a view, on the same terms as [`update_view`].
pub async fn delete_view(db: &Db, actor: &Actor, role: Role, id: Uuid) -> Result<(), AppError> {
    let user_pk = actor.user_pk.ok_or(AppError::Unauthorized)?;
    let mut tx = db.begin_write().await?;
    let row = writable_row(&mut tx, actor.account_pk, user_pk, id, role).await?;
    sql::query("DELETE FROM saved_views WHERE pk = ?")
        .bind(row.pk)
        .execute(&mut *tx)
        .await?;
    audit::record(
        &mut tx,
        actor,
        AuditAction::ViewDelete,
        Target::new("view", id).with_detail(json!({"name": row.name})),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The one rule of who may change a view.
async fn writable_row(
    conn: &mut Conn,
    account_pk: AccountPk,
    user_pk: UserPk,
    id: Uuid,
    role: Role,
) -> Result<ViewRow, AppError> {
    let row = visible_row(conn, account_pk, user_pk, id).await?;
    if row.user_pk == user_pk || (row.shared && role == Role::Owner) {
        Ok(row)
    } else {
        Err(AppError::Forbidden(format!(
            "only {} (who saved this view) or an account owner may change it",
            row.author
        )))
    }
}
