//! Server functions of the members and audit pages (owners) and of the
//! invitation page (anyone holding an invitation link). They call the same
//! storage functions as `/api/users` and `/api/audit`.

use leptos::prelude::*;
#[cfg(feature = "ssr")]
use model::Role;
use model::{AddedMember, AppError, AuditPage, Member};

#[server(prefix = "/fn", endpoint = "list_members")]
pub async fn list_members() -> Result<Vec<Member>, AppError> {
    ssr::with_status(async {
        let (state, user, _) = ssr::require_role(Role::Owner).await?;
        store::db::users::list_members(&state.db.read, user.account_pk).await
    })
    .await
}

/// Adds a member; an empty password means an invitation link, returned this once.
#[server(prefix = "/fn", endpoint = "add_member")]
pub async fn add_member(
    email: String,
    role: String,
    password: String,
) -> Result<AddedMember, AppError> {
    ssr::with_status(async {
        let (state, _, actor) = ssr::require_role(Role::Owner).await?;
        let new = store::db::members::NewMember {
            email,
            role: parse_role(&role)?,
            password: Some(password).filter(|password| !password.is_empty()),
        };
        let (member, invite) = store::db::members::add_member(&state.db, &actor, new).await?;
        Ok(store::db::members::added(member, invite, &state.public_url))
    })
    .await
}

#[server(prefix = "/fn", endpoint = "change_member_role")]
pub async fn change_member_role(id: String, role: String) -> Result<Member, AppError> {
    ssr::with_status(async {
        let (state, _, actor) = ssr::require_role(Role::Owner).await?;
        let id = model::parse_public_id(&id)?;
        store::db::members::change_role(&state.db, &actor, id, parse_role(&role)?).await
    })
    .await
}

#[server(prefix = "/fn", endpoint = "remove_member")]
pub async fn remove_member(id: String) -> Result<(), AppError> {
    ssr::with_status(async {
        let (state, _, actor) = ssr::require_role(Role::Owner).await?;
        let id = model::parse_public_id(&id)?;
        store::db::members::remove_member(&state.db, &actor, id).await
    })
    .await
}

/// A page of the audit log; empty strings mean no filter.
#[server(prefix = "/fn", endpoint = "read_audit_log")]
pub async fn read_audit_log(
    cursor: Option<i64>,
    actor: String,
    action: String,
) -> Result<AuditPage, AppError> {
    ssr::with_status(async {
        let (state, user, _) = ssr::require_role(Role::Owner).await?;
        let action =
            match action.trim() {
                "" => None,
                action => Some(action.parse().map_err(|_| {
                    AppError::invalid("action", format!("unknown action {action}"))
                })?),
            };
        let query = store::db::audit::AuditQuery {
            limit: AUDIT_PAGE,
            cursor,
            actor: Some(actor.trim().to_string()).filter(|actor| !actor.is_empty()),
            action,
        };
        store::db::audit::list(&state.db.read, user.account_pk, &query).await
    })
    .await
}

/// Entries per page of the audit log page.
pub const AUDIT_PAGE: i64 = 50;

/// The email an invitation is for; `NotFound` when the link is unknown, used or expired.
#[server(prefix = "/fn", endpoint = "invitation")]
pub async fn invitation(secret: String) -> Result<String, AppError> {
    ssr::with_status(async {
        let state = ssr::state()?;
        store::db::members::invited_email(&state.db, &secret).await
    })
    .await
}

/// Sets the invited user's password, signs them in and goes to the runs list.
#[server(prefix = "/fn", endpoint = "accept_invitation")]
pub async fn accept_invitation(
    secret: String,
    password: String,
    repeat: String,
) -> Result<(), AppError> {
    ssr::with_status(async {
        if password != repeat {
            return Err(AppError::invalid("repeat", "the passwords do not match"));
        }
        let state = ssr::state()?;
        let ip = ssr::client_ip().await;
        let user_pk = store::db::members::accept_invite(&state.db, &secret, &password, ip).await?;
        let user = store::db::users::find_current_user(&state.db.read, user_pk)
            .await?
            .ok_or(AppError::NotFound)?;
        let session = ssr::session().await?;
        crate::session::start_session(&session, &user).await?;
        leptos_axum::redirect("/");
        Ok(())
    })
    .await
}

#[cfg(feature = "ssr")]
fn parse_role(role: &str) -> Result<Role, AppError> {
    Role::parse(role.trim())
        .ok_or_else(|| AppError::invalid("role", "role must be owner, member or viewer"))
}

#[cfg(feature = "ssr")]
use super::ssr;
