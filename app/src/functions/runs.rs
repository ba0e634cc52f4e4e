//! Runs as the dashboard reads them.

use crate::error::AppError;
use crate::model::RunPage;
use leptos::prelude::*;

/// One page of the caller's runs. `status` is a comma list (empty for all).
#[server(prefix = "/fn", endpoint = "list_runs")]
pub async fn list_runs(status: String, offset: i64) -> Result<RunPage, AppError> {
    use crate::model::RunFilter;

    super::ssr::with_status(async {
        let (state, user) = super::ssr::require_user().await?;
        let filter = RunFilter {
            statuses: RunFilter::parse_statuses(&status)
                .map_err(|message| AppError::invalid("status", message))?,
            offset: Some(offset),
            ..RunFilter::default()
        };
        crate::db::runs::list_runs(&state.db.read, user.account_pk, &filter).await
    })
    .await
}
