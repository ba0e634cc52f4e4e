//! The owner JSON API: one module per resource, each with its `router()`. The
//! routers carry their OpenAPI annotations, so the document served at
//! `/api/openapi.json` is built from the same code that routes requests.

pub mod account;
pub mod agents;
pub mod auth;
pub mod campaigns;
pub mod envelope;
pub mod runs;
pub mod tokens;

use app::state::AppState;
use axum::routing::get;
use axum::{Json, Router};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Runboard API",
        description = "Create, find and follow runs of agents (owner API), and report on them (runner API). \
            Every answer is an envelope: `{\"ok\": true, \"data\": …}` or `{\"ok\": false, \"error\": {code, message, field?}}`.",
    ),
    modifiers(&Security),
    security(("owner_token" = [])),
    tags(
        (name = "runs", description = "Runs of the caller's account"),
        (name = "runner", description = "Callbacks of the runner executing a run (seed 003 compatible)"),
        (name = "campaigns"), (name = "agents"), (name = "tokens"), (name = "account"),
        (name = "auth", description = "Owner API JWTs"),
        (name = "live", description = "Server-sent events of committed changes"),
    )
)]
struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "owner_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An API token (`rb_…`) or a JWT from POST /api/auth/token",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "runner_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "The run's runner token (or the legacy RUNNER_AUTH_SECRET)",
                    ))
                    .build(),
            ),
        );
    }
}

/// Every API route, and the OpenAPI document describing them.
pub fn router(max_upload_bytes: u64) -> Router<AppState> {
    let (router, document) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(auth::router())
        .merge(account::router())
        .merge(runs::router())
        .merge(campaigns::router())
        .merge(agents::router())
        .merge(tokens::router())
        .merge(crate::runner::router(max_upload_bytes))
        .merge(crate::live::router())
        .split_for_parts();
    let document = std::sync::Arc::new(document);
    router.route(
        "/api/openapi.json",
        get(move || {
            let document = document.clone();
            async move { Json(document.as_ref().clone()) }
        }),
    )
}
