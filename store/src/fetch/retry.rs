//! When to try a URL again, and how long to wait first.
//!
//! Connection errors, broken-off bodies, `408`, `429` and `5xx` answers are
//! worth another try on the same URL; a `404`, any other status, or a hash
//! mismatch is not (the fetcher moves on to the next mirror instead). The
//! wait doubles from [`RetryPolicy::initial_delay`] up to
//! [`RetryPolicy::max_delay`]; a server's `Retry-After` is honoured up to
//! [`RetryPolicy::retry_after_cap`].

use std::time::{Duration, SystemTime};

/// How often and how patiently one URL is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per URL, the first included (at least 1).
    pub tries: u32,
    /// The wait before the second attempt.
    pub initial_delay: Duration,
    /// The longest wait computed by doubling.
    pub max_delay: Duration,
    /// The longest wait a `Retry-After` header can ask for.
    pub retry_after_cap: Duration,
}

impl Default for RetryPolicy {
    /// Four tries, waiting 0.5 s, 1 s and 2 s (4 s at most), or what the
    /// server asks for up to 30 s.
    fn default() -> Self {
        RetryPolicy {
            tries: 4,
            initial_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(4),
            retry_after_cap: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// Returns the wait after failed attempt number `attempt` (0 for the
    /// first), given what the server's `Retry-After` asked for, if anything.
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let doubled = self
            .initial_delay
            .saturating_mul(1u32.checked_shl(attempt).unwrap_or(u32::MAX))
            .min(self.max_delay);
        match retry_after {
            Some(asked) => asked.min(self.retry_after_cap).max(doubled),
            None => doubled,
        }
    }
}

/// Whether an HTTP status is worth retrying on the same URL.
pub fn is_transient_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 500..=599)
}

/// Parses a `Retry-After` value: a number of seconds, or an HTTP date
/// (counted from `now`; a date in the past means no wait).
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let policy = RetryPolicy::default();
        let waits: Vec<_> = (0..6).map(|n| policy.delay(n, None).as_millis()).collect();
        assert_eq!(waits, [500, 1000, 2000, 4000, 4000, 4000]);
        assert_eq!(policy.delay(100, None), policy.max_delay);
    }

    #[test]
    fn retry_after_is_honoured_within_the_cap() {
        let policy = RetryPolicy::default();
        assert_eq!(
            policy.delay(0, Some(Duration::from_secs(7))),
            Duration::from_secs(7)
        );
        assert_eq!(
            policy.delay(0, Some(Duration::from_secs(3600))),
            Duration::from_secs(30)
        );
        assert_eq!(
            policy.delay(2, Some(Duration::ZERO)),
            Duration::from_secs(2)
        );
    }

    #[test]
    fn retry_after_parses_seconds_and_dates() {
        let now = httpdate::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT")
            .unwrap_or(SystemTime::UNIX_EPOCH);
        assert_eq!(
            parse_retry_after(" 120 ", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:50:37 GMT", now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn transient_statuses() {
        assert!(is_transient_status(500) && is_transient_status(503) && is_transient_status(429));
        assert!(
            !is_transient_status(404) && !is_transient_status(403) && !is_transient_status(200)
        );
    }
}
