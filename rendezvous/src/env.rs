//! The environment `launch` gives each rank (the names torchrun uses, plus
//! Ferrospeed's own), and how a rank reads it back.

use crate::StoreClient;
use std::path::PathBuf;
use std::time::Duration;

/// The run secret that admits a process to the store.
pub const ENV_RUN_ID: &str = "FERROSPEED_RUN_ID";
/// The restart attempt, from 0.
pub const ENV_ATTEMPT: &str = "FERROSPEED_ATTEMPT";
/// Seconds a collective may take before it fails (`comm_timeout_s`).
pub const ENV_COMM_TIMEOUT: &str = "FERROSPEED_COMM_TIMEOUT_S";
/// The collective timeout when none is given, as NCCL's watchdog.
pub const DEFAULT_COMM_TIMEOUT: Duration = Duration::from_secs(600);
/// Path of the resolved configuration (YAML) when a config drives the run.
pub const ENV_CONFIG: &str = "FERROSPEED_CONFIG";
/// `json` when the rank's log lines are JSON objects (`logging.format`).
pub const ENV_LOG_FORMAT: &str = "FERROSPEED_LOG_FORMAT";

/// Where one rank stands in the world.
#[derive(Debug, Clone, PartialEq)]
pub struct RankEnv {
    pub rank: usize,
    pub local_rank: usize,
    pub world_size: usize,
    pub local_world_size: usize,
    pub master_addr: String,
    pub master_port: u16,
    pub run_id: String,
    pub attempt: u32,
    /// How long a collective may take before it fails on every rank.
    pub comm_timeout: Duration,
}

impl RankEnv {
    /// The variables to set in a rank's environment.
    pub fn vars(&self) -> Vec<(&'static str, String)> {
        vec![
            ("RANK", self.rank.to_string()),
            ("LOCAL_RANK", self.local_rank.to_string()),
            ("WORLD_SIZE", self.world_size.to_string()),
            ("LOCAL_WORLD_SIZE", self.local_world_size.to_string()),
            ("MASTER_ADDR", self.master_addr.clone()),
            ("MASTER_PORT", self.master_port.to_string()),
            (ENV_RUN_ID, self.run_id.clone()),
            (ENV_ATTEMPT, self.attempt.to_string()),
            (
                ENV_COMM_TIMEOUT,
                self.comm_timeout.as_secs_f64().to_string(),
            ),
        ]
    }

    /// Reads the variables `launch` sets; the message says which is missing or wrong.
    pub fn from_env() -> Result<RankEnv, String> {
        fn var(name: &str) -> Result<String, String> {
            std::env::var(name).map_err(|_| {
                format!("environment variable {name} is not set: start this program with `launch N ...`")
            })
        }
        fn num<T: std::str::FromStr>(name: &str) -> Result<T, String> {
            let v = var(name)?;
            v.parse()
                .map_err(|_| format!("environment variable {name}={v:?} is not a number"))
        }
        let env = RankEnv {
            rank: num("RANK")?,
            local_rank: num("LOCAL_RANK")?,
            world_size: num("WORLD_SIZE")?,
            local_world_size: num("LOCAL_WORLD_SIZE")?,
            master_addr: var("MASTER_ADDR")?,
            master_port: num("MASTER_PORT")?,
            run_id: var(ENV_RUN_ID)?,
            attempt: std::env::var(ENV_ATTEMPT)
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(0),
            comm_timeout: match std::env::var(ENV_COMM_TIMEOUT) {
                Err(_) => DEFAULT_COMM_TIMEOUT,
                Ok(v) => v
                    .parse()
                    .ok()
                    .and_then(|s: f64| Duration::try_from_secs_f64(s).ok())
                    .filter(|d| !d.is_zero())
                    .ok_or_else(|| {
                        format!("environment variable {ENV_COMM_TIMEOUT}={v:?} is not a positive number of seconds")
                    })?,
            },
        };
        if env.rank >= env.world_size || env.local_rank >= env.local_world_size {
            return Err(format!(
                "RANK={} / LOCAL_RANK={} do not fit WORLD_SIZE={} / LOCAL_WORLD_SIZE={}",
                env.rank, env.local_rank, env.world_size, env.local_world_size
            ));
        }
        Ok(env)
    }

    /// Seconds a collective may take before it fails (`comm_timeout_s`).
    pub const ENV_COMM_TIMEOUT: &str = "FERROSPEED_COMM_TIMEOUT_S";
    /// The collective timeout when none is given, as NCCL's watchdog.
    pub const DEFAULT_COMM_TIMEOUT: Duration = Duration::from_secs(600);
    /// Path of the resolved configuration, if `launch` wrote one.
    pub fn config_path() -> Option<PathBuf> {
        std::env::var_os(ENV_CONFIG).map(PathBuf::from)
    }

    /// Connects to the run's store, in this attempt's namespace.
    pub fn store(&self, timeout: Duration) -> std::io::Result<StoreClient> {
        StoreClient::connect(
            &self.master_addr,
            self.master_port,
            &self.run_id,
            &attempt_prefix(self.attempt),
            timeout,
        )
    }
}

/// The store namespace of restart attempt `attempt`: keys of one attempt
/// never meet another's.
pub fn attempt_prefix(attempt: u32) -> String {
    format!("attempt-{attempt}/")
}
