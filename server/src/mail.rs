//! Email for alert rules, over the operator's SMTP relay (`RUNBOARD_SMTP_URL`:
//! `smtp://host:25`, `smtp://user:pass@host:587?tls=required` for STARTTLS, or
//! `smtps://…` for TLS from the start). Without a relay, rules cannot have email
//! channels; the relay is the operator's, so the outbound policy that guards
//! webhook URLs does not apply to it.

use lettre::message::Mailbox;
use lettre::transport::smtp::AsyncSmtpTransport;
use lettre::{AsyncTransport, Message, Tokio1Executor};
use std::time::Duration;

/// How long one message may take to hand over.
const SEND_TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold the relay's password: only the sender is shown.
        f.debug_struct("Mailer").field("from", &self.from).finish()
    }
}

/// Why a message was not handed over, in general terms (details go to the log).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MailError {
    /// The address cannot be written into a message.
    BadAddress,
    /// The relay refused the message for good (a 5xx answer).
    Rejected,
    /// The relay could not be reached, or answered 4xx: worth trying again.
    Unavailable,
}

impl Mailer {
    /// A mailer for the relay at `url`, sending as `from`.
    pub fn new(url: &str, from: &str) -> anyhow::Result<Mailer> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|_| {
                anyhow::anyhow!(
                    "RUNBOARD_SMTP_URL is not an SMTP URL (smtp://host:port or smtps://host:port)"
                )
            })?
            .timeout(Some(SEND_TIMEOUT))
            .build();
        let from = from
            .parse()
            .map_err(|_| anyhow::anyhow!("RUNBOARD_SMTP_FROM is not an email address: {from}"))?;
        Ok(Mailer { transport, from })
    }

    /// Sends a plain-text message to one address.
    pub async fn send(&self, to: &str, subject: &str, body: String) -> Result<(), MailError> {
        let to: Mailbox = to.parse().map_err(|_| MailError::BadAddress)?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .body(body)
            .map_err(|_| MailError::BadAddress)?;
        self.transport.send(message).await.map_err(|error| {
            tracing::warn!(%error, "mail: the relay did not take the message");
            if error.is_permanent() {
                MailError::Rejected
            } else {
                MailError::Unavailable
            }
        })?;
        Ok(())
    }
}
