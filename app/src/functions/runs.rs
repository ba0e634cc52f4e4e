//! Runs as the dashboard lists them.

use chrono::{DateTime, Utc};
use leptos::prelude::*;
use model::{AppError, RunListNews, RunListView};

/// The runs list for a URL query string: the same parameters, parsed by the same
/// function, as `GET /api/runs`, so a dashboard URL and an API URL filter alike.
#[server(prefix = "/fn", endpoint = "list_runs")]
pub async fn list_runs(query: String) -> Result<RunListView, AppError> {
    use model::RunFilter;
    use store::db::view_cache::ViewKey;

    super::ssr::with_status(async {
        let (state, user) = super::ssr::require_user().await?;
        let query = query.trim_start_matches('?');
        let mut filter = RunFilter::from_page_query_string(query)?;
        // The page shows its own columns; of each run's input only the fields
        // it shows as columns travel (and are kept in the view cache).
        let columns = filter
            .fields
            .take()
            .map(|list| model::Columns::parse("fields", &list))
            .transpose()?;
        // The same view for every tab of the account until the next write.
        let key = ViewKey::new("runs-list", user.account_pk, query);
        let account_pk = user.account_pk;
        state
            .db
            .views()
            .get_or_load(key, || async {
                let pool = &state.db.read;
                let mut page = store::db::runs::list_runs(pool, account_pk, &filter).await?;
                let paths = columns
                    .as_ref()
                    .map(model::Columns::input_paths)
                    .unwrap_or_default();
                for row in &mut page.runs {
                    row.input = model::input_subset(&row.input, &paths);
                }
                let status_counts =
                    store::db::runs::status_counts(pool, account_pk, &filter).await?;
                let chart = store::db::runs::chart(pool, account_pk, &filter).await?;
                let (agents, campaigns) = super::ssr::choices(&state, account_pk).await?;
                Ok(RunListView {
                    page,
                    chart,
                    status_counts,
                    agents,
                    campaigns,
                    orders: store::db::runs::orders(&filter)?,
                })
            })
            .await
    })
    .await
}

/// The news of an open runs list ([`RunListNews`]) under the same query:
/// `newer` counts the matching runs created after `newest_shown` (0 without it).
#[server(prefix = "/fn", endpoint = "list_news")]
pub async fn list_news(
    query: String,
    newest_shown: Option<DateTime<Utc>>,
) -> Result<RunListNews, AppError> {
    use model::RunFilter;

    super::ssr::with_status(async {
        let (state, user) = super::ssr::require_user().await?;
        let mut filter = RunFilter::from_page_query_string(query.trim_start_matches('?'))?;
        filter.fields = None;
        let pool = &state.db.read;
        let account_pk = user.account_pk;
        let status_counts = store::db::runs::status_counts(pool, account_pk, &filter).await?;
        let chart = store::db::runs::chart(pool, account_pk, &filter).await?;
        let newer = match newest_shown {
            Some(newest) => {
                let after = newest + chrono::Duration::milliseconds(1);
                filter.created_after =
                    Some(filter.created_after.map_or(after, |old| old.max(after)));
                store::db::runs::status_counts(pool, account_pk, &filter)
                    .await?
                    .iter()
                    .map(|(_, count)| count)
                    .sum()
            }
            None => 0,
        };
        Ok(RunListNews {
            chart,
            status_counts,
            newer,
        })
    })
    .await
}
