//! Server functions of saved views: the runs pages' sidebar (each view with its
//! count), a view's own page, and saving, changing and deleting views. They call
//! `store::db::views`, as `/api/views` does, with the signed-in user's role.

use leptos::prelude::*;
use model::{AppError, SavedView};
use serde::{Deserialize, Serialize};

/// A view and how many runs it matches now (`exact` false: at least that many).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CountedView {
    pub view: SavedView,
    pub count: i64,
    pub exact: bool,
}

/// The signed-in user's views and the account's shared ones, each counted.
#[server(prefix = "/fn", endpoint = "list_views")]
pub async fn list_views() -> Result<Vec<CountedView>, AppError> {
    use model::RunFilter;
    use store::db::view_cache::ViewKey;

    super::ssr::with_status(async {
        let (state, user) = super::ssr::require_user().await?;
        let (account_pk, user_pk) = (user.account_pk, user.user_pk);
        // Counted once per person until the account's next write.
        let key = ViewKey::new("saved-views", account_pk, user_pk.to_string());
        state
            .db
            .views()
            .get_or_load(key, || async {
                let pool = &state.db.read;
                let views = store::db::views::list_views(pool, account_pk, user_pk).await?;
                let mut counted = Vec::with_capacity(views.len());
                for view in views {
                    let mut filter = RunFilter::from_query([("q", view.q.as_str())])?;
                    filter.limit = Some(1);
                    let page = store::db::runs::list_runs(pool, account_pk, &filter).await?;
                    counted.push(CountedView {
                        view,
                        count: page.total,
                        exact: page.total_exact,
                    });
                }
                Ok(counted)
            })
            .await
    })
    .await
}

/// One view the signed-in user sees.
#[server(prefix = "/fn", endpoint = "get_view")]
pub async fn get_view(id: String) -> Result<SavedView, AppError> {
    super::ssr::with_status(async {
        let (state, user) = super::ssr::require_user().await?;
        let id = model::parse_public_id(&id)?;
        store::db::views::get_view(&state.db.read, user.account_pk, user.user_pk, id).await
    })
    .await
}

/// The columns of the list as the URL holds them (`fields=`), for a view.
#[cfg(feature = "ssr")]
fn columns_of(fields: &str) -> Vec<String> {
    fields
        .split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(str::to_string)
        .collect()
}

/// Saves the list's current query (and its added columns) as a new view.
#[server(prefix = "/fn", endpoint = "save_view")]
pub async fn save_view(
    name: String,
    q: String,
    fields: String,
    shared: bool,
) -> Result<SavedView, AppError> {
    super::ssr::with_status(async {
        let (state, user) = super::ssr::require_user().await?;
        let actor = super::ssr::actor(&user).await;
        let change = store::db::views::ViewChange {
            name: Some(name),
            q: Some(q),
            columns: Some(columns_of(&fields)),
            shared: Some(shared),
        };
        store::db::views::create_view(&state.db, &actor, user.role, change).await
    })
    .await
}

/// Replaces a view's query and columns with the list's current ones.
#[server(prefix = "/fn", endpoint = "update_view")]
pub async fn update_view(id: String, q: String, fields: String) -> Result<SavedView, AppError> {
    super::ssr::with_status(async {
        let (state, user) = super::ssr::require_user().await?;
        let actor = super::ssr::actor(&user).await;
        let change = store::db::views::ViewChange {
            q: Some(q),
            columns: Some(columns_of(&fields)),
            ..Default::default()
        };
        let id = model::parse_public_id(&id)?;
        store::db::views::update_view(&state.db, &actor, user.role, id, change).await
    })
    .await
}

#[server(prefix = "/fn", endpoint = "delete_view")]
pub async fn delete_view(id: String) -> Result<(), AppError> {
    super::ssr::with_status(async {
        let (state, user) = super::ssr::require_user().await?;
        let actor = super::ssr::actor(&user).await;
        let id = model::parse_public_id(&id)?;
        store::db::views::delete_view(&state.db, &actor, user.role, id).await
    })
    .await
}
