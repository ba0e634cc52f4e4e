//! The JSON APIs: the owner API, one module per resource, and the runner API
//! ([`runner`]), each with its `router()`. The routers carry their OpenAPI
//! annotations, so the document served at `/api/openapi.json` is built from the
//! same code that routes requests.

pub mod account;
pub mod agents;
pub mod alerts;
pub mod audit;
pub mod auth;
pub mod bulk;
pub mod campaigns;
pub mod content;
pub mod export;
pub mod retention;
pub mod runner;
pub mod runs;
pub mod tokens;
pub mod users;
pub mod views;

use app::state::AppState;
use axum::routing::get;
use axum::{Json, Router};
use utoipa::openapi::schema::{
    AllOfBuilder, AnyOf, AnyOfBuilder, KnownFormat, ObjectBuilder, Schema, SchemaFormat,
    SchemaType, Type,
};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{OpenApi as OpenApiDocument, Ref, RefOr};
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
        (name = "runner", description = "Callbacks of the runner executing a run (compatible with the original runner protocol)"),
        (name = "campaigns"), (name = "agents"), (name = "tokens"), (name = "account"),
        (name = "users", description = "The people of the account and their roles (owners)"),
        (name = "audit", description = "What people and API tokens did (owners)"),
        (name = "retention", description = "How long runs, events and artifacts are kept, and the storage they take (owners)"),
        (name = "views", description = "Saved views: named queries of the runs list, private or shared"),
        (name = "alerts", description = "Alert rules: conditions on runs and campaigns, and the webhooks, Slack channels and addresses that hear of them"),
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

/// What the derive macros cannot say, added to the finished document: bodies
/// whose fields depend on each other. The runner's status report takes status,
/// progress, error or any of them, but not none; the legacy pipeline body's
/// `webhook` counts (and must be a URL) only without a `webhookUrl`.
fn add_constraints(openapi: &mut OpenApiDocument) {
    let present = |name: &str, schema: RefOr<Schema>| {
        ObjectBuilder::new().required(name).property(name, schema)
    };
    let status_body = AnyOfBuilder::new()
        .item(present("status", Ref::from_schema_name("RunStatus").into()))
        .item(present(
            "progress",
            ObjectBuilder::new().schema_type(Type::Number).into(),
        ))
        .item(present("error", Ref::from_schema_name("ErrorBody").into()))
        .build();
    require_one_of(openapi, "StatusBody", status_body);
    // The legacy pipeline body's `webhook` counts only without a `webhookUrl`.
    let pipeline_webhook = AnyOfBuilder::new()
        .item(present(
            "webhookUrl",
            ObjectBuilder::new().schema_type(Type::String).into(),
        ))
        .item(
            ObjectBuilder::new().property(
                "webhook",
                ObjectBuilder::new()
                    .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
                    .max_length(Some(2048))
                    .pattern(Some(HTTP_URL)),
            ),
        )
        .build();
    require_one_of(openapi, "PipelineRunBody", pipeline_webhook);
    // A bulk body's `tag` is required for tag and untag and refused otherwise.
    let action = |actions: &[&str]| {
        string().enum_values(Some(actions.iter().map(|action| action.to_string())))
    };
    let bulk_tag = AnyOfBuilder::new()
        .item(
            ObjectBuilder::new()
                .required("action")
                .required("tag")
                .property("action", action(&["tag", "untag"]))
                .property("tag", tag_string()),
        )
        .item(
            ObjectBuilder::new()
                .required("action")
                .property("action", action(&["cancel", "retry", "delete"]))
                .property("tag", ObjectBuilder::new().schema_type(Type::Null)),
        )
        .build();
    require_one_of(openapi, "BulkBody", bulk_tag);
}

// The run lists' query parameters, whose empty value (`?status=`), as the filter
// parser reads them, means no filter.

fn string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

fn integer() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
}

/// `schema`, or an empty value.
fn or_empty(schemas: impl IntoIterator<Item = ObjectBuilder>) -> Schema {
    schemas
        .into_iter()
        .fold(AnyOfBuilder::new(), |any, schema| any.item(schema))
        .item(string().pattern(Some("^\\s*$")))
        .build()
        .into()
}

/// An RFC 3339 time or a date.
pub(crate) fn time_filter() -> Schema {
    or_empty([
        string().format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime))),
        string().format(Some(SchemaFormat::KnownFormat(KnownFormat::Date))),
    ])
}

/// An id (a UUID).
pub(crate) fn id_filter() -> Schema {
    or_empty([string().format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid)))])
}

/// One column of a runs list (`model::Columns`): an item field or `input.<path>`.
const COLUMN: &str = "(id|agent|campaign|status|progress|initiator|summary|createdAt|startedAt|completedAt|durationMs|input|webhookStatus|tags|error|lastSeenAt|input(\\.[^.,\\s\\x00-\\x1f\\x7f-\\x9f]+)+)";

