//! Alert rules and what they did. A run or campaign condition fires in the
//! transaction of the change that meets it ([`on_run_failed`] from the status
//! function, [`on_campaign_changed`] from the campaign's), so a committed failure
//! is never missed and never told twice (one firing per rule and run, by a unique
//! index). Threshold conditions are measured by [`evaluate`], which the server's
//! alert task calls periodically; a rule remembers whether it is firing, so it
//! fires once when crossed and resolves once when back. Each firing queues one
//! outbox delivery per channel in the same transaction, so restarts lose none.
//!
//! A rule's scope is a runs filter (agent, campaign, query): whether a run is in
//! it, and which runs a window holds, are asked of [`filter`], the one place the
//! query language becomes SQL.

use super::audit::{self, Actor, Target};
use super::filter::{push_filter, Reading};
use super::runs::StoredRun;
use super::{from_ms, now_ms, outbox, Db};
use crate::db::sql::{self, Conn, Pool, SqlBuilder};
use model::{
    validate_rule, AccountPk, AlertChannel, AlertCondition, AlertConditionType, AlertFiring,
    AlertRule, AlertRuleChange, AlertScope, AlertState, AppError, AuditAction, CampaignStatus,
    FiringChannel, FiringKind, Run, RunFilter, ValidRule, MAX_ALERT_RULES,
};
use serde_json::{json, Value};
use uuid::Uuid;

/// Firings one page of a rule's history holds.
pub const FIRINGS_PAGE: i64 = 100;

const RULE_SELECT: &str = "SELECT pk, id, account_pk, name, scope_agent, scope_campaign, scope_q,
        condition_type, threshold, window_mins, min_runs, channels, enabled <> 0 AS enabled, state, evaluated_at,
        last_value, created_by, created_at, updated_at
    FROM alert_rules";

#[derive(Clone, Debug, sqlx::FromRow)]
struct RuleRow {
    pk: i64,
    id: String,
    account_pk: AccountPk,
    name: String,
    scope_agent: Option<String>,
    scope_campaign: Option<String>,
    scope_q: Option<String>,
    condition_type: String,
    threshold: Option<f64>,
    window_mins: Option<i64>,
    min_runs: Option<i64>,
    channels: String,
    enabled: bool,
    state: String,
    evaluated_at: Option<i64>,
    last_value: Option<f64>,
    created_by: String,
    created_at: i64,
    updated_at: i64,
}

impl RuleRow {
    fn into_rule(self) -> Result<AlertRule, AppError> {
        let corrupt = |what: &str| {
            tracing::error!(alert = %self.id, "stored alert rule has an invalid {what}");
            AppError::Internal
        };
        Ok(AlertRule {
            id: self.id.parse().map_err(|_| corrupt("id"))?,
            name: self.name.clone(),
            scope: self.scope()?,
            condition: AlertCondition {
                kind: self.kind()?,
                threshold: self.threshold,
                window_mins: self.window_mins,
                min_runs: self.min_runs,
            },
            channels: serde_json::from_str(&self.channels).map_err(|_| corrupt("channels"))?,
            enabled: self.enabled,
            state: AlertState::parse(&self.state),
            last_value: self.last_value,
            evaluated_at: self.evaluated_at.map(from_ms),
            created_by: self.created_by,
            created_at: from_ms(self.created_at),
            updated_at: from_ms(self.updated_at),
        })
    }

    fn kind(&self) -> Result<AlertConditionType, AppError> {
        AlertConditionType::parse(&self.condition_type).ok_or(AppError::Internal)
    }

    fn scope(&self) -> Result<AlertScope, AppError> {
        Ok(AlertScope {
            agent: self.scope_agent.clone(),
            campaign: self
                .scope_campaign
                .as_deref()
                .map(str::parse)
                .transpose()
                .map_err(|_| AppError::Internal)?,
            q: self.scope_q.clone(),
        })
    }

    fn channels(&self) -> Vec<AlertChannel> {
        serde_json::from_str(&self.channels).unwrap_or_default()
    }

    /// The runs the rule watches, as the runs list's filter.
    fn filter(&self) -> Result<RunFilter, AppError> {
        let scope = self.scope()?;
        Ok(RunFilter {
            agent: scope.agent,
            campaign: scope.campaign,
            q: scope.q,
            ..RunFilter::default()
        })
    }

