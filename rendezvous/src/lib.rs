//! Rendezvous for Ferrospeed ranks: a small TCP key-value store hosted by
//! `launch`, and the environment contract between `launch` and each rank.
//!
//! Every connection must prove it knows the run's secret (a challenge answered
//! with SHA-256, so the secret itself never crosses the network); a stranger is
//! refused before it can read or write anything. The ranks' ring links use the
//! same proof ([`auth`]). Ranks publish heartbeats in the store ([`heartbeat`])
//! and word peer-caused failures so that `launch` can tell them apart ([`faults`]).

pub mod auth;
mod client;
mod env;
pub mod faults;
pub mod heartbeat;
mod proto;
mod server;
pub mod signals;

pub use auth::Secret;
pub use client::StoreClient;
pub use env::{
    attempt_prefix, RankEnv, DEFAULT_COMM_TIMEOUT, ENV_ATTEMPT, ENV_COMM_TIMEOUT, ENV_CONFIG,
    ENV_LOG_FORMAT, ENV_RUN_ID,
};
pub use heartbeat::Heartbeat;
pub use server::StoreServer;

/// A fresh random run secret (32 hex characters).
pub fn new_secret() -> String {
    let mut b = [0u8; 16];
    getrandom::getrandom(&mut b).expect("the OS random source failed");
    hex::encode(b)
}
