//! Writing runs: creation (with the flattened input fields that make any input
//! field filterable, and the `run_counts` the list's chips and chart read),
//! retries and deletion. Status changes go through [`super::status`].

use super::read::{get_run, get_run_by_pk, StoredRun};
use super::tags::set_tags;
use crate::db::audit::{self, Actor, Target};
use crate::db::sql::{self, Conn};
use crate::db::{artifacts, campaigns, changes, now_ms, outbox, text_pieces, Db, WriteTx};
use crate::metrics::Count;
use model::{
    validate_tags, AccountPk, AppError, AuditAction, CampaignPk, ChangeData, ConflictCode,
    DeletedRun, RunPk, RunStatus, WebhookStatus,
};
use serde_json::{json, Value};
use uuid::Uuid;

/// Everything needed to insert a run. Timestamps are epoch milliseconds.
#[derive(Clone, Debug)]
pub struct NewRun {
    pub agent: String,
    pub status: RunStatus,
    pub progress: f64,
    pub initiator: Option<String>,
    pub summary: Option<String>,
    pub input: Value,
    pub context: Value,
    pub campaign_pk: Option<CampaignPk>,
    pub webhook_url: Option<String>,
    pub retry_of_pk: Option<RunPk>,
    pub attempt: i64,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub completed_at: Option<i64>,
    pub error_message: Option<String>,
    /// Checked by [`model::validate_tags`].
    pub tags: Vec<String>,
}

impl NewRun {
    /// A fresh, requested run of `agent` created now.
    pub fn requested(agent: impl Into<String>, input: Value) -> NewRun {
        NewRun {
            agent: agent.into(),
            status: RunStatus::Requested,
            progress: 0.0,
            initiator: None,
            summary: None,
            input,
            context: Value::Object(Default::default()),
            campaign_pk: None,
            webhook_url: None,
            retry_of_pk: None,
            attempt: 1,
            created_at: now_ms(),
            started_at: None,
            completed_at: None,
            error_message: None,
            tags: Vec::new(),
        }
    }
}

/// The agent's key, creating the agent on first use.
pub async fn ensure_agent(
    conn: &mut Conn,
    account_pk: AccountPk,
    slug: &str,
) -> Result<i64, sqlx::Error> {
    let now = now_ms();
    sql::query_scalar(
        "INSERT INTO agents (account_pk, slug, created_at, updated_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (account_pk, slug) DO UPDATE SET slug = excluded.slug
         RETURNING pk",
    )
    .bind(account_pk)
    .bind(slug)
    .bind(now)
    .bind(now)
    .fetch_one(conn)
    .await
}

/// Inserts a run into an account; returns its key and public id.
pub async fn insert_run(
    conn: &mut Conn,
    account_pk: AccountPk,
    run: &NewRun,
) -> Result<(RunPk, Uuid), sqlx::Error> {
    let agent_pk = ensure_agent(conn, account_pk, &run.agent).await?;
    let id = Uuid::now_v7();
    let duration_ms = match (run.started_at, run.completed_at) {
        (Some(started), Some(completed)) => Some((completed - started).max(0)),
        _ => None,
    };
    let webhook_status = if run.webhook_url.is_some() {
        WebhookStatus::Pending
    } else {
        WebhookStatus::None
    };
    let run_pk: RunPk = sql::query_scalar(
        "INSERT INTO runs (id, account_pk, agent_pk, campaign_pk, status, progress, initiator, summary,
                           input, context, created_at, started_at, completed_at, updated_at, duration_ms,
                           error_message, webhook_url, webhook_status, retry_of_pk, attempt)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING pk",
    )
    .bind(id.to_string())
    .bind(account_pk)
    .bind(agent_pk)
    .bind(run.campaign_pk)
    .bind(run.status.as_str())
    .bind(run.progress.clamp(0.0, 1.0))
    .bind(&run.initiator)
    .bind(&run.summary)
    .bind(run.input.to_string())
    .bind(run.context.to_string())
    .bind(run.created_at)
    .bind(run.started_at)
    .bind(run.completed_at)
    .bind(run.completed_at.unwrap_or(run.created_at))
    .bind(duration_ms)
    .bind(&run.error_message)
    .bind(&run.webhook_url)
    .bind(webhook_status.as_str())
    .bind(run.retry_of_pk)
    .bind(run.attempt)
    .fetch_one(&mut *conn)
    .await?;

    count_run(conn, run_pk, run.status.as_str(), 1).await?;
    text_pieces::start_piece_if_full(conn, run_pk.0).await?;
    if !run.tags.is_empty() {
        set_tags(conn, run_pk, &run.tags).await?;
    }
    for (path, value) in flatten_input(&run.input) {
        sql::query(
            "INSERT INTO run_input_fields (run_pk, account_pk, path, value, created_at)
             VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        )
        .bind(run_pk)
        .bind(account_pk)
        .bind(path)
        .bind(value)
        .bind(run.created_at)
        .execute(&mut *conn)
        .await?;
    }
    Ok((run_pk, id))
}

