//! The comparison page's call: the run against the run named, or by default
//! against the newest completed run of its agent before it, with the agent's
//! latest runs to pick another. The JSON API answers from the same
//! `store::compare`, so the page and `GET /api/runs/{id}/compare/{otherId}` agree.

use leptos::prelude::*;
use model::{AppError, ComparisonView};

/// Runs offered in the "Compare with" picker.
pub const CHOICES: i64 = 20;

#[server(prefix = "/fn", endpoint = "compare_runs")]
pub async fn load_comparison(
    id: String,
    other: Option<String>,
) -> Result<ComparisonView, AppError> {
    super::ssr::with_status(async {
        let (state, user, stored) = super::run_page::ssr::callers_run(&id).await?;
        let other_id = match other.filter(|other| !other.trim().is_empty()) {
            Some(other) => Some(model::parse_public_id(other.trim())?),
            None => store::db::runs::previous_completed(&state.db.read, &stored).await?,
        };
        let comparison = match other_id {
            Some(other_id) => {
                let other =
                    store::db::runs::find_run(&state.db.read, user.account_pk, other_id).await?;
                Some(store::compare::compare_runs(&state.db, &state.store, &stored, &other).await?)
            }
            None => None,
        };
        Ok(ComparisonView {
            run_id: stored.run.id,
            agent: stored.run.agent.clone(),
            comparison,
            choices: store::db::runs::latest_of_agent(&state.db.read, &stored, CHOICES).await?,
        })
    })
    .await
}
