//! Delivers the durable outbox: push dispatch of new runs to their agent's
//! dispatch URL (seed 003's job request), and signed webhooks with a run's final
//! state. Rows survive restarts; failures are retried with exponential backoff
//! until the attempts run out.

use app::state::AppState;
use hmac::{Hmac, Mac};
use model::{AppError, RunError, RunStatus};
use serde_json::json;
use sha2::Sha256;
use std::time::Duration;
use store::db::runs::{self, StatusUpdate};
use store::db::{now_ms, outbox::Kind};
use tokio::sync::watch;

/// How often and how long deliveries are retried.
#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    /// Delay after the first failure; doubled after each further one.
    pub base_delay: Duration,
    pub max_delay: Duration,
    pub dispatch_attempts: i64,
    pub webhook_attempts: i64,
    /// Longest wait for one HTTP call.
    pub timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            base_delay: Duration::from_secs(2),
            max_delay: Duration::from_secs(600),
            dispatch_attempts: 6,
            webhook_attempts: 10,
            timeout: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    fn delay_after(&self, attempts: i64) -> Duration {
        let factor =
            2u32.saturating_pow(u32::try_from(attempts.saturating_sub(1)).unwrap_or(u32::MAX));
        self.base_delay.saturating_mul(factor).min(self.max_delay)
    }

    fn attempts_for(&self, kind: Kind) -> i64 {
        match kind {
            Kind::Dispatch => self.dispatch_attempts,
            Kind::Webhook => self.webhook_attempts,
        }
    }
}

/// `Runboard-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">`.
pub fn signature(secret: &str, timestamp: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| {
        // HMAC takes keys of any length; this cannot happen.
        unreachable!("hmac accepts any key length")
    });
    mac.update(format!("{timestamp}.{body}").as_bytes());
    format!(
        "t={timestamp},v1={}",
        store::db::tokens::hex(&mac.finalize().into_bytes())
    )
}

#[derive(sqlx::FromRow)]
struct Due {
    pk: i64,
    kind: String,
    account_pk: i64,
    run_pk: Option<i64>,
    url: String,
    payload: String,
    attempts: i64,
}

/// Runs until `stop` changes, delivering whatever is due.
pub async fn run(state: AppState, policy: RetryPolicy, mut stop: watch::Receiver<bool>) {
    let client = match reqwest::Client::builder()
        .timeout(policy.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("Runboard/", env!("CARGO_PKG_VERSION")))
        .build()
    {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(%error, "outbox: cannot build the HTTP client; deliveries are off");
            return;
        }
    };
    loop {
        match deliver_due(&state, &client, &policy).await {
            Ok(0) | Err(_) => {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(200)) => {}
                    _ = stop.changed() => return,
                }
            }
            Ok(_) => {
                if *stop.borrow() {
                    return;
                }
            }
        }
    }
}

async fn deliver_due(
    state: &AppState,
    client: &reqwest::Client,
    policy: &RetryPolicy,
) -> Result<usize, AppError> {
    let due: Vec<Due> = sqlx::query_as(
        "SELECT pk, kind, account_pk, run_pk, url, payload, attempts FROM outbox
         WHERE state = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at LIMIT 16",
    )
    .bind(now_ms())
    .fetch_all(&state.db.read)
    .await?;
    let count = due.len();
    for item in due {
        if let Err(error) = deliver(state, client, policy, item).await {
            tracing::warn!(
                ?error,
                "outbox: bookkeeping failed; the delivery will be retried"
            );
        }
    }
    Ok(count)
}

