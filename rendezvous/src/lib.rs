//! Rendezvous for Ferrospeed ranks: a small TCP key-value store hosted by
//! `launch`, and the environment contract between `launch` and each rank.
//!
//! Every connection must prove it knows the run's secret (a challenge answered
//! with SHA-256, so the secret itself never crosses the network); a stranger is
//! refused before it can read or write anything.

mod client;
mod env;
mod proto;
mod server;
pub mod signals;

pub use client::StoreClient;
pub use env::{RankEnv, ENV_ATTEMPT, ENV_CONFIG, ENV_RUN_ID};
pub use server::StoreServer;

/// A fresh random run secret (32 hex characters).
pub fn new_secret() -> String {
    let mut b = [0u8; 16];
    getrandom::getrandom(&mut b).expect("the OS random source failed");
    hex::encode(b)
}
