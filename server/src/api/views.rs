//! The owner API for saved views (`/api/views`): named queries of the runs list,
//! private or shared with the account. Everyone may save views of their own;
//! sharing one takes a member; a view is changed by its author, and a shared view
//! also by an account owner ([`store::db::views`] holds that rule).

use super::auth::Caller;
use crate::http::{created, ok, ApiJson, ApiResult, Envelope, ErrorEnvelope};
use app::state::AppState;
use axum::extract::{Path, State};
use model::{parse_public_id, SavedView};
use serde::{Deserialize, Serialize};
use store::db::views::{self, ViewChange};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateViewBody {
    /// 1–80 characters.
    #[schema(
        min_length = 1,
        max_length = 80,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    name: String,
    /// The runs list's query (docs/query.md); empty for every run.
    q: String,
    /// The list's columns (`status`, `input.company.name`, …); absent or empty for the default.
    #[schema(schema_with = super::columns_list)]
    columns: Option<Vec<String>>,
    /// Seen by everyone in the account (members and owners may share).
    shared: Option<bool>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct PatchViewBody {
    #[schema(
        min_length = 1,
        max_length = 80,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    name: Option<String>,
    q: Option<String>,
    /// An empty list goes back to the default columns.
    #[schema(schema_with = super::columns_list)]
    columns: Option<Vec<String>>,
    shared: Option<bool>,
}

#[derive(Serialize, ToSchema)]
pub struct ViewList {
    pub views: Vec<SavedView>,
}

#[derive(Serialize, ToSchema)]
pub struct ViewDeleted {
    pub deleted: bool,
}

#[utoipa::path(get, path = "/api/views", tag = "views",
    description = "The caller's own views and the account's shared ones, by name.",
    responses((status = 200, body = Envelope<ViewList>), (status = 401, body = ErrorEnvelope)))]
async fn list(State(state): State<AppState>, caller: Caller) -> ApiResult {
    ok(ViewList {
        views: views::list_views(&state.db.read, caller.account_pk, caller.user_pk).await?,
    })
}

#[utoipa::path(post, path = "/api/views", tag = "views", request_body = CreateViewBody,
    responses((status = 201, body = Envelope<SavedView>), (status = 400, body = ErrorEnvelope), (status = 401, body = ErrorEnvelope),
        (status = 403, description = "Viewers may not share views", body = ErrorEnvelope)))]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateViewBody>,
) -> ApiResult {
    let change = ViewChange {
        name: Some(body.name),
        q: Some(body.q),
        columns: body.columns,
        shared: body.shared,
    };
    created(views::create_view(&state.db, &caller.actor(), caller.role, change).await?)
}

#[utoipa::path(get, path = "/api/views/{id}", tag = "views", params(("id" = Uuid, Path)),
    responses((status = 200, body = Envelope<SavedView>), (status = 401, body = ErrorEnvelope),
        (status = 404, description = "Unknown, another account's, or someone else's private view", body = ErrorEnvelope)))]
async fn get_one(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult {
    ok(views::get_view(
        &state.db.read,
        caller.account_pk,
        caller.user_pk,
        parse_public_id(&id)?,
    )
    .await?)
}

#[utoipa::path(patch, path = "/api/views/{id}", tag = "views", params(("id" = Uuid, Path)), request_body = PatchViewBody,
    responses((status = 200, body = Envelope<SavedView>), (status = 400, body = ErrorEnvelope), (status = 401, body = ErrorEnvelope),
        (status = 403, description = "Not the view's author (nor, for a shared view, an owner)", body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope)))]
async fn patch(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PatchViewBody>,
) -> ApiResult {
    let change = ViewChange {
        name: body.name,
        q: body.q,
        columns: body.columns,
        shared: body.shared,
    };
    ok(views::update_view(
        &state.db,
        &caller.actor(),
        caller.role,
        parse_public_id(&id)?,
        change,
    )
    .await?)
}

#[utoipa::path(delete, path = "/api/views/{id}", tag = "views", params(("id" = Uuid, Path)),
    responses((status = 200, body = Envelope<ViewDeleted>), (status = 401, body = ErrorEnvelope),
        (status = 403, description = "Not the view's author (nor, for a shared view, an owner)", body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope)))]
async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult {
    views::delete_view(
        &state.db,
        &caller.actor(),
        caller.role,
        parse_public_id(&id)?,
    )
    .await?;
    ok(ViewDeleted { deleted: true })
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get_one, patch, delete))
}
