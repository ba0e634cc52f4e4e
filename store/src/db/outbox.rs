//! The durable outbox of outgoing HTTP calls (webhook deliveries, push dispatch):
//! rows are written in the same transaction as the change that causes them, so a
//! crash or restart never loses one; a background worker delivers them.

use super::now_ms;
use crate::db::sql::{self, Conn};
use model::{AccountPk, AlertChannel, RunPk};

#[derive(Clone, Copy, Debug, PartialEq, Eq, strum::IntoStaticStr, strum::EnumString)]
#[strum(serialize_all = "lowercase")]
pub enum Kind {
    Webhook,
    Dispatch,
    /// An alert's notification through one channel (`channel`: webhook, slack, email).
    Alert,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    pub fn parse(value: &str) -> Option<Kind> {
        value.parse().ok()
    }
}

/// Queues a call, due now. A dispatch payload is built at delivery time (it holds
/// a fresh runner token), so it is stored empty.
pub async fn enqueue(
    conn: &mut Conn,
    kind: Kind,
    account_pk: AccountPk,
    run_pk: RunPk,
    url: &str,
    payload: &str,
) -> Result<(), sqlx::Error> {
    let now = now_ms();
    sql::query(
        "INSERT INTO outbox (kind, account_pk, run_pk, url, payload, next_attempt_at, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(kind.as_str())
    .bind(account_pk)
    .bind(run_pk)
    .bind(url)
    .bind(payload)
    .bind(now)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Queues an alert firing's notification through `channel`, due now. `payload`
/// is the notification as JSON; the worker shapes it for the channel.
pub async fn enqueue_alert(
    conn: &mut Conn,
    account_pk: AccountPk,
    firing_pk: i64,
    channel: &AlertChannel,
    payload: &str,
) -> Result<(), sqlx::Error> {
    let now = now_ms();
    sql::query(
        "INSERT INTO outbox (kind, account_pk, firing_pk, channel, url, payload, next_attempt_at, created_at)
         VALUES ('alert', ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(account_pk)
    .bind(firing_pk)
    .bind(channel.kind())
    .bind(channel.target())
    .bind(payload)
    .bind(now)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}