async fn deliver(
    state: &AppState,
    client: &reqwest::Client,
    policy: &RetryPolicy,
    item: Due,
) -> Result<(), AppError> {
    let Some(kind) = Kind::parse(&item.kind) else {
        return Ok(());
    };
    let result = match kind {
        Kind::Dispatch => dispatch(state, client, &item).await,
        Kind::Webhook => webhook(state, client, &item).await,
    };
    let attempts = item.attempts + 1;
    let mut tx = state.db.begin_write().await?;
    match result {
        Ok(()) => {
            sqlx::query("UPDATE outbox SET state = 'delivered', attempts = ?, finished_at = ?, last_error = NULL WHERE pk = ?")
                .bind(attempts)
                .bind(now_ms())
                .bind(item.pk)
                .execute(&mut *tx)
                .await?;
            settle_run(&mut tx, kind, item.run_pk, true, None).await?;
        }
        Err(problem) if attempts >= policy.attempts_for(kind) => {
            tracing::warn!(url = %item.url, kind = kind.as_str(), %problem, attempts, "outbox: giving up");
            sqlx::query("UPDATE outbox SET state = 'failed', attempts = ?, finished_at = ?, last_error = ? WHERE pk = ?")
                .bind(attempts)
                .bind(now_ms())
                .bind(&problem)
                .bind(item.pk)
                .execute(&mut *tx)
                .await?;
            settle_run(&mut tx, kind, item.run_pk, false, Some(problem)).await?;
        }
        Err(problem) => {
            let next = now_ms()
                + i64::try_from(policy.delay_after(attempts).as_millis()).unwrap_or(i64::MAX);
            sqlx::query(
                "UPDATE outbox SET attempts = ?, next_attempt_at = ?, last_error = ? WHERE pk = ?",
            )
            .bind(attempts)
            .bind(next)
            .bind(&problem)
            .bind(item.pk)
            .execute(&mut *tx)
            .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// What a finished delivery means for its run: a dispatched run is queued (or,
/// undeliverable, failed with `dispatch_failed`); a webhook's status is recorded.
async fn settle_run(
    conn: &mut sqlx::SqliteConnection,
    kind: Kind,
    run_pk: Option<i64>,
    delivered: bool,
    problem: Option<String>,
) -> Result<(), AppError> {
    let Some(run_pk) = run_pk else { return Ok(()) };
    match kind {
        Kind::Webhook => {
            sqlx::query("UPDATE runs SET webhook_status = ? WHERE pk = ?")
                .bind(if delivered { "delivered" } else { "failed" })
                .bind(run_pk)
                .execute(&mut *conn)
                .await?;
        }
        Kind::Dispatch => {
            let run = runs::get_run_by_pk(conn, run_pk).await?;
            // Only a run still waiting moves: a runner may already have reported.
            if run.run.status != RunStatus::Requested {
                return Ok(());
            }
            let update = if delivered {
                StatusUpdate {
                    status: Some(RunStatus::Queued),
                    ..StatusUpdate::default()
                }
            } else {
                StatusUpdate {
                    status: Some(RunStatus::Failed),
                    progress: None,
                    error: Some(RunError {
                        code: Some("dispatch_failed".into()),
                        message: "the job could not be delivered to the agent's dispatch URL"
                            .into(),
                        details: problem.map(|problem| json!({"lastError": problem})),
                    }),
                }
            };
            runs::apply_status(conn, &run, &update).await?;
        }
    }
    Ok(())
}

/// Seed 003's job request, with a fresh runner token instead of the shared secret.
async fn dispatch(state: &AppState, client: &reqwest::Client, item: &Due) -> Result<(), String> {
    let run_pk = item.run_pk.ok_or("the run is gone")?;
    let (run, account_id) = {
        let mut conn = state
            .db
            .read
            .acquire()
            .await
            .map_err(|error| error.to_string())?;
        let run = runs::get_run_by_pk(&mut conn, run_pk)
            .await
            .map_err(|error| error.to_string())?;
        let account_id: String = sqlx::query_scalar("SELECT id FROM accounts WHERE pk = ?")
            .bind(item.account_pk)
            .fetch_one(&mut *conn)
            .await
            .map_err(|error| error.to_string())?;
        (run, account_id)
    };
    if run.run.status.is_terminal() {
        return Ok(());
    }
    let runner_token = state
        .keys
        .runner_token(run.run.id)
        .map_err(|error| error.to_string())?;
    let job = json!({
        "runId": run.run.id,
        "accountId": account_id,
        "agent": run.run.agent,
        "input": run.run.input,
        "config": run.run.context,
        "callbackUrl": format!("{}/api/runner/runs/{}", state.public_url, run.run.id),
        "runnerToken": runner_token,
    });
    post(client, &item.url, job.to_string(), None).await
}

async fn webhook(state: &AppState, client: &reqwest::Client, item: &Due) -> Result<(), String> {
    let secret: String = sqlx::query_scalar("SELECT webhook_secret FROM accounts WHERE pk = ?")
        .bind(item.account_pk)
        .fetch_one(&state.db.read)
        .await
        .map_err(|error| error.to_string())?;
    let body = json!({"type": "run.finished", "run": serde_json::from_str::<serde_json::Value>(&item.payload).unwrap_or_default()})
        .to_string();
    let signed = signature(&secret, chrono::Utc::now().timestamp(), &body);
    post(client, &item.url, body, Some(signed)).await
}

async fn post(
    client: &reqwest::Client,
    url: &str,
    body: String,
    signature: Option<String>,
) -> Result<(), String> {
    let mut request = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body);
    if let Some(signature) = signature {
        request = request.header("Runboard-Signature", signature);
    }
    let response = request.send().await.map_err(|error| error.to_string())?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(format!("{url} answered {}", response.status()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.delay_after(1), Duration::from_secs(2));
        assert_eq!(policy.delay_after(3), Duration::from_secs(8));
        assert_eq!(policy.delay_after(40), Duration::from_secs(600));
    }

    #[test]
    fn the_signature_covers_timestamp_and_body() {
        let one = signature("secret", 1_700_000_000, "{}");
        assert!(one.starts_with("t=1700000000,v1="));
        assert_ne!(one, signature("secret", 1_700_000_001, "{}"));
        assert_ne!(one, signature("secret", 1_700_000_000, "{ }"));
        assert_ne!(one, signature("other", 1_700_000_000, "{}"));
    }
}
