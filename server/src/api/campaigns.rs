//! The owner API for campaigns and their runs.

use super::auth::Owner;
use super::envelope::{created, ok, ApiJson, ApiResult};
use super::runs::{filter_from, parse_id};
use app::db::campaigns;
use app::error::AppError;
use app::model::RunFilter;
use app::state::AppState;
use axum::extract::{Path, RawQuery, State};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateCampaignBody {
    name: String,
}

async fn create(
    State(state): State<AppState>,
    owner: Owner,
    ApiJson(body): ApiJson<CreateCampaignBody>,
) -> ApiResult {
    created(campaigns::create_campaign(&state.db, owner.account_pk, &body.name).await?)
}

async fn list(State(state): State<AppState>, owner: Owner, RawQuery(query): RawQuery) -> ApiResult {
    // Only paging applies to campaigns; it is read (and checked) like the run list's.
    let filter = filter_from(query.as_deref())?;
    if filter
        != (RunFilter {
            limit: filter.limit,
            offset: filter.offset,
            ..RunFilter::default()
        })
    {
        return Err(AppError::invalid("query", "campaigns take only limit and offset").into());
    }
    let (limit, offset) = filter.page()?;
    let (items, total) =
        campaigns::list_campaigns(&state.db.read, owner.account_pk, limit, offset).await?;
    ok(json!({"campaigns": items, "total": total, "limit": limit, "offset": offset}))
}

async fn get_one(State(state): State<AppState>, owner: Owner, Path(id): Path<String>) -> ApiResult {
    ok(campaigns::get_campaign(&state.db.read, owner.account_pk, parse_id(&id)?).await?)
}

/// Seed 002's campaign runs, with every run filter.
async fn runs(
    State(state): State<AppState>,
    owner: Owner,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let campaign =
        campaigns::get_campaign(&state.db.read, owner.account_pk, parse_id(&id)?).await?;
    let mut filter = filter_from(query.as_deref())?;
    filter.campaign = Some(campaign.id);
    ok(app::db::runs::list_runs(&state.db.read, owner.account_pk, &filter).await?)
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/campaigns", post(create).get(list))
        .route("/campaigns/{id}/runs", get(runs))
        .route("/api/campaigns/{id}", get(get_one))
        .route("/api/campaigns/{id}/runs", get(runs))
}