    fn has_scope(&self) -> bool {
        self.scope_agent.is_some() || self.scope_campaign.is_some() || self.scope_q.is_some()
    }
}

/// Every rule of the account, by name.
pub async fn list_alerts(pool: &Pool, account_pk: AccountPk) -> Result<Vec<AlertRule>, AppError> {
    let rows: Vec<RuleRow> = sql::query_as(format!(
        "{RULE_SELECT} WHERE account_pk = ? ORDER BY lower(name), pk"
    ))
    .bind(account_pk)
    .fetch_all(pool)
    .await?;
    rows.into_iter().map(RuleRow::into_rule).collect()
}

async fn rule_row(conn: &mut Conn, account_pk: AccountPk, id: Uuid) -> Result<RuleRow, AppError> {
    sql::query_as(format!("{RULE_SELECT} WHERE account_pk = ? AND id = ?"))
        .bind(account_pk)
        .bind(id.to_string())
        .fetch_optional(conn)
        .await?
        .ok_or(AppError::NotFound)
}

/// One rule of the account; another account's is `NotFound`.
pub async fn get_alert(
    pool: &Pool,
    account_pk: AccountPk,
    id: Uuid,
) -> Result<AlertRule, AppError> {
    let mut conn = pool.acquire().await?;
    rule_row(&mut conn, account_pk, id).await?.into_rule()
}

/// What the server can deliver, which a rule's channels must fit.
#[derive(Clone, Copy, Debug, Default)]
pub struct Delivery {
    /// An SMTP relay is configured (`RUNBOARD_SMTP_URL`).
    pub email: bool,
}

/// The checks a rule needs beyond its own shape: its agent and campaign exist in
/// the account, its URLs pass the outbound policy, email can be sent.
async fn check_against_account(
    db: &Db,
    conn: &mut Conn,
    account_pk: AccountPk,
    rule: &ValidRule,
    delivery: Delivery,
) -> Result<(), AppError> {
    if let Some(agent) = &rule.scope.agent {
        let found: Option<i64> =
            sql::query_scalar("SELECT pk FROM agents WHERE account_pk = ? AND slug = ?")
                .bind(account_pk)
                .bind(agent)
                .fetch_optional(&mut *conn)
                .await?;
        if found.is_none() {
            return Err(AppError::invalid(
                "scope.agent",
                format!("there is no agent named {agent}"),
            ));
        }
    }
    if let Some(campaign) = rule.scope.campaign {
        let found: Option<i64> =
            sql::query_scalar("SELECT pk FROM campaigns WHERE account_pk = ? AND id = ?")
                .bind(account_pk)
                .bind(campaign.to_string())
                .fetch_optional(&mut *conn)
                .await?;
        if found.is_none() {
            return Err(AppError::invalid(
                "scope.campaign",
                format!("there is no campaign {campaign}"),
            ));
        }
    }
    for (index, channel) in rule.channels.iter().enumerate() {
        if let Some(url) = channel.url() {
            db.outbound()
                .check_url(&format!("channels[{index}].url"), url)
                .await?;
        } else if !delivery.email {
            return Err(AppError::invalid(
                format!("channels[{index}]"),
                "this server cannot send email: its operator has not set RUNBOARD_SMTP_URL",
            ));
        }
    }
    Ok(())
}

