//! Delivers the durable outbox: push dispatch of new runs to their agent's
//! dispatch URL (the runner protocol's job request), and signed webhooks with a run's final
//! state. Rows survive restarts; failures are retried with exponential backoff
//! until the attempts run out.
//!
//! Every call goes through the outbound policy ([`store::outbound`]) at connection
//! time, whatever was checked when the URL was stored: a URL naming an address is
//! checked before the request, a host name is resolved by [`PolicyResolver`],
//! which drops the addresses the policy refuses (so a name that resolves
//! elsewhere than it did, DNS rebinding, reaches nothing new). Redirects are not
//! followed, and no proxy is used, so the checked address is the one connected
//! to. What a failure stores ([`Failure`]) says what went wrong in general terms,
//! never the receiver's words or the socket's error.

use crate::mail::{MailError, Mailer};
use app::state::AppState;
use hmac::{Hmac, Mac};
use model::AppError;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use serde_json::json;
use sha2::Sha256;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use store::db::deliveries::{self, Due, Outcome};
use store::db::{accounts, millis, now_ms, outbox::Kind, runs};
use store::outbound::{Outbound, Refused, ResolveError};
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

    /// How long a worker keeps the deliveries it took ([`deliveries::claim_due`]):
    /// long enough to try each of them, one after the other, to its timeout.
    fn claim(&self) -> Duration {
        let calls = u32::try_from(deliveries::CLAIMED_AT_ONCE + 1).unwrap_or(u32::MAX);
        self.timeout.saturating_mul(calls)
    }

    fn attempts_for(&self, kind: Kind) -> i64 {
        match kind {
            Kind::Dispatch => self.dispatch_attempts,
            Kind::Webhook | Kind::Alert => self.webhook_attempts,
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

/// The HTTP client's resolver: host names resolve to the addresses the outbound
/// policy lets through, or fail with [`Refused`] when none is left.
struct PolicyResolver(Arc<Outbound>);

impl Resolve for PolicyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let outbound = self.0.clone();
        let name = name.as_str().to_string();
        Box::pin(async move {
            match outbound.resolve(&name).await {
                Ok(addresses) => {
                    let addrs: Addrs = Box::new(
                        addresses
                            .into_iter()
                            .map(|ip| SocketAddr::new(ip, 0))
                            .collect::<Vec<_>>()
                            .into_iter(),
                    );
                    Ok(addrs)
                }
                Err(ResolveError::Refused(refused)) => Err(refused.into()),
                Err(ResolveError::Lookup(error)) => Err(error.into()),
            }
        })
    }
}

