//! Server functions: the dashboard's calls into the server. Each one is a public
//! HTTP endpoint, so each authenticates before touching the database layer.

pub mod alerts;
pub mod auth;
pub mod bulk;
pub mod compare;
pub mod directory;
pub mod manage;
pub mod retention;
pub mod run_page;
pub mod runs;
pub mod team;
pub mod views;

/// Helpers the server functions share on the server side.
#[cfg(feature = "ssr")]
pub(crate) mod ssr {
    use crate::state::AppState;
    use leptos::prelude::use_context;
    use model::{AppError, CurrentUser, Role, Via};
    use store::db::audit::Actor;
    use tower_sessions::Session;

    pub fn state() -> Result<AppState, AppError> {
        use_context::<AppState>().ok_or_else(|| {
            tracing::error!("AppState missing from the server function context");
            AppError::Internal
        })
    }

    pub async fn session() -> Result<Session, AppError> {
        leptos_axum::extract::<Session>().await.map_err(|error| {
            tracing::error!(%error, "session layer missing");
            AppError::Internal
        })
    }

    /// Runs a server function's body and, when it fails, gives the HTTP response
    /// the status that fits the error (401, 400, 404…) instead of a blanket 500.
    pub async fn with_status<T>(
        body: impl std::future::Future<Output = Result<T, AppError>>,
    ) -> Result<T, AppError> {
        let result = body.await;
        if let Err(error) = &result {
            if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
                response.set_status(error.status_code());
                if let AppError::TooManyRequests { retry_after_secs } = error {
                    response.insert_header(
                        http::header::RETRY_AFTER,
                        http::HeaderValue::from(*retry_after_secs),
                    );
                }
            }
        }
        result
    }

    /// What the dashboard's forms offer to pick from: agent slugs and campaigns.
    pub async fn choices(
        state: &AppState,
        account_pk: model::AccountPk,
    ) -> Result<(Vec<String>, Vec<(uuid::Uuid, String)>), AppError> {
        let key = store::db::view_cache::ViewKey::new("choices", account_pk, "");
        state
            .db
            .views()
            .get_or_load(key, || async {
                let agents = store::db::agents::list_agents(&state.db.read, account_pk)
                    .await?
                    .into_iter()
                    .map(|agent| agent.slug)
                    .collect();
                let (campaigns, _) =
                    store::db::campaigns::list_campaigns(&state.db.read, account_pk, 200, 0)
                        .await?;
                Ok((
                    agents,
                    campaigns
                        .into_iter()
                        .map(|campaign| (campaign.id, campaign.name))
                        .collect(),
                ))
            })
            .await
    }

    /// The signed-in user, or `Unauthorized`: enough to read anything of the account.
    pub async fn require_user() -> Result<(AppState, CurrentUser), AppError> {
        let state = state()?;
        let session = session().await?;
        let user = crate::session::session_user(&state.db, &session)
            .await?
            .ok_or(AppError::Unauthorized)?;
        Ok((state, user))
    }

    /// The signed-in user if their role is `needed` or above ([`Role::require`]).
    pub async fn require_role(needed: Role) -> Result<(AppState, CurrentUser, Actor), AppError> {
        let (state, user) = require_user().await?;
        user.role.require(needed)?;
        let actor = actor(&user).await;
        Ok((state, user, actor))
    }

    /// The signed-in user as the audit log records them.
    pub async fn actor(user: &CurrentUser) -> Actor {
        Actor {
            account_pk: user.account_pk,
            user_pk: Some(user.user_pk),
            name: user.email.clone(),
            via: Via::Session,
            ip: client_ip().await,
        }
    }

    /// The address of the client calling this server function.
    pub async fn client_ip() -> Option<String> {
        let parts = leptos_axum::extract::<http::request::Parts>().await.ok()?;
        crate::session::client_ip(&parts.extensions)
    }
}
