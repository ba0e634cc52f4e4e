//! Who is calling the owner API: a bearer API token (`rb_…`), a bearer JWT from
//! `POST /api/auth/token`, or the dashboard's session cookie.

use crate::http::ClientIp;
use crate::http::{ok, ApiError, ApiJson, ApiResult, Envelope, ErrorEnvelope};
use app::state::AppState;
use axum::extract::{FromRequestParts, State};
use axum::http::{header, request::Parts, HeaderMap};
use model::{AccountPk, AppError, CurrentUser, Role, UserPk, Via};
use serde::{Deserialize, Serialize};
use store::db::audit::Actor;
use tower_sessions::Session;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// An authenticated caller of the owner API: who they are, what their role lets
/// them do, and how they came in. `account_pk` scopes everything they touch.
#[derive(Clone, Debug)]
pub struct Caller {
    pub account_pk: AccountPk,
    pub user_pk: UserPk,
    pub role: Role,
    pub email: String,
    pub via: Via,
    pub ip: Option<String>,
    /// What was presented, to check again later (a live stream does, so that a
    /// password or role change ends it).
    credential: Credential,
}

#[derive(Clone, Debug)]
enum Credential {
    Session { user_pk: UserPk, epoch: i64 },
    Jwt { user_id: String, epoch: i64 },
    Token { secret: String },
}

impl Caller {
    /// The role rule ([`Role::require`]) for this caller.
    pub fn require(&self, needed: Role) -> Result<(), AppError> {
        self.role.require(needed)
    }

    /// The caller as the audit log records them.
    pub fn actor(&self) -> Actor {
        Actor {
            account_pk: self.account_pk,
            user_pk: Some(self.user_pk),
            name: self.email.clone(),
            via: self.via,
            ip: self.ip.clone(),
        }
    }

    /// Whether the credential would still be accepted now: the user exists, the
    /// epoch has not moved on, the token is not revoked.
    pub async fn still_valid(&self, state: &AppState) -> bool {
        let now = match &self.credential {
            Credential::Session { user_pk, epoch } => {
                store::auth::signed_in_user(&state.db, *user_pk)
                    .await
                    .ok()
                    .flatten()
                    .filter(|user| user.auth_epoch == *epoch)
            }
            Credential::Jwt { user_id, epoch } => user_by_jwt(state, user_id, *epoch).await.ok(),
            Credential::Token { secret } => user_by_token(state, secret).await.ok(),
        };
        now.is_some_and(|user| user.user_pk == self.user_pk)
    }

    fn new(user: CurrentUser, via: Via, ip: Option<String>, credential: Credential) -> Caller {
        Caller {
            account_pk: user.account_pk,
            user_pk: user.user_pk,
            role: user.role,
            email: user.email,
            via,
            ip,
            credential,
        }
    }
}

/// The bearer token of a request, if it has one.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
        .filter(|token| !token.is_empty())
}

async fn user_by_token(state: &AppState, secret: &str) -> Result<CurrentUser, AppError> {
    let (_, user_pk) = store::db::tokens::authenticate(&state.db, secret)
        .await?
        .ok_or(AppError::Unauthorized)?;
    store::auth::signed_in_user(&state.db, user_pk)
        .await?
        .ok_or(AppError::Unauthorized)
}

async fn user_by_jwt(state: &AppState, user_id: &str, epoch: i64) -> Result<CurrentUser, AppError> {
    store::db::users::find_by_public_id(&state.db.read, user_id)
        .await?
        .filter(|user| user.auth_epoch == epoch)
        .ok_or(AppError::Unauthorized)
}

/// The caller behind a bearer credential: an API token or an API JWT.
pub async fn caller_from_bearer(
    state: &AppState,
    token: &str,
    ip: Option<String>,
) -> Result<Caller, AppError> {
    if token.starts_with(store::db::tokens::TOKEN_PREFIX) {
        let user = user_by_token(state, token).await?;
        let credential = Credential::Token {
            secret: token.to_string(),
        };
        return Ok(Caller::new(user, Via::Token, ip, credential));
    }
    let (user_id, epoch) = state.keys.verify_api_token(token)?;
    let user = user_by_jwt(state, &user_id, epoch).await?;
    Ok(Caller::new(
        user,
        Via::Jwt,
        ip,
        Credential::Jwt { user_id, epoch },
    ))
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let ip = app::session::client_ip(&parts.extensions);
        if let Some(token) = bearer(&parts.headers) {
            return Ok(caller_from_bearer(state, token, ip).await?);
        }
        let session = Session::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError(AppError::Unauthorized))?;
        let user = app::session::session_user(&state.db, &session)
            .await?
            .ok_or(AppError::Unauthorized)?;
        let credential = Credential::Session {
            user_pk: user.user_pk,
            epoch: user.auth_epoch,
        };
        Ok(Caller::new(user, Via::Session, ip, credential))
    }
}

#[derive(Deserialize, ToSchema)]
struct TokenRequest {
    email: String,
    password: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IssuedToken {
    pub token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the token expires.
    pub expires_in: i64,
}

/// `POST /api/auth/token`: email and password for an API JWT valid for an hour.
#[utoipa::path(post, path = "/api/auth/token", tag = "auth", request_body = TokenRequest, security(()),
    responses((status = 200, body = Envelope<IssuedToken>),
        (status = 400, description = "The body is not `{email, password}` as JSON", body = ErrorEnvelope),
        (status = 401, description = "Wrong email or password", body = ErrorEnvelope),
        (status = 429, description = "Too many failed logins from this address or for this email in the last minute; \
            see `Retry-After`", body = ErrorEnvelope)))]
async fn issue_token(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(request): ApiJson<TokenRequest>,
) -> ApiResult {
    let user = store::auth::login(
        &state.db,
        &state.logins,
        &request.email,
        &request.password,
        Via::Jwt,
        ip,
    )
    .await?;
    let user_id = store::db::users::public_id(&state.db.read, user.user_pk).await?;
    let token = state.keys.api_token(&user_id, user.auth_epoch)?;
    ok(IssuedToken {
        token,
        token_type: "Bearer".to_string(),
        expires_in: store::keys::API_TOKEN_TTL_SECS,
    })
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(issue_token))
}