/// The client every delivery is sent with: the policy's resolver, no redirects,
/// no proxy, the policy's timeout.
pub fn client(outbound: Arc<Outbound>, timeout: Duration) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .dns_resolver(Arc::new(PolicyResolver(outbound)))
        .user_agent(concat!("Runboard/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Runs until `stop` changes, delivering whatever is due; alert emails go
/// through `mailer` (none: the server has no SMTP relay).
pub async fn run(
    state: AppState,
    policy: RetryPolicy,
    mailer: Option<Arc<Mailer>>,
    mut stop: watch::Receiver<bool>,
) {
    let client = match client(state.db.outbound().clone(), policy.timeout) {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(%error, "outbox: cannot build the HTTP client; deliveries are off");
            return;
        }
    };
    loop {
        match deliver_due(&state, &client, mailer.as_deref(), &policy).await {
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
    mailer: Option<&Mailer>,
    policy: &RetryPolicy,
) -> Result<usize, AppError> {
    let due = deliveries::claim_due(&state.db, policy.claim()).await?;
    let count = due.len();
    for item in due {
        if let Err(error) = deliver(state, client, mailer, policy, item).await {
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
    mailer: Option<&Mailer>,
    policy: &RetryPolicy,
    item: Due,
) -> Result<(), AppError> {
    let Some(kind) = Kind::parse(&item.kind) else {
        return Ok(());
    };
    let result = match kind {
        Kind::Dispatch => dispatch(state, client, &item).await,
        Kind::Webhook => webhook(state, client, &item).await,
        Kind::Alert => alert(state, client, mailer, &item).await,
    };
    let attempts = item.attempts + 1;
    let outcome = match result {
        Ok(()) => Outcome::Delivered,
        Err(failure) if failure.is_final() || attempts >= policy.attempts_for(kind) => {
            tracing::warn!(url = %item.url, kind = kind.as_str(), %failure, attempts, "outbox: giving up");
            Outcome::GaveUp {
                problem: failure.to_string(),
            }
        }
        Err(failure) => Outcome::Retry {
            next_attempt_at: now_ms().saturating_add(millis(policy.delay_after(attempts))),
            problem: failure.to_string(),
        },
    };
    let counted = match &outcome {
        Outcome::Delivered => "delivered",
        Outcome::Retry { .. } => "retry",
        Outcome::GaveUp { .. } => "gave_up",
    };
    metrics::counter!(store::metrics::OUTBOX_ATTEMPTS, "kind" => kind.as_str(), "outcome" => counted)
        .increment(1);
    deliveries::record_attempt(&state.db, &item, kind, attempts, outcome).await
}

/// Why a delivery failed, as stored with it and shown on its run: what happened,
/// in general terms. The details (the receiver's status line, the socket error)
/// go to the server's log only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The outbound policy refused the address (or every address of the name).
    Refused,
    /// The receiver answered with this non-success status.
    Answered(u16),
    Timeout,
    Connect,
    /// The request failed otherwise (TLS, a broken connection, a bad answer).
    Request,
    /// The stored URL cannot be requested.
    BadUrl,
    /// The request could not be prepared (the run or account could not be read).
    Internal,
    /// An email channel, and the server has no SMTP relay (`RUNBOARD_SMTP_URL`).
    NoMailRelay,
    /// The mail relay refused the message for good.
    MailRejected,
    /// The mail relay could not be reached or asked to try later.
    MailUnavailable,
}

impl Failure {
    /// Whether trying again cannot help.
    fn is_final(self) -> bool {
        matches!(
            self,
            Failure::Refused | Failure::BadUrl | Failure::NoMailRelay | Failure::MailRejected
        )
    }

    fn of(error: &reqwest::Error) -> Failure {
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
        while let Some(cause) = source {
            if cause.downcast_ref::<Refused>().is_some() {
                return Failure::Refused;
            }
            source = cause.source();
        }
        if error.is_timeout() {
            Failure::Timeout
        } else if error.is_connect() {
            Failure::Connect
        } else if error.is_builder() {
            Failure::BadUrl
        } else {
            Failure::Request
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Refused => f.write_str("refused by the outbound policy"),
            Failure::Answered(status) => write!(f, "the receiver answered {status}"),
            Failure::Timeout => f.write_str("timed out"),
            Failure::Connect => f.write_str("could not connect"),
            Failure::Request => f.write_str("the request failed"),
            Failure::BadUrl => f.write_str("the URL cannot be requested"),
            Failure::Internal => f.write_str("the request could not be prepared"),
            Failure::NoMailRelay => {
                f.write_str("this server has no mail relay (RUNBOARD_SMTP_URL)")
            }
            Failure::MailRejected => f.write_str("the mail relay refused the message"),
            Failure::MailUnavailable => f.write_str("the mail relay could not take the message"),
        }
    }
}

/// Logs why a delivery could not be prepared; the delivery stores only that it could not.
fn internal(error: impl std::fmt::Display) -> Failure {
    tracing::warn!(%error, "outbox: could not prepare a delivery");
    Failure::Internal
}

/// The runner protocol's job request, with a fresh runner token instead of the shared secret.
async fn dispatch(state: &AppState, client: &reqwest::Client, item: &Due) -> Result<(), Failure> {
    let run_pk = item.run_pk.ok_or(Failure::Internal)?;
    let run = runs::find_run_by_pk(&state.db.read, run_pk)
        .await
        .map_err(internal)?;
    let account_id = accounts::public_id(&state.db.read, item.account_pk)
        .await
        .map_err(internal)?;
    if run.run.status.is_terminal() {
        return Ok(());
    }
    let runner_token = state.keys.runner_token(run.run.id).map_err(internal)?;
    let job = json!({
        "runId": run.run.id,
        "accountId": account_id,
        "agent": run.run.agent,
        "input": run.run.input,
        "config": run.run.context,
        "callbackUrl": format!("{}/api/runner/runs/{}", state.public_url, run.run.id),
        "runnerToken": runner_token,
    });
    post(
        client,
        state.db.outbound(),
        &item.url,
        job.to_string(),
        None,
    )
    .await
}

async fn webhook(state: &AppState, client: &reqwest::Client, item: &Due) -> Result<(), Failure> {
    let secret = accounts::webhook_secret(&state.db.read, item.account_pk)
        .await
        .map_err(internal)?;
    let body = json!({"type": "run.finished", "run": serde_json::from_str::<serde_json::Value>(&item.payload).unwrap_or_default()})
        .to_string();
    let signed = signature(&secret, chrono::Utc::now().timestamp(), &body);
    post(client, state.db.outbound(), &item.url, body, Some(signed)).await
}

/// An alert's notification through its channel: the signed JSON of a run
/// webhook, a Slack-compatible `{"text": …}`, or an email. The notification was
/// stored when the rule fired; its link is made absolute here.
async fn alert(
    state: &AppState,
    client: &reqwest::Client,
    mailer: Option<&Mailer>,
    item: &Due,
) -> Result<(), Failure> {
    let mut notification: serde_json::Value =
        serde_json::from_str(&item.payload).map_err(internal)?;
    let link = format!(
        "{}{}",
        state.public_url,
        notification["path"].as_str().unwrap_or("/")
    );
    notification["url"] = json!(link);
    let text = AlertText::of(&notification, &link);
    match item.channel.as_deref() {
        Some("webhook") => {
            let secret = accounts::webhook_secret(&state.db.read, item.account_pk)
                .await
                .map_err(internal)?;
            let body = notification.to_string();
            let signed = signature(&secret, chrono::Utc::now().timestamp(), &body);
            post(client, state.db.outbound(), &item.url, body, Some(signed)).await
        }
        Some("slack") => {
            let body = json!({"text": text.slack}).to_string();
            post(client, state.db.outbound(), &item.url, body, None).await
        }
        Some("email") => {
            let mailer = mailer.ok_or(Failure::NoMailRelay)?;
            mailer
                .send(&item.url, &text.subject, text.body)
                .await
                .map_err(|error| match error {
                    MailError::BadAddress | MailError::Rejected => Failure::MailRejected,
                    MailError::Unavailable => Failure::MailUnavailable,
                })
        }
        _ => Err(internal("an alert delivery without a known channel")),
    }
}

/// An alert notification as words: a Slack line, an email's subject and body.
struct AlertText {
    slack: String,
    subject: String,
    body: String,
}

impl AlertText {
    fn of(notification: &serde_json::Value, link: &str) -> AlertText {
        let name = notification["alert"]["name"].as_str().unwrap_or("alert");
        let message = notification["firing"]["message"].as_str().unwrap_or("");
        let (mark, word) = match notification["firing"]["kind"].as_str() {
            Some("resolved") => ("\u{2705}", "Resolved"),
            Some("test") => ("\u{1f514}", "Test"),
            _ => ("\u{1f6a8}", "Alert"),
        };
        // Slack's link syntax is `<url|text>`; `<`, `>` and `&` in text are escaped.
        let escape = |text: &str| {
            text.replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
        };
        AlertText {
            slack: format!(
                "{mark} *{}*: {} <{link}|Open in Runboard>",
                escape(name),
                escape(message)
            ),
            subject: format!("[Runboard] {word}: {name}"),
            body: format!(
                "{message}\n\n{link}\n\nSent by the alert rule \u{201c}{name}\u{201d} of Runboard.\n"
            ),
        }
    }
}

/// Posts `body` to `url` with `client` (built by [`client`] over the same
/// `outbound` policy). An address named in the URL is checked here: the client's
/// resolver only sees host names.
pub async fn post(
    client: &reqwest::Client,
    outbound: &Outbound,
    url: &str,
    body: String,
    signature: Option<String>,
) -> Result<(), Failure> {
    let parsed = reqwest::Url::parse(url).map_err(|_| Failure::BadUrl)?;
    let literal: Option<IpAddr> = match parsed.host() {
        Some(url::Host::Ipv4(ip)) => Some(ip.into()),
        Some(url::Host::Ipv6(ip)) => Some(ip.into()),
        Some(url::Host::Domain(_)) => None,
        None => return Err(Failure::BadUrl),
    };
    if let Some(ip) = literal {
        if let Err(reason) = outbound.check_ip(ip, parsed.port_or_known_default()) {
            tracing::warn!(%url, reason = reason.describe(), "outbox: refused by the outbound policy");
            return Err(Failure::Refused);
        }
    }
    let mut request = client
        .post(parsed)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body);
    if let Some(signature) = signature {
        request = request.header("Runboard-Signature", signature);
    }
    let response = request.send().await.map_err(|error| {
        let failure = Failure::of(&error);
        tracing::warn!(%url, %failure, error = %error_chain(&error), "outbox: delivery failed");
        failure
    })?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(Failure::Answered(response.status().as_u16()))
    }
}

/// An error with its causes, for the log.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
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
    fn failures_are_stored_in_general_terms() {
        assert_eq!(
            Failure::Answered(500).to_string(),
            "the receiver answered 500"
        );
        assert_eq!(Failure::Connect.to_string(), "could not connect");
        assert_eq!(Failure::Timeout.to_string(), "timed out");
        assert_eq!(
            Failure::Refused.to_string(),
            "refused by the outbound policy"
        );
        assert!(Failure::Refused.is_final());
        assert!(!Failure::Answered(503).is_final());
    }

    /// A port with nothing listening.
    fn closed_port() -> u16 {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    }

    async fn post_to(outbound: Outbound, url: &str, timeout: Duration) -> Result<(), Failure> {
        let outbound = Arc::new(outbound);
        let client = client(outbound.clone(), timeout).unwrap();
        post(&client, &outbound, url, "{}".into(), None).await
    }

    fn allow(entries: &str) -> Outbound {
        Outbound::new(
            entries
                .split(',')
                .map(|entry| entry.parse().unwrap())
                .collect(),
        )
    }

    #[tokio::test]
    async fn connections_to_refused_addresses_are_not_made() {
        let port = closed_port();
        for url in [
            format!("http://127.0.0.1:{port}/"),
            format!("http://2130706433:{port}/"),
            format!("http://[::ffff:127.0.0.1]:{port}/"),
            format!("http://localhost:{port}/"),
            format!("http://rebind.localhost:{port}/"),
            "http://169.254.169.254/latest/meta-data/".to_string(),
            "http://metadata.google.internal/".to_string(),
        ] {
            assert_eq!(
                post_to(Outbound::default(), &url, Duration::from_secs(5)).await,
                Err(Failure::Refused),
                "{url}"
            );
        }
        // Allowed, the same addresses are connected to (and nothing listens).
        for url in [
            format!("http://127.0.0.1:{port}/"),
            format!("http://localhost:{port}/"),
        ] {
            assert_eq!(
                post_to(allow("127.0.0.1"), &url, Duration::from_secs(5)).await,
                Err(Failure::Connect),
                "{url}"
            );
        }
        assert_eq!(
            post_to(
                allow("0.0.0.0/0"),
                "http://169.254.169.254/",
                Duration::from_secs(5)
            )
            .await,
            Err(Failure::Refused),
            "metadata stays refused"
        );
    }

    #[tokio::test]
    async fn a_receiver_that_does_not_answer_in_time_is_a_timeout() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        // Accepts the connection and says nothing.
        let held = tokio::spawn(async move {
            let connection = listener.accept().await;
            tokio::time::sleep(Duration::from_secs(5)).await;
            drop(connection);
        });
        assert_eq!(
            post_to(allow("127.0.0.1"), &url, Duration::from_millis(200)).await,
            Err(Failure::Timeout)
        );
        held.abort();
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
