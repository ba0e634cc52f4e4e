//! Who is calling the owner API: a bearer API token (`rb_…`), a bearer JWT from
//! `POST /api/auth/token`, or the dashboard's session cookie.

use crate::http::{ok, ApiError, ApiJson, ApiResult, Envelope, ErrorEnvelope};
use app::state::AppState;
use axum::extract::{FromRequestParts, State};
use axum::http::{header, request::Parts, HeaderMap};
use model::{AccountPk, AppError, UserPk};
use serde::{Deserialize, Serialize};
use tower_sessions::Session;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// An authenticated owner-API caller; `account_pk` scopes everything they touch.
#[derive(Clone, Copy, Debug)]
pub struct Owner {
    pub account_pk: AccountPk,
    pub user_pk: UserPk,
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

/// The owner behind a bearer credential: an API token or an API JWT.
pub async fn owner_from_bearer(state: &AppState, token: &str) -> Result<Owner, AppError> {
    if token.starts_with(store::db::tokens::TOKEN_PREFIX) {
        let (account_pk, user_pk) = store::db::tokens::authenticate(&state.db.read, token)
            .await?
            .ok_or(AppError::Unauthorized)?;
        return Ok(Owner {
            account_pk,
            user_pk,
        });
    }
    let user_id = state.keys.verify_api_token(token)?;
    let user = store::db::users::find_by_public_id(&state.db.read, &user_id)
        .await?
        .ok_or(AppError::Unauthorized)?;
    Ok(Owner {
        account_pk: user.account_pk,
        user_pk: user.user_pk,
    })
}

impl FromRequestParts<AppState> for Owner {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(token) = bearer(&parts.headers) {
            return Ok(owner_from_bearer(state, token).await?);
        }
        let session = Session::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError(AppError::Unauthorized))?;
        let user = app::session::session_user(&state.db, &session)
            .await?
            .ok_or(AppError::Unauthorized)?;
        Ok(Owner {
            account_pk: user.account_pk,
            user_pk: user.user_pk,
        })
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
        (status = 401, description = "Wrong email or password", body = ErrorEnvelope)))]
async fn issue_token(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<TokenRequest>,
) -> ApiResult {
    let user_pk =
        store::auth::check_credentials(&state.db, &request.email, &request.password).await?;
    let user_id = store::db::users::public_id(&state.db.read, user_pk).await?;
    let token = state.keys.api_token(&user_id)?;
    ok(IssuedToken {
        token,
        token_type: "Bearer".to_string(),
        expires_in: store::keys::API_TOKEN_TTL_SECS,
    })
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(issue_token))
}
