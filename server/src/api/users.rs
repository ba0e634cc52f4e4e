//! The owner API for the people of an account: list, add (with a password or a
//! one-time invitation link), change a role, remove. Owners only; an account
//! always keeps one owner (`409 last_owner`).

use super::auth::Caller;
use crate::http::{created, ok, ApiJson, ApiResult, Envelope, ErrorEnvelope};
use app::state::AppState;
use axum::extract::{Path, State};
use model::{parse_public_id, AddedMember, Member, Role};
use serde::{Deserialize, Serialize};
use store::db::members::{self, NewMember};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(Serialize, ToSchema)]
pub struct MemberList {
    pub users: Vec<Member>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct AddUserBody {
    #[schema(min_length = 3, max_length = 320, pattern = r"^[^@\s]+@[^@\s]+$")]
    email: String,
    role: Role,
    /// At least 10 characters and not one of the 10,000 most common passwords
    /// (a 400 naming `password`). Without one, the answer carries an `inviteUrl`
    /// (valid 72 h) for the new user to set their own.
    #[schema(min_length = 10)]
    password: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct RoleBody {
    role: Role,
}

#[derive(Serialize, ToSchema)]
pub struct Removed {
    pub removed: bool,
}

const FORBIDDEN: &str = "Not an owner";

#[utoipa::path(get, path = "/api/users", tag = "users",
    description = "The users of the caller's account, oldest first.",
    responses((status = 200, body = Envelope<MemberList>), (status = 401, body = ErrorEnvelope),
        (status = 403, description = FORBIDDEN, body = ErrorEnvelope)))]
async fn list(State(state): State<AppState>, caller: Caller) -> ApiResult {
    caller.require(Role::Owner)?;
    ok(MemberList {
        users: store::db::users::list_members(&state.db.read, caller.account_pk).await?,
    })
}

#[utoipa::path(post, path = "/api/users", tag = "users", request_body = AddUserBody,
    description = "Adds a user to the caller's account. Without a password the answer carries a one-time \
        `inviteUrl`, valid 72 h, shown only here.",
    responses((status = 201, body = Envelope<AddedMember>), (status = 400, body = ErrorEnvelope),
        (status = 401, body = ErrorEnvelope), (status = 403, description = FORBIDDEN, body = ErrorEnvelope),
        (status = 409, description = "Another user has this email (`email_taken`)", body = ErrorEnvelope)))]
async fn add(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<AddUserBody>,
) -> ApiResult {
    caller.require(Role::Owner)?;
    let new = NewMember {
        email: body.email,
        role: body.role,
        password: body.password,
    };
    let (member, invite) = members::add_member(&state.db, &caller.actor(), new).await?;
    created(members::added(member, invite, &state.public_url))
}

#[utoipa::path(patch, path = "/api/users/{id}", tag = "users", params(("id" = Uuid, Path)), request_body = RoleBody,
    description = "Changes a user's role. Their sessions and API JWTs end; their API tokens act with the new role.",
    responses((status = 200, body = Envelope<Member>), (status = 400, body = ErrorEnvelope),
        (status = 401, body = ErrorEnvelope), (status = 403, description = FORBIDDEN, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
        (status = 409, description = "The account's last owner cannot be demoted (`last_owner`)", body = ErrorEnvelope)))]
async fn change_role(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<RoleBody>,
) -> ApiResult {
    caller.require(Role::Owner)?;
    let id = parse_public_id(&id)?;
    ok(members::change_role(&state.db, &caller.actor(), id, body.role).await?)
}

#[utoipa::path(delete, path = "/api/users/{id}", tag = "users", params(("id" = Uuid, Path)),
    description = "Removes a user with their API tokens; their sessions and live streams end.",
    responses((status = 200, body = Envelope<Removed>), (status = 401, body = ErrorEnvelope),
        (status = 403, description = FORBIDDEN, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope),
        (status = 409, description = "The account's last owner cannot be removed (`last_owner`)", body = ErrorEnvelope)))]
async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult {
    caller.require(Role::Owner)?;
    members::remove_member(&state.db, &caller.actor(), parse_public_id(&id)?).await?;
    ok(Removed { removed: true })
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, add))
        .routes(routes!(change_role, remove))
}
