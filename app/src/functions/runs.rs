//! Runs as the dashboard lists them.

use leptos::prelude::*;
use model::{AppError, RunListView};

/// The runs list for a URL query string: the same parameters, parsed by the same
/// function, as `GET /api/runs`, so a dashboard URL and an API URL filter alike.
#[server(prefix = "/fn", endpoint = "list_runs")]
pub async fn list_runs(query: String) -> Result<RunListView, AppError> {
    use model::RunFilter;
    use store::db::view_cache::ViewKey;

    super::ssr::with_status(async {
        let (state, user) = super::ssr::require_user().await?;
        let query = query.trim_start_matches('?');
        let mut filter = RunFilter::from_query_string(query)?;
        // The columns are the page's to show: every row carries its input.
        filter.fields = None;
        // The same view for every tab of the account until the next write.
        let key = ViewKey::new("runs-list", user.account_pk, query);
        let account_pk = user.account_pk;
        state
            .db
            .views()
            .get_or_load(key, || async {
                let pool = &state.db.read;
                let page = store::db::runs::list_runs(pool, account_pk, &filter).await?;
                let status_counts =
                    store::db::runs::status_counts(pool, account_pk, &filter).await?;
                let chart =
                    store::db::runs::daily_counts(pool, account_pk, &filter, model::CHART_DAYS)
                        .await?;
                let (agents, campaigns) = super::ssr::choices(&state, account_pk).await?;
                Ok(RunListView {
                    page,
                    chart,
                    status_counts,
                    agents,
                    campaigns,
                })
            })
            .await
    })
    .await
}
