//! Password guessing is slowed to a crawl: at most a few failed logins per
//! minute per client address and per email, shared by every way to log in (the
//! dashboard's form and `POST /api/auth/token`). Past the limit every attempt is
//! refused with 429 and `Retry-After`, the right password included, until the
//! oldest failure of the minute ages out. Kept in memory: a restart forgets it.

use model::AppError;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The window failures are counted over.
const WINDOW: Duration = Duration::from_secs(60);
/// Keys kept before expired ones are swept.
const SWEEP_ABOVE: usize = 10_000;

#[derive(Debug)]
pub struct LoginLimiter {
    max_failures: usize,
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl LoginLimiter {
    /// At most `max_failures` failed logins per minute per address and per email.
    pub fn new(max_failures: usize) -> LoginLimiter {
        LoginLimiter {
            max_failures: max_failures.max(1),
            failures: Mutex::default(),
        }
    }

    fn keys(ip: Option<&str>, email: &str) -> Vec<String> {
        let mut keys = vec![format!(
            "email:{}",
            crate::db::users::normalize_email(email)
        )];
        if let Some(ip) = ip {
            keys.push(format!("ip:{ip}"));
        }
        keys
    }

    /// `TooManyRequests` (with the seconds until the next attempt may pass) when
    /// the address or the email used up its failures of the last minute.
    pub fn check(&self, ip: Option<&str>, email: &str) -> Result<(), AppError> {
        self.check_at(ip, email, Instant::now())
    }

    fn check_at(&self, ip: Option<&str>, email: &str, now: Instant) -> Result<(), AppError> {
        let mut failures = self.lock();
        let mut wait = Duration::ZERO;
        for key in Self::keys(ip, email) {
            if let Some(times) = failures.get_mut(&key) {
                times.retain(|at| now.duration_since(*at) < WINDOW);
                if times.len() >= self.max_failures {
                    let oldest = times.front().copied().unwrap_or(now);
                    wait = wait.max(WINDOW.saturating_sub(now.duration_since(oldest)));
                }
            }
        }
        if wait.is_zero() {
            Ok(())
        } else {
            Err(AppError::TooManyRequests {
                retry_after_secs: wait.as_secs().max(1),
            })
        }
    }

    /// Counts a failed login against the address and the email.
    pub fn failed(&self, ip: Option<&str>, email: &str) {
        self.failed_at(ip, email, Instant::now());
    }

    fn failed_at(&self, ip: Option<&str>, email: &str, now: Instant) {
        let mut failures = self.lock();
        if failures.len() > SWEEP_ABOVE {
            failures.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|at| now.duration_since(*at) < WINDOW)
            });
        }
        for key in Self::keys(ip, email) {
            let times = failures.entry(key).or_default();
            times.push_back(now);
            while times.len() > self.max_failures {
                times.pop_front();
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, VecDeque<Instant>>> {
        self.failures
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_applies_per_address_and_per_email_for_a_minute() {
        let limiter = LoginLimiter::new(3);
        let start = Instant::now();
        for _ in 0..3 {
            assert!(limiter
                .check_at(Some("10.0.0.1"), "a@example.com", start)
                .is_ok());
            limiter.failed_at(Some("10.0.0.1"), "a@example.com", start);
        }
        // The email is used up from any address, the address for any email.
        assert_eq!(
            limiter.check_at(Some("10.0.0.2"), "A@example.com", start),
            Err(AppError::TooManyRequests {
                retry_after_secs: 60
            })
        );
        assert!(limiter
            .check_at(Some("10.0.0.1"), "b@example.com", start)
            .is_err());
        assert!(limiter
            .check_at(Some("10.0.0.2"), "b@example.com", start)
            .is_ok());
        // Half a minute on, the wait is the rest of the minute; after it, all pass.
        let later = start + Duration::from_secs(30);
        assert_eq!(
            limiter.check_at(None, "a@example.com", later),
            Err(AppError::TooManyRequests {
                retry_after_secs: 30
            })
        );
        let after = start + WINDOW;
        assert!(limiter
            .check_at(Some("10.0.0.1"), "a@example.com", after)
            .is_ok());
    }
}
