//! When to retry a Hub request, and how long to wait first.

use std::time::Duration;

/// How often and how long to retry.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// First wait; doubled each retry.
    pub base: Duration,
    /// Longest wait between attempts (and cap on `Retry-After`).
    pub max_wait: Duration,
}

impl RetryPolicy {
    /// Defaults, overridable by `FERROSPEED_HUB_RETRIES` and `FERROSPEED_HUB_BACKOFF_MS`.
    pub fn from_env() -> RetryPolicy {
        let var = |n: &str| std::env::var(n).ok().and_then(|v| v.parse::<u64>().ok());
        RetryPolicy {
            max_retries: var("FERROSPEED_HUB_RETRIES").unwrap_or(8) as u32,
            base: Duration::from_millis(var("FERROSPEED_HUB_BACKOFF_MS").unwrap_or(1000)),
            max_wait: Duration::from_secs(60),
        }
    }

    /// The wait before retry `attempt` (0-based): `base` doubled each time, at
    /// most `max_wait`.
    pub(crate) fn backoff(&self, attempt: u32) -> Duration {
        self.base
            .saturating_mul(1 << attempt.min(16))
            .min(self.max_wait)
    }
}

/// Statuses worth another attempt: timeouts, rate limits, server errors.
pub(crate) fn retryable(status: u16) -> bool {
    status == 408 || status == 429 || (500..600).contains(&status)
}

/// Errors worth another attempt: the network, not our request.
pub(crate) fn transient(e: &ureq::Error) -> bool {
    !matches!(
        e,
        ureq::Error::BadUri(_)
            | ureq::Error::Http(_)
            | ureq::Error::InvalidProxyUrl
            | ureq::Error::BodyExceedsLimit(_)
    )
}
