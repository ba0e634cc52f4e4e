//! The owner API for campaigns and their runs.

use super::auth::Caller;
use super::runs::{filter_from, RunListParams};
use crate::http::{created, ok, ApiJson, ApiResult, Envelope, ErrorEnvelope};
use app::state::AppState;
use axum::extract::{Path, RawQuery, State};
use model::{parse_public_id, AppError, Campaign, Role, RunFilter, RunPage};
use serde::{Deserialize, Serialize};
use store::db::campaigns;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateCampaignBody {
    /// 1–200 characters, not only spaces (leading and trailing spaces are dropped).
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    name: String,
}

#[derive(Serialize, ToSchema)]
pub struct CampaignPage {
    pub campaigns: Vec<Campaign>,
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

/// Paging of the campaign list, read like the run list's.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct PageParams {
    /// Page size, 1–100 (default 20).
    #[param(schema_with = super::page_size)]
    limit: Option<i64>,
    #[param(schema_with = super::page_offset)]
    offset: Option<i64>,
}

#[utoipa::path(post, path = "/api/campaigns", tag = "campaigns", request_body = CreateCampaignBody,
    responses((status = 201, body = Envelope<Campaign>), (status = 400, body = ErrorEnvelope), (status = 401, body = ErrorEnvelope),
        (status = 403, description = "The caller's role does not allow this", body = ErrorEnvelope)))]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateCampaignBody>,
) -> ApiResult {
    caller.require(Role::Member)?;
    created(campaigns::create_campaign(&state.db, &caller.actor(), &body.name).await?)
}

#[utoipa::path(get, path = "/api/campaigns", tag = "campaigns",
    params(PageParams),
    responses((status = 200, body = Envelope<CampaignPage>), (status = 400, body = ErrorEnvelope), (status = 401, body = ErrorEnvelope)))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> ApiResult {
    // Only paging applies to campaigns; it is read (and checked) like the run list's.
    let filter = filter_from(query.as_deref())?;
    let paging_only = RunFilter {
        limit: filter.limit,
        offset: filter.offset,
        ..RunFilter::default()
    };
    if filter != paging_only {
        return Err(AppError::invalid("query", "campaigns take only limit and offset").into());
    }
    let (limit, offset) = filter.page()?;
    let (campaigns, total) =
        campaigns::list_campaigns(&state.db.read, caller.account_pk, limit, offset).await?;
    ok(CampaignPage {
        campaigns,
        total,
        limit,
        offset,
    })
}

#[utoipa::path(get, path = "/api/campaigns/{id}", tag = "campaigns", params(("id" = Uuid, Path)),
    responses((status = 200, body = Envelope<Campaign>), (status = 401, description = "No or bad credentials", body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)))]
async fn get_one(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult {
    ok(campaigns::get_campaign(&state.db.read, caller.account_pk, parse_public_id(&id)?).await?)
}

async fn campaign_runs(
    state: &AppState,
    caller: Caller,
    id: &str,
    query: Option<&str>,
) -> ApiResult {
    let campaign =
        campaigns::get_campaign(&state.db.read, caller.account_pk, parse_public_id(id)?).await?;
    let mut filter = filter_from(query)?;
    filter.campaign = Some(campaign.id);
    ok(store::db::runs::list_runs(&state.db.read, caller.account_pk, &filter).await?)
}

#[utoipa::path(get, path = "/api/campaigns/{id}/runs", tag = "campaigns", params(("id" = Uuid, Path), RunListParams),
    description = "The campaign's runs, with every run filter and the total.",
    responses((status = 200, body = Envelope<RunPage>), (status = 400, body = ErrorEnvelope), (status = 401, description = "No or bad credentials", body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)))]
async fn runs(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult {
    campaign_runs(&state, caller, &id, query.as_deref()).await
}

#[utoipa::path(get, path = "/campaigns/{id}/runs", tag = "campaigns", params(("id" = Uuid, Path), RunListParams),
    description = "The legacy path; the same as `GET /api/campaigns/{id}/runs`.",
    responses((status = 200, body = Envelope<RunPage>), (status = 400, body = ErrorEnvelope), (status = 401, description = "No or bad credentials", body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)))]
async fn runs_alias(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult {
    campaign_runs(&state, caller, &id, query.as_deref()).await
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(get_one))
        .routes(routes!(runs))
        .routes(routes!(runs_alias))
}
