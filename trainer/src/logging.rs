//! The rank's `tracing` subscriber: events go to stderr, which `launch`
//! copies into `rank-<r>.log` (and echoes for rank 0).

use rendezvous::ENV_LOG_FORMAT;
use tracing_subscriber::EnvFilter;

/// Sends `tracing` events to stderr, filtered by `FERROSPEED_LOG` (else
/// `RUST_LOG`; default `info`). Text without timestamps (`launch` stamps
/// each line of the rank log), or one JSON object per event when `launch`
/// sets `FERROSPEED_LOG_FORMAT=json` (`logging.format: json`).
pub fn init() {
    let filter = EnvFilter::try_from_env("FERROSPEED_LOG")
        .or_else(|_| EnvFilter::try_from_env("RUST_LOG"))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let json = std::env::var(ENV_LOG_FORMAT).is_ok_and(|f| f == "json");
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false);
    let _ = if json {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.without_time().try_init()
    };
}
