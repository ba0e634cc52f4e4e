//! Signed tokens: runner tokens (one run, about a day) and owner API JWTs. The
//! algorithm is pinned to HS256, and issuer, audience and expiry are always checked.

use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use model::AppError;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const ISSUER: &str = "runboard";
pub const RUNNER_AUDIENCE: &str = "runboard:runner";
pub const API_AUDIENCE: &str = "runboard:api";
/// Runner tokens live about a day, as the runner callback API has always promised;
/// a long job asks for a fresh one.
pub const RUNNER_TOKEN_TTL_SECS: i64 = 24 * 3600;
pub const API_TOKEN_TTL_SECS: i64 = 3600;

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    iss: String,
    aud: String,
    iat: i64,
    exp: i64,
    /// The user's epoch when an API JWT was issued (see `users.auth_epoch`).
    #[serde(default)]
    ep: i64,
}

/// The secrets this server signs with.
#[derive(Clone)]
pub struct Keys {
    runner: Vec<u8>,
    api: Vec<u8>,
    /// The configured RUNNER_AUTH_SECRET, accepted verbatim as a legacy bearer.
    legacy_runner_secret: Option<String>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys { .. }")
    }
}

impl Keys {
    pub fn new(
        runner_secret: &str,
        api_secret: &str,
        legacy_runner_secret: Option<String>,
    ) -> Keys {
        Keys {
            runner: runner_secret.as_bytes().to_vec(),
            api: api_secret.as_bytes().to_vec(),
            legacy_runner_secret,
        }
    }

    pub fn runner_token(&self, run_id: Uuid) -> Result<String, AppError> {
        sign(
            &self.runner,
            &run_id.to_string(),
            RUNNER_AUDIENCE,
            RUNNER_TOKEN_TTL_SECS,
            0,
        )
    }

    /// The run a runner token was issued for.
    pub fn verify_runner_token(&self, token: &str) -> Result<Uuid, AppError> {
        verify(&self.runner, token, RUNNER_AUDIENCE)?
            .sub
            .parse()
            .map_err(|_| AppError::Unauthorized)
    }

    /// Whether `token` is the configured legacy RUNNER_AUTH_SECRET itself.
    pub fn is_legacy_runner_secret(&self, token: &str) -> bool {
        self.legacy_runner_secret
            .as_deref()
            .is_some_and(|secret| constant_time_eq(secret.as_bytes(), token.as_bytes()))
    }

    /// An owner API token for a user (by public id) under the user's current
    /// epoch, valid for an hour.
    pub fn api_token(&self, user_id: &str, epoch: i64) -> Result<String, AppError> {
        sign(&self.api, user_id, API_AUDIENCE, API_TOKEN_TTL_SECS, epoch)
    }

    /// The user id an owner API JWT names, and the epoch it was issued under.
    pub fn verify_api_token(&self, token: &str) -> Result<(String, i64), AppError> {
        verify(&self.api, token, API_AUDIENCE).map(|claims| (claims.sub, claims.ep))
    }
}

fn sign(
    secret: &[u8],
    subject: &str,
    audience: &str,
    ttl_secs: i64,
    epoch: i64,
) -> Result<String, AppError> {
    let now = chrono::Utc::now().timestamp();
    let claims = Claims {
        sub: subject.to_string(),
        iss: ISSUER.to_string(),
        aud: audience.to_string(),
        iat: now,
        exp: now + ttl_secs,
        ep: epoch,
    };
    encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret),
    )
    .map_err(|error| {
        tracing::error!(%error, "signing a token failed");
        AppError::Internal
    })
}

fn verify(secret: &[u8], token: &str, audience: &str) -> Result<Claims, AppError> {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_audience(&[audience]);
    validation.set_issuer(&[ISSUER]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    validation.leeway = 5;
    decode::<Claims>(token, &DecodingKey::from_secret(secret), &validation)
        .map(|data| data.claims)
        .map_err(|_| AppError::Unauthorized)
}

/// Compares two secrets in constant time (`subtle`). Both are hashed first, so
/// the time taken shows neither where they differ nor the secret's length.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use sha2::{Digest, Sha256};
    use subtle::ConstantTimeEq;
    Sha256::digest(a)
        .as_slice()
        .ct_eq(Sha256::digest(b).as_slice())
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> Keys {
        Keys::new("runner-secret", "api-secret", Some("legacy".to_string()))
    }

    #[test]
    fn a_runner_token_names_its_run() {
        let run = Uuid::now_v7();
        let token = keys().runner_token(run).unwrap();
        assert_eq!(keys().verify_runner_token(&token), Ok(run));
    }

    #[test]
    fn tokens_are_not_interchangeable_between_audiences_or_keys() {
        let keys = keys();
        let runner = keys.runner_token(Uuid::now_v7()).unwrap();
        assert!(keys.verify_api_token(&runner).is_err());
        let other = Keys::new("other", "api-secret", None);
        assert!(other.verify_runner_token(&runner).is_err());
    }

    #[test]
    fn expired_and_unsigned_tokens_are_refused() {
        let expired = sign(
            b"runner-secret",
            &Uuid::now_v7().to_string(),
            RUNNER_AUDIENCE,
            -3600,
            0,
        )
        .unwrap();
        assert!(keys().verify_runner_token(&expired).is_err());
        // {"alg":"none"} with the right claims and no signature.
        let header = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0";
        let claims = "eyJzdWIiOiIwMTkwMDAwMC0wMDAwLTcwMDAtODAwMC0wMDAwMDAwMDAwMDAiLCJpc3MiOiJydW5ib2FyZCIsImF1ZCI6InJ1bmJvYXJkOnJ1bm5lciIsImlhdCI6MCwiZXhwIjo0MTAyNDQ0ODAwfQ";
        assert!(keys()
            .verify_runner_token(&format!("{header}.{claims}."))
            .is_err());
    }

    #[test]
    fn an_api_token_carries_the_epoch_it_was_issued_under() {
        let token = keys().api_token("user-1", 7).unwrap();
        assert_eq!(
            keys().verify_api_token(&token),
            Ok(("user-1".to_string(), 7))
        );
    }

    #[test]
    fn the_legacy_secret_is_matched_exactly() {
        assert!(keys().is_legacy_runner_secret("legacy"));
        assert!(!keys().is_legacy_runner_secret("legacy2"));
        assert!(!Keys::new("a", "b", None).is_legacy_runner_secret(""));
    }
}