/// Moves one run's weight in `run_counts` (the chips' and chart's counters).
pub(super) async fn count_run(
    conn: &mut Conn,
    run_pk: RunPk,
    status: &str,
    delta: i64,
) -> Result<(), sqlx::Error> {
    sql::query(
        "INSERT INTO run_counts (account_pk, day, agent_pk, status, count)
         SELECT account_pk, created_at / 86400000, agent_pk, ?, ? FROM runs WHERE pk = ?
         ON CONFLICT (account_pk, day, agent_pk, status) DO UPDATE SET count = run_counts.count + excluded.count",
    )
    .bind(status)
    .bind(delta)
    .bind(run_pk)
    .execute(conn)
    .await?;
    Ok(())
}

/// Every scalar leaf of a JSON input as `(dotted.path, text)`. Array elements get
/// their index as a path segment (`tags.0`). Strings are stored bare, other
/// scalars as their JSON text, so `input.count=5` and `input.name=Stripe` both match.
pub fn flatten_input(input: &Value) -> Vec<(String, String)> {
    fn walk(prefix: &str, value: &Value, out: &mut Vec<(String, String)>) {
        let join = |key: &str| {
            if prefix.is_empty() {
                key.to_string()
            } else {
                format!("{prefix}.{key}")
            }
        };
        match value {
            Value::Object(map) => {
                for (key, child) in map {
                    walk(&join(key), child, out);
                }
            }
            Value::Array(items) => {
                for (index, child) in items.iter().enumerate() {
                    walk(&join(&index.to_string()), child, out);
                }
            }
            Value::String(text) if !prefix.is_empty() => {
                out.push((prefix.to_string(), text.clone()))
            }
            other if !prefix.is_empty() => out.push((prefix.to_string(), other.to_string())),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk("", input, &mut out);
    out
}

/// How deeply a run's input may nest: an object or array inside another counts
/// one level, the input itself the first.
pub const MAX_INPUT_DEPTH: usize = 32;

/// How many fields a run's input may flatten to ([`flatten_input`]): each is an
/// indexed row written with the run, so this bounds what one request writes.
pub const MAX_INPUT_FIELDS: usize = 10_000;

/// A run's input within [`MAX_INPUT_DEPTH`] and [`MAX_INPUT_FIELDS`]; beyond, a
/// 413 naming `input`. Walks without recursion and stops at the first limit.
pub fn check_input_size(input: &Value) -> Result<(), AppError> {
    let mut fields = 0usize;
    // Each value with the number of objects and arrays around it.
    let mut pending = vec![(input, 0usize)];
    while let Some((value, depth)) = pending.pop() {
        let children: Box<dyn Iterator<Item = &Value>> = match value {
            Value::Object(map) => Box::new(map.values()),
            Value::Array(items) => Box::new(items.iter()),
            _ => {
                if depth > 0 {
                    fields += 1;
                    if fields > MAX_INPUT_FIELDS {
                        return Err(AppError::TooLarge(format!(
                            "input has more than {MAX_INPUT_FIELDS} fields (values inside objects and arrays)"
                        )));
                    }
                }
                continue;
            }
        };
        if depth + 1 > MAX_INPUT_DEPTH {
            return Err(AppError::TooLarge(format!(
                "input nests objects and arrays more than {MAX_INPUT_DEPTH} levels deep"
            )));
        }
        pending.extend(children.map(|child| (child, depth + 1)));
    }
    Ok(())
}

/// What an owner asks for when creating a run.
#[derive(Clone, Debug, Default)]
pub struct CreateRun {
    pub agent: String,
    pub input: Option<Value>,
    pub campaign_id: Option<Uuid>,
    pub webhook_url: Option<String>,
    pub initiator: Option<String>,
    pub summary: Option<String>,
    pub context: Option<Value>,
    pub tags: Option<Vec<String>>,
}

pub const MAX_SLUG_LEN: usize = 100;

/// Agent slugs: letters, digits, `-`, `_`, `.`; they appear in URLs and logs.
pub fn validate_slug(field: &str, slug: &str) -> Result<(), AppError> {
    let valid = !slug.is_empty()
        && slug.len() <= MAX_SLUG_LEN
        && slug
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.'));
    if valid {
        Ok(())
    } else {
        Err(AppError::invalid(
            field,
            format!("{field} must be 1–{MAX_SLUG_LEN} letters, digits, '-', '_' or '.'"),
        ))
    }
}

/// An http(s) URL without spaces: where Runboard may post, and what it may link to.
/// The rule is `model`'s, which the dashboard applies again when it renders a link.
pub use model::validate_http_url;

/// A run's context is the caller's own JSON, except `bundleUrl`: a campaign takes
/// it as its bundle's address and the dashboard links to it, so it must be an
/// http(s) URL.
pub fn validate_context(context: &Value) -> Result<(), AppError> {
    const FIELD: &str = "context.bundleUrl";
    match context.get("bundleUrl") {
        None | Some(Value::Null) => Ok(()),
        Some(Value::String(url)) => validate_http_url(FIELD, url),
        Some(_) => Err(AppError::invalid(
            FIELD,
            format!("{FIELD} must be an http:// or https:// URL"),
        )),
    }
}

/// Creates a run (status `requested`) and, when its agent has a dispatch URL, queues
/// the job request for push dispatch. Returns the stored run. Every way to create
/// a run comes here (owner API and its legacy routes, campaigns, the dashboard),
/// so the input's size limits and the webhook URL's outbound policy hold for all.
pub async fn create_run(db: &Db, actor: &Actor, request: CreateRun) -> Result<StoredRun, AppError> {
    let account_pk = actor.account_pk;
    validate_slug("agent", &request.agent)?;
    if let Some(input) = &request.input {
        check_input_size(input)?;
    }
    if let Some(url) = &request.webhook_url {
        validate_http_url("webhookUrl", url)?;
        db.outbound().check_url("webhookUrl", url).await?;
    }
    if let Some(context) = &request.context {
        validate_context(context)?;
    }
    let tags = validate_tags("tags", request.tags.as_deref().unwrap_or_default())?;
    let context = request
        .context
        .unwrap_or_else(|| Value::Object(Default::default()));
    let mut tx = db.begin_write().await?;
    let campaign_pk = match request.campaign_id {
        Some(id) => Some(
            campaigns::find_campaign_pk(&mut tx, account_pk, id)
                .await?
                .ok_or_else(|| {
                    AppError::invalid("campaignId", format!("no campaign with id {id}"))
                })?,
        ),
        None => None,
    };
    let mut new_run = NewRun::requested(
        request.agent,
        request
            .input
            .unwrap_or_else(|| Value::Object(Default::default())),
    );
    new_run.initiator = request.initiator;
    new_run.summary = request.summary;
    new_run.context = context;
    new_run.campaign_pk = campaign_pk;
    new_run.webhook_url = request.webhook_url;
    new_run.tags = tags;
    let (run_pk, _) = insert_run(&mut tx, account_pk, &new_run).await?;
    let stored = after_insert(&mut tx, account_pk, run_pk).await?;
    audit::record(
        &mut tx,
        actor,
        AuditAction::RunCreate,
        Target::new("run", stored.run.id).with_detail(json!({ "agent": stored.run.agent })),
    )
    .await?;
    tx.commit().await?;
    Ok(stored)
}

/// What follows a new run in the same transaction: its campaign is running, its
/// agent's dispatch URL (if any) gets the job, the live stream announces it, and
/// the operator's metrics count it once committed. Returns the stored run.
async fn after_insert(
    tx: &mut WriteTx,
    account_pk: AccountPk,
    run_pk: RunPk,
) -> Result<StoredRun, AppError> {
    let conn = &mut **tx;
    let (campaign_pk, dispatch_url): (Option<CampaignPk>, Option<String>) = sql::query_as(
        "SELECT r.campaign_pk, a.dispatch_url FROM runs r JOIN agents a ON a.pk = r.agent_pk WHERE r.pk = ?",
    )
    .bind(run_pk)
    .fetch_one(&mut *conn)
    .await?;
    if let Some(campaign_pk) = campaign_pk {
        campaigns::on_run_started(conn, campaign_pk, run_pk).await?;
    }
    if let Some(url) = dispatch_url {
        outbox::enqueue(conn, outbox::Kind::Dispatch, account_pk, run_pk, &url, "").await?;
    }
    let stored = get_run_by_pk(conn, run_pk).await?;
    changes::record(
        conn,
        account_pk,
        Some(stored.run.id),
        &ChangeData::RunCreated(stored.run.clone()),
    )
    .await?;
    tx.count(Count::RunCreated {
        agent: stored.run.agent.clone(),
    });
    Ok(stored)
}

/// A new run repeating a failed or cancelled one, linked to it with `attempt + 1`.
pub async fn retry_run(db: &Db, actor: &Actor, id: Uuid) -> Result<StoredRun, AppError> {
    let account_pk = actor.account_pk;
    let mut tx = db.begin_write().await?;
    let original = get_run(&mut tx, account_pk, id).await?;
    let stored = retry_stored(&mut tx, &original).await?;
    audit::record(
        &mut tx,
        actor,
        AuditAction::RunRetry,
        Target::new("run", id).with_detail(json!({ "newRun": stored.run.id })),
    )
    .await?;
    tx.commit().await?;
    Ok(stored)
}

/// Whether a person may retry a run of this status: failed or cancelled.
pub fn retryable(status: RunStatus) -> bool {
    matches!(status, RunStatus::Failed | RunStatus::Cancelled)
}

/// Retries a run read in this transaction, as a person does (one run, or a bulk
/// job's): only a [`retryable`] run, else a `not_retryable` conflict.
pub async fn retry_stored(tx: &mut WriteTx, original: &StoredRun) -> Result<StoredRun, AppError> {
    if !retryable(original.run.status) {
        return Err(AppError::conflict(
            ConflictCode::NotRetryable,
            format!(
                "only failed or cancelled runs can be retried; run {} is {}",
                original.run.id, original.run.status
            ),
        ));
    }
    insert_retry(tx, original).await
}

/// Inserts the next attempt of `original` (same agent, input, context, campaign
/// and webhook; `attempt + 1`, `retryOf` the original) and cancels the original's
/// automatic retry, so a run is repeated once whether by hand or by the sweeper.
pub async fn insert_retry(tx: &mut WriteTx, original: &StoredRun) -> Result<StoredRun, AppError> {
    let conn = &mut **tx;
    let account_pk = original.account_pk;
    let campaign_pk: Option<CampaignPk> =
        sql::query_scalar("SELECT campaign_pk FROM runs WHERE pk = ?")
            .bind(original.pk)
            .fetch_one(&mut *conn)
            .await?;
    let source = &original.run;
    let mut new_run = NewRun::requested(source.agent.clone(), source.input.clone());
    new_run.initiator = source.initiator.clone();
    new_run.summary = source.summary.clone();
    new_run.context = source.context.clone();
    new_run.campaign_pk = campaign_pk;
    new_run.webhook_url = source.webhook_url.clone();
    new_run.retry_of_pk = Some(original.pk);
    new_run.attempt = source.attempt + 1;
    new_run.tags = source.tags.clone();
    let (run_pk, _) = insert_run(conn, account_pk, &new_run).await?;
    sql::query("UPDATE runs SET retry_at = NULL WHERE pk = ?")
        .bind(original.pk)
        .execute(&mut *conn)
        .await?;
    after_insert(tx, account_pk, run_pk).await
}

/// Deletes a run with its steps, events and artifacts; returns the storage keys of
/// the files Runboard held for it, now in the trash, for the caller to remove
/// from the store ([`crate::prune::discard_files`]).
pub async fn delete_run(db: &Db, actor: &Actor, id: Uuid) -> Result<Vec<String>, AppError> {
    let account_pk = actor.account_pk;
    let mut tx = db.begin_write().await?;
    let run = get_run(&mut tx, account_pk, id).await?;
    let keys = delete_stored(&mut tx, &run).await?;
    audit::record(
        &mut tx,
        actor,
        AuditAction::RunDelete,
        Target::new("run", id).with_detail(json!({ "agent": run.run.agent })),
    )
    .await?;
    tx.commit().await?;
    Ok(keys)
}

/// Deletes a run read in this transaction with its steps, events and artifacts
/// (one run, or a bulk job's); returns the storage keys of its files, now in the
/// trash, to remove after the commit ([`crate::prune::discard_files`]).
pub async fn delete_stored(tx: &mut WriteTx, run: &StoredRun) -> Result<Vec<String>, AppError> {
    let id = run.run.id;
    let keys = artifacts::trash_files(tx, &[run.pk], now_ms()).await?;
    count_run(tx, run.pk, run.run.status.as_str(), -1).await?;
    changes::record(
        tx,
        run.account_pk,
        Some(id),
        &ChangeData::RunDeleted(DeletedRun { id }),
    )
    .await?;
    sql::query("DELETE FROM runs WHERE pk = ?")
        .bind(run.pk)
        .execute(&mut **tx)
        .await?;
    text_pieces::flush_gone(tx).await?;
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn input_is_flattened_to_every_scalar_leaf() {
        let mut fields = flatten_input(&json!({
            "company_name": "Stripe",
            "size": 5000,
            "address": {"city": "Dublin", "remote": true},
            "tags": ["fintech", null]
        }));
        fields.sort();
        let expected: Vec<(String, String)> = [
            ("address.city", "Dublin"),
            ("address.remote", "true"),
            ("company_name", "Stripe"),
            ("size", "5000"),
            ("tags.0", "fintech"),
            ("tags.1", "null"),
        ]
        .iter()
        .map(|(path, value)| (path.to_string(), value.to_string()))
        .collect();
        assert_eq!(fields, expected);
    }

    /// `levels` arrays, one inside the other, around a number.
    fn nested(levels: usize) -> Value {
        (0..levels).fold(json!(1), |inner, _| json!([inner]))
    }

    #[test]
    fn inputs_deeper_than_32_levels_are_too_large() {
        assert_eq!(check_input_size(&nested(MAX_INPUT_DEPTH)), Ok(()));
        assert_eq!(check_input_size(&json!({"a": {"b": nested(30)}})), Ok(()));
        for deep in [nested(MAX_INPUT_DEPTH + 1), json!({"a": {"b": nested(31)}})] {
            match check_input_size(&deep) {
                Err(AppError::TooLarge(message)) => {
                    assert!(message.starts_with("input "), "{message}")
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn inputs_of_more_than_10000_fields_are_too_large() {
        let fields = |count: usize| -> Value {
            Value::Object(
                (0..count)
                    .map(|index| (format!("f{index}"), json!(index)))
                    .collect(),
            )
        };
        let at_limit = json!({"list": (0..MAX_INPUT_FIELDS - 1).collect::<Vec<_>>(), "last": "x"});
        assert_eq!(flatten_input(&at_limit).len(), MAX_INPUT_FIELDS);
        assert_eq!(check_input_size(&at_limit), Ok(()));
        assert_eq!(check_input_size(&fields(MAX_INPUT_FIELDS)), Ok(()));
        let over = fields(MAX_INPUT_FIELDS + 1);
        assert_eq!(flatten_input(&over).len(), MAX_INPUT_FIELDS + 1);
        match check_input_size(&over) {
            Err(AppError::TooLarge(message)) => assert!(message.starts_with("input "), "{message}"),
            other => panic!("{other:?}"),
        }
        // Empty objects and arrays are no fields, as in `flatten_input`.
        assert_eq!(check_input_size(&json!({"a": [], "b": {}})), Ok(()));
        assert_eq!(check_input_size(&json!("a scalar input")), Ok(()));
    }

    #[test]
    fn a_scalar_input_has_no_fields() {
        assert!(flatten_input(&json!("just text")).is_empty());
    }

    #[test]
    fn slugs_and_urls_are_validated() {
        assert!(validate_slug("agent", "jobseek-add-company").is_ok());
        assert!(validate_slug("agent", "").is_err());
        assert!(validate_slug("agent", "../etc").is_err());
        assert!(validate_http_url("webhookUrl", "https://example.com/hook").is_ok());
        assert!(validate_http_url("webhookUrl", "file:///etc/passwd").is_err());
    }

    #[test]
    fn a_context_bundle_url_must_be_http() {
        assert!(validate_context(&json!({"bundleUrl": "https://cdn.example/site/"})).is_ok());
        assert!(validate_context(&json!({"other": "javascript:alert(1)"})).is_ok());
        assert!(validate_context(&json!("not an object")).is_ok());
        for bad in [
            json!("JaVaScRiPt:alert(1)"),
            json!("data:text/html,x"),
            json!(42),
        ] {
            let error = validate_context(&json!({ "bundleUrl": bad })).unwrap_err();
            assert_eq!(error.field(), Some("context.bundleUrl"), "{bad}");
        }
    }
}
