//! Managing the people of an account: adding (with a password, or with a
//! one-time invitation link), changing roles, removing, joining through an
//! invitation, and changing one's own password. Each is one write transaction
//! with its audit entry; an account always keeps an owner.

use super::audit::{self, Actor, Target};
use super::users::{self, NO_PASSWORD};
use super::{now_ms, tokens, Db};
use crate::auth;
use crate::db::sql::{self, Conn};
use model::{AddedMember, AppError, AuditAction, ConflictCode, Member, Role, UserPk};
use serde_json::json;
use uuid::Uuid;

/// How long an invitation link can be used.
pub const INVITE_TTL_MS: i64 = 72 * 3600 * 1000;

/// What [`add_member`] was asked to do.
#[derive(Clone, Debug)]
pub struct NewMember {
    pub email: String,
    pub role: Role,
    /// Without one, the answer carries an invitation link.
    pub password: Option<String>,
}

/// Adds a user to the actor's account. Returns the member and, when no password
/// was given, the secret of its invitation (the caller makes the link).
pub async fn add_member(
    db: &Db,
    actor: &Actor,
    new: NewMember,
) -> Result<(Member, Option<String>), AppError> {
    auth::validate_email(&new.email)?;
    let hash = match &new.password {
        Some(password) => {
            auth::validate_password(password)?;
            auth::hash_password_off_thread(password.clone()).await?
        }
        None => NO_PASSWORD.to_string(),
    };
    let mut tx = db.begin_write().await?;
    if users::email_in_use(&mut tx, &new.email).await? {
        return Err(AppError::conflict(
            ConflictCode::EmailTaken,
            format!("a user with email {} exists already", new.email.trim()),
        ));
    }
    let user_pk =
        users::create_user(&mut tx, actor.account_pk, &new.email, &hash, new.role).await?;
    let id: String = sql::query_scalar("SELECT id FROM users WHERE pk = ?")
        .bind(user_pk)
        .fetch_one(&mut *tx)
        .await?;
    let (_, member) = users::get_member(&mut tx, actor.account_pk, parse_id(&id)?).await?;
    let invite = match new.password {
        Some(_) => None,
        None => Some(create_invite(&mut tx, user_pk).await?),
    };
    audit::record(
        &mut tx,
        actor,
        AuditAction::UserCreate,
        Target::new("user", member.id).with_detail(json!({
            "email": member.email,
            "role": member.role,
            "invited": invite.is_some(),
        })),
    )
    .await?;
    tx.commit().await?;
    Ok((member, invite))
}

/// The answer to `POST /api/users`, with the invitation link made from the
/// public URL.
pub fn added(member: Member, invite_secret: Option<String>, public_url: &str) -> AddedMember {
    AddedMember {
        member,
        invite_url: invite_secret
            .map(|secret| format!("{}/invite/{secret}", public_url.trim_end_matches('/'))),
    }
}

async fn create_invite(conn: &mut Conn, user_pk: UserPk) -> Result<String, AppError> {
    let secret = tokens::random_secret(40);
    let now = now_ms();
    sql::query(
        "INSERT INTO invites (user_pk, token_hash, created_at, expires_at) VALUES (?, ?, ?, ?)",
    )
    .bind(user_pk)
    .bind(tokens::hash_token(&secret))
    .bind(now)
    .bind(now + INVITE_TTL_MS)
    .execute(conn)
    .await?;
    Ok(secret)
}

fn parse_id(id: &str) -> Result<Uuid, AppError> {
    id.parse().map_err(|_| AppError::Internal)
}

/// `last_owner` (409, with `refusal` as its message) when `member` is the
/// account's only owner: an account always keeps one.
async fn keep_an_owner(
    conn: &mut Conn,
    actor: &Actor,
    user_pk: UserPk,
    member: &Member,
    refusal: &str,
) -> Result<(), AppError> {
    if member.role == Role::Owner
        && users::other_owners(conn, actor.account_pk, user_pk).await? == 0
    {
        return Err(AppError::conflict(ConflictCode::LastOwner, refusal));
    }
    Ok(())
}

