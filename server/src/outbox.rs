//! Delivers the durable outbox: push dispatch of new runs to their agent's
//! dispatch URL (the runner protocol's job request), and signed webhooks with a run's final
//! state. Rows survive restarts; failures are retried with exponential backoff
//! until the attempts run out.

use app::state::AppState;
use hmac::{Hmac, Mac};
use model::AppError;
use serde_json::json;
use sha2::Sha256;
use std::time::Duration;
use store::db::deliveries::{self, Due, Outcome};
use store::db::{accounts, now_ms, outbox::Kind, runs};
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
    let due = deliveries::due(&state.db.read).await?;
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
    let outcome = match result {
        Ok(()) => Outcome::Delivered,
        Err(problem) if attempts >= policy.attempts_for(kind) => {
            tracing::warn!(url = %item.url, kind = kind.as_str(), %problem, attempts, "outbox: giving up");
            Outcome::GaveUp { problem }
        }
        Err(problem) => Outcome::Retry {
            next_attempt_at: now_ms()
                + i64::try_from(policy.delay_after(attempts).as_millis()).unwrap_or(i64::MAX),
            problem,
        },
    };
    deliveries::record_attempt(&state.db, &item, kind, attempts, outcome).await
}

/// The runner protocol's job request, with a fresh runner token instead of the shared secret.
async fn dispatch(state: &AppState, client: &reqwest::Client, item: &Due) -> Result<(), String> {
    let run_pk = item.run_pk.ok_or("the run is gone")?;
    let run = runs::find_run_by_pk(&state.db.read, run_pk)
        .await
        .map_err(|error| error.to_string())?;
    let account_id = accounts::public_id(&state.db.read, item.account_pk)
        .await
        .map_err(|error| error.to_string())?;
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
    let secret = accounts::webhook_secret(&state.db.read, item.account_pk)
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