/// Creates a rule (the caller checked that the actor is an owner).
pub async fn create_alert(
    db: &Db,
    actor: &Actor,
    change: AlertRuleChange,
    delivery: Delivery,
) -> Result<AlertRule, AppError> {
    let condition = change
        .condition
        .ok_or_else(|| AppError::invalid("condition", "an alert needs a condition"))?;
    let rule = validate_rule(
        change.name.as_deref().unwrap_or_default(),
        change.scope.unwrap_or_default(),
        condition,
        change.channels.unwrap_or_default(),
    )?;
    let mut tx = db.begin_write().await?;
    check_against_account(db, &mut tx, actor.account_pk, &rule, delivery).await?;
    let count: i64 = sql::query_scalar("SELECT count(*) FROM alert_rules WHERE account_pk = ?")
        .bind(actor.account_pk)
        .fetch_one(&mut *tx)
        .await?;
    if count >= MAX_ALERT_RULES {
        return Err(AppError::invalid(
            "name",
            format!("an account has at most {MAX_ALERT_RULES} alert rules; delete one first"),
        ));
    }
    let id = Uuid::now_v7();
    let now = now_ms();
    let insert = sql::query(
        "INSERT INTO alert_rules (id, account_pk, name, scope_agent, scope_campaign, scope_q,
            condition_type, threshold, window_mins, min_runs, channels, enabled, created_by,
            created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(id.to_string())
    .bind(actor.account_pk);
    bind_rule_columns(insert, &rule, change.enabled.unwrap_or(true))
        .bind(&actor.name)
        .bind(now)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    let created = rule_row(&mut tx, actor.account_pk, id).await?.into_rule()?;
    audit::record(
        &mut tx,
        actor,
        AuditAction::AlertCreate,
        Target::new("alert", id).with_detail(audit_detail(&created)),
    )
    .await?;
    tx.commit().await?;
    Ok(created)
}

/// Binds a rule's stored columns, `name` through `enabled`, in the order both
/// the insert and the update list them.
fn bind_rule_columns(query: sql::Query, rule: &ValidRule, enabled: bool) -> sql::Query {
    query
        .bind(&rule.name)
        .bind(&rule.scope.agent)
        .bind(rule.scope.campaign.map(|id| id.to_string()))
        .bind(&rule.scope.q)
        .bind(rule.condition.kind.as_str())
        .bind(rule.condition.threshold)
        .bind(rule.condition.window_mins)
        .bind(rule.condition.min_runs)
        .bind(json!(rule.channels).to_string())
        .bind(enabled)
}

fn audit_detail(rule: &AlertRule) -> Value {
    json!({
        "name": rule.name,
        "scope": rule.scope,
        "condition": rule.condition,
        "channels": rule.channels.iter().map(AlertChannel::kind).collect::<Vec<_>>(),
        "enabled": rule.enabled,
    })
}

/// Changes a rule (the caller checked that the actor is an owner). A change of
/// scope or condition, or disabling it, starts a threshold rule over as `ok`.
pub async fn update_alert(
    db: &Db,
    actor: &Actor,
    id: Uuid,
    change: AlertRuleChange,
    delivery: Delivery,
) -> Result<AlertRule, AppError> {
    let mut tx = db.begin_write().await?;
    let row = rule_row(&mut tx, actor.account_pk, id).await?;
    let current = row.into_rule()?;
    let restarts = change.scope.is_some() || change.condition.is_some();
    let rule = validate_rule(
        change.name.as_deref().unwrap_or(&current.name),
        change.scope.unwrap_or(current.scope),
        change.condition.unwrap_or(current.condition),
        change.channels.unwrap_or(current.channels),
    )?;
    check_against_account(db, &mut tx, actor.account_pk, &rule, delivery).await?;
    let enabled = change.enabled.unwrap_or(current.enabled);
    let reset = restarts || !enabled;
    let update = sql::query(
        "UPDATE alert_rules SET name = ?, scope_agent = ?, scope_campaign = ?, scope_q = ?,
            condition_type = ?, threshold = ?, window_mins = ?, min_runs = ?, channels = ?,
            enabled = ?, updated_at = ?,
            state = CASE WHEN ? <> 0 THEN 'ok' ELSE state END,
            last_value = CASE WHEN ? <> 0 THEN NULL ELSE last_value END,
            evaluated_at = CASE WHEN ? <> 0 THEN NULL ELSE evaluated_at END
         WHERE account_pk = ? AND id = ?",
    );
    bind_rule_columns(update, &rule, enabled)
        .bind(now_ms())
        .bind(reset)
        .bind(reset)
        .bind(reset)
        .bind(actor.account_pk)
        .bind(id.to_string())
        .execute(&mut *tx)
        .await?;
    let updated = rule_row(&mut tx, actor.account_pk, id).await?.into_rule()?;
    audit::record(
        &mut tx,
        actor,
        AuditAction::AlertUpdate,
        Target::new("alert", id).with_detail(audit_detail(&updated)),
    )
    .await?;
    tx.commit().await?;
    Ok(updated)
}

/// Deletes a rule with its history and pending deliveries (the caller checked
/// that the actor is an owner).
pub async fn delete_alert(db: &Db, actor: &Actor, id: Uuid) -> Result<(), AppError> {
    let mut tx = db.begin_write().await?;
    let row = rule_row(&mut tx, actor.account_pk, id).await?;
    sql::query("DELETE FROM alert_rules WHERE pk = ?")
        .bind(row.pk)
        .execute(&mut *tx)
        .await?;
    audit::record(
        &mut tx,
        actor,
        AuditAction::AlertDelete,
        Target::new("alert", id).with_detail(json!({"name": row.name})),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct FiringRow {
    pk: i64,
    id: String,
    kind: String,
    run_id: Option<String>,
    campaign_id: Option<String>,
    value: Option<f64>,
    message: String,
    at: i64,
}

/// A firing's delivery on one channel: firing, channel, state, attempts, last error.
type ChannelRow = (i64, Option<String>, String, i64, Option<String>);

/// A rule's history, newest first (at most [`FIRINGS_PAGE`]), with how each
/// channel's delivery went.
pub async fn list_firings(
    pool: &Pool,
    account_pk: AccountPk,
    id: Uuid,
) -> Result<Vec<AlertFiring>, AppError> {
    let mut conn = pool.acquire().await?;
    let rule = rule_row(&mut conn, account_pk, id).await?;
    let rows: Vec<FiringRow> = sql::query_as(
        "SELECT pk, id, kind, run_id, campaign_id, value, message, at FROM alert_firings
         WHERE rule_pk = ? ORDER BY at DESC, pk DESC LIMIT ?",
    )
    .bind(rule.pk)
    .bind(FIRINGS_PAGE)
    .fetch_all(&mut conn)
    .await?;
    // Every channel of the page's firings in one read (the partial index on firing_pk).
    let channels_of = |keys: &str| {
        format!(
            "SELECT firing_pk, channel, state, attempts, last_error FROM outbox
             WHERE firing_pk IN {keys} ORDER BY firing_pk, pk"
        )
    };
    let channels: Vec<ChannelRow> = sql::query_as(channels_of(sql::JSON_KEYS))
        .postgres(channels_of(sql::JSON_KEYS_POSTGRES))
        .bind(
            serde_json::to_string(&rows.iter().map(|row| row.pk).collect::<Vec<_>>())
                .unwrap_or_default(),
        )
        .fetch_all(&mut conn)
        .await?;
    let mut by_firing: std::collections::HashMap<i64, Vec<FiringChannel>> = Default::default();
    for (firing_pk, kind, status, attempts, error) in channels {
        by_firing.entry(firing_pk).or_default().push(FiringChannel {
            kind: kind.unwrap_or_default(),
            status,
            attempts,
            error,
        });
    }
    let mut firings = Vec::with_capacity(rows.len());
    for row in rows {
        let parse_id = |id: Option<String>| id.and_then(|id| id.parse().ok());
        firings.push(AlertFiring {
            id: row.id.parse().map_err(|_| AppError::Internal)?,
            at: from_ms(row.at),
            kind: FiringKind::parse(&row.kind).ok_or(AppError::Internal)?,
            run_id: parse_id(row.run_id),
            campaign_id: parse_id(row.campaign_id),
            value: row.value,
            message: row.message,
            channels: by_firing.remove(&row.pk).unwrap_or_default(),
        });
    }
    Ok(firings)
}

/// What a firing is about, for its message and its link.
enum Subject<'a> {
    Run(&'a StoredRun),
    /// A campaign's change, made by the run `run` (which de-duplicates it).
    Campaign {
        id: Uuid,
        name: &'a str,
        run: &'a Run,
    },
    /// A threshold rule's window of runs.
    Window,
    Test,
}

/// Records a firing of `rule` and queues its notifications; `None` when the rule
/// already fired for this run (the firing is a duplicate and nothing is sent).
async fn fire(
    conn: &mut Conn,
    rule: &RuleRow,
    kind: FiringKind,
    subject: Subject<'_>,
    value: Option<f64>,
    message: &str,
) -> Result<Option<AlertFiring>, AppError> {
    let id = Uuid::now_v7();
    let now = now_ms();
    let (run_id, campaign_id, path) = match &subject {
        Subject::Run(run) => (
            Some(run.run.id),
            run.run.campaign_id,
            format!("/runs/{}", run.run.id),
        ),
        Subject::Campaign { id, run, .. } => (Some(run.id), Some(*id), format!("/campaigns/{id}")),
        Subject::Window | Subject::Test => (None, None, list_path(rule)),
    };
    let inserted: Option<i64> = sql::query_scalar(
        "INSERT INTO alert_firings (id, rule_pk, kind, run_id, campaign_id, value, message, at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING pk",
    )
    .bind(id.to_string())
    .bind(rule.pk)
    .bind(kind.as_str())
    .bind(run_id.map(|id| id.to_string()))
    .bind(campaign_id.map(|id| id.to_string()))
    .bind(value)
    .bind(message)
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(firing_pk) = inserted else {
        return Ok(None);
    };
    let firing = AlertFiring {
        id,
        at: from_ms(now),
        kind,
        run_id,
        campaign_id,
        value,
        message: message.to_string(),
        channels: Vec::new(),
    };
    let mut notification = json!({
        "type": format!("alert.{}", kind.as_str()),
        "alert": {"id": rule.id, "name": rule.name},
        "condition": AlertCondition {
            kind: rule.kind()?,
            threshold: rule.threshold,
            window_mins: rule.window_mins,
            min_runs: rule.min_runs,
        },
        "firing": firing,
        "path": path,
    });
    match subject {
        Subject::Run(run) => notification["run"] = json!(run.run),
        Subject::Campaign { id, name, run } => {
            notification["campaign"] = json!({"id": id, "name": name});
            notification["run"] = json!(run);
        }
        Subject::Window | Subject::Test => {}
    }
    let payload = notification.to_string();
    for channel in rule.channels() {
        outbox::enqueue_alert(conn, rule.account_pk, firing_pk, &channel, &payload).await?;
    }
    Ok(Some(firing))
}

/// The runs list filtered to the rule's scope.
fn list_path(rule: &RuleRow) -> String {
    let mut terms = Vec::new();
    if let Some(agent) = &rule.scope_agent {
        terms.push(format!("agent:{agent}"));
    }
    if let Some(campaign) = &rule.scope_campaign {
        terms.push(format!("campaign:{campaign}"));
    }
    if let Some(q) = &rule.scope_q {
        terms.push(format!("({q})"));
    }
    if terms.is_empty() {
        return "/".to_string();
    }
    let q: String = url::form_urlencoded::byte_serialize(terms.join(" ").as_bytes()).collect();
    format!("/?q={q}")
}

/// Sends a test notification through every channel of the rule, recorded in its
/// history (the caller checked that the actor is an owner).
pub async fn send_test(db: &Db, actor: &Actor, id: Uuid) -> Result<AlertFiring, AppError> {
    let mut tx = db.begin_write().await?;
    let rule = rule_row(&mut tx, actor.account_pk, id).await?;
    let message = format!(
        "Test of the alert \u{201c}{}\u{201d}, sent by {}",
        rule.name, actor.name
    );
    let firing = fire(
        &mut tx,
        &rule,
        FiringKind::Test,
        Subject::Test,
        None,
        &message,
    )
    .await?
    .ok_or(AppError::Internal)?;
    audit::record(
        &mut tx,
        actor,
        AuditAction::AlertTest,
        Target::new("alert", id).with_detail(json!({"name": rule.name})),
    )
    .await?;
    tx.commit().await?;
    Ok(firing)
}

/// The enabled rules of the account with one of `kinds`.
async fn enabled_rules(
    conn: &mut Conn,
    account_pk: AccountPk,
    kinds: &[AlertConditionType],
) -> Result<Vec<RuleRow>, AppError> {
    Ok(enabled_rules_query(account_pk, kinds)
        .build_query_as()
        .fetch_all(&mut *conn)
        .await?)
}

/// The SQL of [`enabled_rules`] (public so that the query-plans test can explain it).
pub fn enabled_rules_query(account_pk: AccountPk, kinds: &[AlertConditionType]) -> SqlBuilder {
    let mut query = SqlBuilder::new(RULE_SELECT);
    query
        .push(" WHERE account_pk = ")
        .push_bind(account_pk)
        // The partial index's condition, as each database's planner matches it.
        .push_dialect(" AND enabled", " AND enabled <> 0")
        .push(" AND condition_type IN (");
    let mut kinds_list = query.separated(", ");
    for kind in kinds {
        kinds_list.push_bind(kind.as_str());
    }
    query.push(")");
    query
}

/// Whether the run `run_pk` is in the rule's scope: asked of the runs filter, so
/// a scope means here exactly what it means on the runs list.
async fn in_scope(conn: &mut Conn, rule: &RuleRow, run: &StoredRun) -> Result<bool, AppError> {
    if !rule.has_scope() {
        return Ok(true);
    }
    let mut query = SqlBuilder::new("SELECT r.pk FROM runs r");
    push_filter(
        &mut query,
        rule.account_pk,
        &rule.filter()?,
        Reading::Aggregate,
    )?;
    query.push(" AND r.pk = ").push_bind(run.pk);
    Ok(query
        .build_query_scalar::<i64>()
        .fetch_optional(&mut *conn)
        .await?
        .is_some())
}

const RUN_CONDITIONS: [AlertConditionType; 3] = [
    AlertConditionType::RunFailed,
    AlertConditionType::RunStalled,
    AlertConditionType::RunTimedOut,
];

/// A run ended failed: every enabled run rule whose condition and scope it meets
/// fires, once. Called by the status function in the run's transaction.
pub async fn on_run_failed(conn: &mut Conn, run: &StoredRun) -> Result<(), AppError> {
    let rules = enabled_rules(conn, run.account_pk, &RUN_CONDITIONS).await?;
    let code = run
        .run
        .error
        .as_ref()
        .and_then(|error| error.code.as_deref());
    for rule in rules {
        let kind = rule.kind()?;
        if kind.error_code().is_some_and(|wanted| Some(wanted) != code) {
            continue;
        }
        if !in_scope(conn, &rule, run).await? {
            continue;
        }
        let what = match kind {
            AlertConditionType::RunStalled => "stalled",
            AlertConditionType::RunTimedOut => "timed out",
            _ => "failed",
        };
        let reason = run
            .run
            .error
            .as_ref()
            .map(|error| match &error.code {
                Some(code) => format!(": {code}: {}", error.message),
                None => format!(": {}", error.message),
            })
            .unwrap_or_default();
        let title = run.run.summary.as_deref().unwrap_or("a run");
        let message = format!(
            "{} run \u{201c}{title}\u{201d} {what}{reason}",
            run.run.agent
        );
        fire(
            conn,
            &rule,
            FiringKind::Fired,
            Subject::Run(run),
            None,
            &message,
        )
        .await?;
    }
    Ok(())
}

/// A campaign's status changed from `before` to `after` because of the run
/// `run_id`: the enabled campaign rules for that change fire, once per run.
pub async fn on_campaign_changed(
    conn: &mut Conn,
    account_pk: AccountPk,
    campaign: (Uuid, &str),
    before: CampaignStatus,
    after: CampaignStatus,
    run: &Run,
) -> Result<(), AppError> {
    let kind = match after {
        _ if before == after => return Ok(()),
        CampaignStatus::Failed => AlertConditionType::CampaignFailed,
        CampaignStatus::Live => AlertConditionType::CampaignLive,
        _ => return Ok(()),
    };
    let (id, name) = campaign;
    for rule in enabled_rules(conn, account_pk, &[kind]).await? {
        if rule
            .scope_campaign
            .as_deref()
            .is_some_and(|wanted| wanted != id.to_string())
        {
            continue;
        }
        let message = match kind {
            AlertConditionType::CampaignFailed => {
                format!(
                    "Campaign \u{201c}{name}\u{201d} failed ({} run failed)",
                    run.agent
                )
            }
            _ => format!("Campaign \u{201c}{name}\u{201d} is live"),
        };
        let subject = Subject::Campaign { id, name, run };
        fire(conn, &rule, FiringKind::Fired, subject, None, &message).await?;
    }
    Ok(())
}

/// A threshold rule due for evaluation.
#[derive(Clone, Copy, Debug)]
pub struct DueRule {
    pub pk: i64,
}

/// The enabled threshold rules of every account not evaluated since `before`.
pub async fn due_threshold_rules(pool: &Pool, before: i64) -> Result<Vec<DueRule>, AppError> {
    let pks: Vec<i64> = due_threshold_rules_query(before)
        .build_query_scalar()
        .fetch_all(pool)
        .await?;
    Ok(pks.into_iter().map(|pk| DueRule { pk }).collect())
}

/// The SQL of [`due_threshold_rules`], by the partial index of threshold rules
/// (never evaluated first: NULL sorts first).
pub fn due_threshold_rules_query(before: i64) -> SqlBuilder {
    let mut query = SqlBuilder::new("SELECT pk FROM alert_rules");
    query.push_indexed_by("alert_rules_threshold");
    // The partial index's condition, as each database's planner matches it.
    query.push_dialect(" WHERE enabled", " WHERE enabled <> 0");
    query
        .push(
            " AND condition_type IN ('failure_rate', 'p95_duration', 'no_success')
           AND (evaluated_at IS NULL OR evaluated_at < ",
        )
        .push_bind(before)
        .push(") ORDER BY evaluated_at");
    query
}

/// What a window of runs measured for a threshold rule.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Measure {
    /// The value compared with the threshold (a rate, milliseconds, or completed runs).
    pub value: Option<f64>,
    /// Whether the condition holds.
    pub crossed: bool,
    /// Finished runs in the window.
    pub runs: i64,
}

/// `columns` over the runs of the scope `filter` that finished since `since`,
/// by the index on finish time: the read of every threshold measure.
pub fn window_query(
    account_pk: AccountPk,
    filter: &RunFilter,
    since: i64,
    columns: &str,
) -> Result<SqlBuilder, AppError> {
    let mut query = SqlBuilder::new(format!("SELECT {columns} FROM runs r"));
    query.push_indexed_by("runs_account_completed");
    push_filter(&mut query, account_pk, filter, Reading::Aggregate)?;
    query.push(" AND r.completed_at >= ").push_bind(since);
    Ok(query)
}

/// Measures the rule's window on the read pool: the runs of its scope that
/// finished in the last `windowMins` (by the index on finish time).
async fn measure(pool: &Pool, rule: &RuleRow, now: i64) -> Result<Measure, AppError> {
    let kind = rule.kind()?;
    let window_mins = rule.window_mins.unwrap_or(model::DEFAULT_WINDOW_MINS);
    let since = now - window_mins * 60_000;
    let min_runs = rule.min_runs.unwrap_or(1);
    let select = |columns: &str| window_query(rule.account_pk, &rule.filter()?, since, columns);
    match kind {
        AlertConditionType::FailureRate => {
            let (runs, failed): (i64, i64) =
                select("count(*), CAST(coalesce(sum(CASE WHEN r.status = 'failed' THEN 1 ELSE 0 END), 0) AS BIGINT)")?
                    .build_query_as()
                    .fetch_one(pool)
                    .await?;
            let rate = (runs > 0).then(|| failed as f64 / runs as f64);
            Ok(Measure {
                value: rate,
                crossed: runs >= min_runs
                    && rate.is_some_and(|rate| rate >= rule.threshold.unwrap_or(1.0)),
                runs,
            })
        }
        AlertConditionType::P95Duration => {
            let mut query = select("r.duration_ms")?;
            query.push(" AND r.duration_ms IS NOT NULL ORDER BY r.duration_ms");
            let mut durations: Vec<i64> = query.build_query_scalar().fetch_all(pool).await?;
            let p95 = model::exact_percentile(&mut durations, 0.95).map(|ms| ms as f64);
            let runs = durations.len() as i64;
            Ok(Measure {
                value: p95,
                crossed: runs >= min_runs
                    && p95.is_some_and(|p95| p95 >= rule.threshold.unwrap_or(f64::MAX)),
                runs,
            })
        }
        AlertConditionType::NoSuccess => {
            let mut query = select("count(*)")?;
            query.push(" AND r.status = 'completed'");
            let completed: i64 = query.build_query_scalar().fetch_one(pool).await?;
            // A rule younger than its window has not watched a whole window yet.
            let watched = now - rule.created_at >= window_mins * 60_000;
            Ok(Measure {
                value: Some(completed as f64),
                crossed: watched && completed == 0,
                runs: completed,
            })
        }
        _ => Err(AppError::Internal),
    }
}

fn threshold_message(rule: &RuleRow, kind: AlertConditionType, measure: &Measure) -> String {
    let window = model::format_duration_ms(rule.window_mins.unwrap_or(0) * 60_000);
    let threshold = rule.threshold.unwrap_or_default();
    let resolved = !measure.crossed;
    match kind {
        AlertConditionType::FailureRate => {
            let rate = measure.value.unwrap_or(0.0) * 100.0;
            format!(
                "{}: failure rate {rate:.0} % {} {:.0} % over the last {window} ({} finished runs)",
                rule.name,
                if resolved { "is back below" } else { "reached" },
                threshold * 100.0,
                measure.runs
            )
        }
        AlertConditionType::P95Duration => format!(
            "{}: duration p95 {} {} {} over the last {window} ({} finished runs)",
            rule.name,
            measure
                .value
                .map(|ms| model::format_duration_ms(ms as i64))
                .unwrap_or_else(|| "-".into()),
            if resolved { "is back below" } else { "reached" },
            model::format_duration_ms(threshold as i64),
            measure.runs
        ),
        _ if resolved => format!(
            "{}: runs complete again ({} in the last {window})",
            rule.name, measure.runs
        ),
        _ => format!("{}: no run completed in the last {window}", rule.name),
    }
}

/// Evaluates one threshold rule at `now`: measures its window, stores the value,
/// and when the condition was crossed or came back since the last evaluation,
/// fires or resolves (in one write transaction with the new state). Returns what
/// it recorded, if anything.
pub async fn evaluate(db: &Db, rule: DueRule, now: i64) -> Result<Option<FiringKind>, AppError> {
    let row: Option<RuleRow> =
        sql::query_as(format!("{RULE_SELECT} WHERE pk = ? AND enabled <> 0"))
            .bind(rule.pk)
            .fetch_optional(&db.read)
            .await?;
    let Some(row) = row else { return Ok(None) };
    let kind = row.kind()?;
    let measure = measure(&db.read, &row, now).await?;
    let mut tx = db.begin_write().await?;
    // Read again in the writer: an owner may have changed the rule meanwhile.
    let current: Option<(String, i64)> =
        sql::query_as("SELECT state, updated_at FROM alert_rules WHERE pk = ? AND enabled <> 0")
            .bind(rule.pk)
            .fetch_optional(&mut *tx)
            .await?;
    let Some((state, updated_at)) = current else {
        return Ok(None);
    };
    if updated_at != row.updated_at {
        return Ok(None);
    }
    let was_firing = AlertState::parse(&state) == AlertState::Firing;
    let next = if measure.crossed {
        AlertState::Firing
    } else {
        AlertState::Ok
    };
    sql::query("UPDATE alert_rules SET state = ?, evaluated_at = ?, last_value = ? WHERE pk = ?")
        .bind(next.as_str())
        .bind(now)
        .bind(measure.value)
        .bind(rule.pk)
        .execute(&mut *tx)
        .await?;
    let recorded = match (was_firing, measure.crossed) {
        (false, true) => Some(FiringKind::Fired),
        (true, false) => Some(FiringKind::Resolved),
        _ => None,
    };
    if let Some(firing) = recorded {
        let message = threshold_message(&row, kind, &measure);
        fire(
            &mut tx,
            &row,
            firing,
            Subject::Window,
            measure.value,
            &message,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(recorded)
}

/// Deletes firings (with their deliveries) older than `before`, at most `limit`;
/// returns how many went.
pub async fn prune_firings(db: &Db, before: i64, limit: i64) -> Result<u64, AppError> {
    let mut tx = db.begin_write().await?;
    let deleted = sql::query(
        "DELETE FROM alert_firings WHERE pk IN (SELECT pk FROM alert_firings WHERE at < ? LIMIT ?)",
    )
    .bind(before)
    .bind(limit)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    Ok(deleted)
}