/// `fields=`: columns, comma-separated.
pub(crate) fn fields_filter() -> Schema {
    string()
        .pattern(Some(format!("^({COLUMN}(,{COLUMN})*)?$")))
        .into()
}

/// A view's columns: at most 50 column names.
pub(crate) fn columns_list() -> Schema {
    utoipa::openapi::schema::ArrayBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Array, Type::Null]))
        .items(string().pattern(Some(format!("^{COLUMN}$"))))
        .max_items(Some(50))
        .into()
}

/// A tag (`model::validate_tag`): 1–64 characters, not only spaces, no control characters.
fn tag_string() -> ObjectBuilder {
    string()
        .min_length(Some(1))
        .max_length(Some(64))
        .pattern(Some(TAG))
}

const TAG: &str =
    "^[^\\x00-\\x1f\\x7f-\\x9f]*[^\\s\\x00-\\x1f\\x7f-\\x9f][^\\x00-\\x1f\\x7f-\\x9f]*$";

/// One tag, or none.
pub(crate) fn tag() -> Schema {
    tag_string()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .into()
}

/// A run's tags: at most 20.
pub(crate) fn tag_list() -> Schema {
    utoipa::openapi::schema::ArrayBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Array, Type::Null]))
        .items(tag_string())
        .max_items(Some(20))
        .into()
}

/// A bulk action's `filter`: the runs list's filter parameters by name, each value
/// a string the list's parser takes.
pub(crate) fn filter_object() -> Schema {
    let statuses = "(requested|queued|running|completed|failed|cancelled)";
    let date = AnyOfBuilder::new()
        .item(string().format(Some(SchemaFormat::KnownFormat(KnownFormat::Date))))
        .item(string().max_length(Some(0)))
        .build();
    let date = Schema::AnyOf(date);
    let mut object = ObjectBuilder::new()
        .property_names(Some(string().pattern(Some(
            "^(status|agent|pipeline_id|campaign|campaignId|initiator|createdAfter|createdBefore|minDurationMs|maxDurationMs|ci|(input|initial_input)(\\.[^.]+)+)$",
        ))))
        .additional_properties(Some(string()))
        .property(
            "status",
            string().pattern(Some(format!("^({statuses}(,{statuses})*)?$"))),
        )
        .property(
            "campaign",
            string().pattern(Some(
                "^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})?$",
            )),
        )
        .property("createdAfter", date.clone())
        .property("createdBefore", date)
        .property("ci", string().pattern(Some("^(true|false|1|0)?$")));
    for key in ["minDurationMs", "maxDurationMs"] {
        object = object.property(key, string().pattern(Some("^(-?[0-9]{1,15})?$")));
    }
    object.into()
}

/// A whole number.
pub(crate) fn number_filter() -> Schema {
    or_empty([integer()])
}

/// The page size: 1–100.
pub(crate) fn page_size() -> Schema {
    or_empty([integer().minimum(Some(1)).maximum(Some(100))])
}

/// How many to skip: 0 or more.
pub(crate) fn page_offset() -> Schema {
    or_empty([integer().minimum(Some(0))])
}

/// `true` or `false` (`1` or `0`).
pub(crate) fn flag_filter() -> Schema {
    string()
        .enum_values(Some(["true", "false", "1", "0", ""]))
        .into()
}

/// An http(s) URL as the server accepts it: no spaces or control characters.
const HTTP_URL: &str = r"^https?://[^\s\x00-\x1f\x7f-\x9f]*$";

/// Adds `alternatives` to the component schema `name`: a value must match the
/// schema and one of the alternatives.
fn require_one_of(openapi: &mut OpenApiDocument, name: &str, alternatives: AnyOf) {
    let Some(schema) = openapi
        .components
        .as_mut()
        .and_then(|components| components.schemas.remove(name))
    else {
        tracing::error!("the API document has no schema {name} to constrain");
        return;
    };
    let both = AllOfBuilder::new()
        .item(schema)
        .item(RefOr::T(Schema::AnyOf(alternatives)))
        .build();
    if let Some(components) = openapi.components.as_mut() {
        components
            .schemas
            .insert(name.to_string(), RefOr::T(Schema::AllOf(both)));
    }
}

/// Every API route, and the OpenAPI document describing them.
pub fn router(max_upload_bytes: u64) -> Router<AppState> {
    let (router, document) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(auth::router())
        .merge(account::router())
        .merge(runs::router())
        .merge(export::router())
        .merge(bulk::router())
        .merge(campaigns::router())
        .merge(agents::router())
        .merge(tokens::router())
        .merge(users::router())
        .merge(audit::router())
        .merge(retention::router())
        .merge(views::router())
        .merge(alerts::router())
        .merge(runner::router(max_upload_bytes))
        .merge(crate::live::router())
        .split_for_parts();
    let mut document = document;
    add_constraints(&mut document);
    let document = std::sync::Arc::new(document);
    router.route(
        "/api/openapi.json",
        get(move || {
            let document = document.clone();
            async move { Json(document.as_ref().clone()) }
        }),
    )
}