/// Gives a member another role. The last owner cannot be demoted. The member's
/// sessions and JWTs end; their API tokens act with the new role.
pub async fn change_role(db: &Db, actor: &Actor, id: Uuid, role: Role) -> Result<Member, AppError> {
    let mut tx = db.begin_write().await?;
    let (user_pk, member) = users::get_member(&mut tx, actor.account_pk, id).await?;
    if member.role == role {
        return Ok(member);
    }
    keep_an_owner(
        &mut tx,
        actor,
        user_pk,
        &member,
        "the account's last owner cannot be demoted; make another member owner first",
    )
    .await?;
    users::set_role(&mut tx, user_pk, role).await?;
    audit::record(
        &mut tx,
        actor,
        AuditAction::UserRole,
        Target::new("user", id).with_detail(json!({
            "email": member.email,
            "from": member.role,
            "to": role,
        })),
    )
    .await?;
    tx.commit().await?;
    Ok(Member { role, ..member })
}

/// Removes a member, with their API tokens; the last owner cannot be removed.
pub async fn remove_member(db: &Db, actor: &Actor, id: Uuid) -> Result<(), AppError> {
    let mut tx = db.begin_write().await?;
    let (user_pk, member) = users::get_member(&mut tx, actor.account_pk, id).await?;
    keep_an_owner(
        &mut tx,
        actor,
        user_pk,
        &member,
        "the account's last owner cannot be removed",
    )
    .await?;
    users::delete_user(&mut tx, user_pk).await?;
    audit::record(
        &mut tx,
        actor,
        AuditAction::UserRemove,
        Target::new("user", id).with_detail(json!({ "email": member.email })),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The member an unused, unexpired invitation names, for the invitation page.
pub async fn invited_email(db: &Db, secret: &str) -> Result<String, AppError> {
    sql::query_scalar(
        "SELECT u.email FROM invites i JOIN users u ON u.pk = i.user_pk
         WHERE i.token_hash = ? AND i.used_at IS NULL AND i.expires_at > ?",
    )
    .bind(tokens::hash_token(secret))
    .bind(now_ms())
    .fetch_optional(&db.read)
    .await?
    .ok_or(AppError::NotFound)
}

/// Sets the password of an invited user and uses the invitation up; returns the
/// user, to be signed in. An unknown, used or expired invitation is `NotFound`.
pub async fn accept_invite(
    db: &Db,
    secret: &str,
    password: &str,
    ip: Option<String>,
) -> Result<UserPk, AppError> {
    auth::validate_password(password)?;
    let hash = auth::hash_password_off_thread(password.to_string()).await?;
    let mut tx = db.begin_write().await?;
    let found: Option<(i64, UserPk)> = sql::query_as(
        "SELECT pk, user_pk FROM invites
         WHERE token_hash = ? AND used_at IS NULL AND expires_at > ?",
    )
    .bind(tokens::hash_token(secret))
    .bind(now_ms())
    .fetch_optional(&mut *tx)
    .await?;
    let (invite_pk, user_pk) = found.ok_or(AppError::NotFound)?;
    sql::query("UPDATE invites SET used_at = ? WHERE pk = ?")
        .bind(now_ms())
        .bind(invite_pk)
        .execute(&mut *tx)
        .await?;
    users::set_password(&mut tx, user_pk, &hash).await?;
    let user = users::find_current_user(&mut *tx, user_pk)
        .await?
        .ok_or(AppError::NotFound)?;
    let actor = Actor {
        account_pk: user.account_pk,
        user_pk: Some(user_pk),
        name: user.email.clone(),
        via: model::Via::Session,
        ip,
    };
    audit::record(&mut tx, &actor, AuditAction::UserJoin, Target::default()).await?;
    tx.commit().await?;
    Ok(user_pk)
}

/// Changes the actor's own password after checking the current one. Returns the
/// new epoch: the caller keeps its own session under it, every other session and
/// JWT of the user ends.
pub async fn change_password(
    db: &Db,
    actor: &Actor,
    current: &str,
    new_password: &str,
) -> Result<i64, AppError> {
    let user_pk = actor.user_pk.ok_or(AppError::Unauthorized)?;
    auth::validate_password(new_password)?;
    let stored: String = sql::query_scalar("SELECT password_hash FROM users WHERE pk = ?")
        .bind(user_pk)
        .fetch_optional(&db.read)
        .await?
        .ok_or(AppError::Unauthorized)?;
    if !auth::verify_password_off_thread(current.to_string(), stored).await? {
        return Err(AppError::invalid(
            "current",
            "the current password is wrong",
        ));
    }
    let hash = auth::hash_password_off_thread(new_password.to_string()).await?;
    let mut tx = db.begin_write().await?;
    let epoch = users::set_password(&mut tx, user_pk, &hash).await?;
    audit::record(&mut tx, actor, AuditAction::UserPassword, Target::default()).await?;
    tx.commit().await?;
    Ok(epoch)
}
