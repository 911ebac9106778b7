//! Spawning and supervising one node's group of ranks: per-rank logs, fail
//! fast (SIGTERM the others, SIGKILL after a grace period), forwarded stop
//! signals, heartbeats, and whole-group restarts. Read top-down: [`start`]
//! sets a group up from the command line and turns how it ended into an
//! exit code; [`Group::run`] runs its attempts; [`attempt`] supervises one
//! and [`blame`] names the rank whose failure ended it.

mod attempt;
mod blame;
pub mod start;

use crate::logline::LineStyle;
use crate::logs::{self, RankLog};
use crate::nodes::Nodes;
use crate::process::{die_with_launch, kill_group, Outcome};
use crate::watch::Watch;
use anyhow::{Context, Result};
use attempt::{Attempt, Rank};
use rendezvous::{RankEnv, StoreClient, ENV_CONFIG, ENV_LOG_FORMAT};
use runconfig::LogFormat;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// Everything needed to start this node's ranks.
pub struct Group {
    pub program: PathBuf,
    pub args: Vec<String>,
    pub nproc: usize,
    pub nnodes: usize,
    pub node_rank: usize,
    pub master_addr: String,
    pub master_port: u16,
    pub run_id: String,
    pub run_name: String,
    pub log_root: PathBuf,
    /// The resolved configuration to hand each rank, if any.
    pub config_yaml: Option<String>,
    pub max_restarts: u32,
    pub grace: Duration,
    /// How long a collective may take, and a rank's heartbeat stay silent.
    pub comm_timeout: Duration,
    /// The other nodes of a multi-node job.
    pub nodes: Option<Nodes>,
    /// How lines are written to the rank log files.
    pub log_format: LogFormat,
}

impl Group {
    /// Runs the group, restarting it up to `max_restarts` times after a failure.
    pub fn run(&mut self) -> Result<Outcome> {
        let stamp = logs::timestamp();
        for attempt in 0..=self.max_restarts {
            let suffix = if attempt == 0 {
                String::new()
            } else {
                format!("-restart{attempt}")
            };
            if let (Some(nodes), true) = (self.nodes.as_mut(), attempt > 0) {
                // Long enough for a node to stop its ranks and hear why.
                let within = self.grace + nodes.timeout() * 2 + Duration::from_secs(30);
                if let Err(e) = nodes.rejoin(attempt, within) {
                    return Ok(Outcome::Failed(format!("{e:#}")));
                }
            }
            let dir = logs::new_run_dir(&self.log_root, &self.run_name, &stamp, &suffix)
                .with_context(|| {
                    format!(
                        "cannot create the log folder under {}",
                        self.log_root.display()
                    )
                })?;
            println!(
                "launch: {} rank(s) on this node, logs in {}",
                self.nproc,
                dir.display()
            );
            let outcome = self.attempt(attempt, &dir)?;
            match outcome {
                Outcome::Failed(why) if attempt < self.max_restarts => {
                    logs::notice(&format!(
                        "launch: {why}\nlaunch: restarting the group (restart {} of {})",
                        attempt + 1,
                        self.max_restarts
                    ));
                }
                other => return Ok(other),
            }
        }
        unreachable!()
    }

    fn spawn(&self, local_rank: usize, attempt: u32, dir: &Path) -> Result<Rank> {
        let env = RankEnv {
            rank: self.node_rank * self.nproc + local_rank,
            local_rank,
            world_size: self.nnodes * self.nproc,
            local_world_size: self.nproc,
            master_addr: self.master_addr.clone(),
            master_port: self.master_port,
            run_id: self.run_id.clone(),
            attempt,
            comm_timeout: self.comm_timeout,
        };
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.args)
            .envs(env.vars())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if self.log_format == LogFormat::Json {
            cmd.env(ENV_LOG_FORMAT, "json");
        }
        if self.config_yaml.is_some() {
            cmd.env(ENV_CONFIG, std::path::absolute(dir.join("config.yaml"))?);
        }
        // Rank 0 draws a progress bar when this console is a terminal.
        // SAFETY: isatty only inspects a file descriptor.
        if env.rank == 0 && unsafe { libc::isatty(1) } == 1 {
            cmd.env("FERROSPEED_PROGRESS", "1");
        }
        cmd.process_group(0);
        die_with_launch(&mut cmd);
        let mut child = cmd
            .spawn()
            .with_context(|| format!("cannot start {}", self.program.display()))?;
        let streams: Vec<Box<dyn std::io::Read + Send>> = vec![
            Box::new(child.stdout.take().unwrap()),
            Box::new(child.stderr.take().unwrap()),
        ];
        let echo = (env.rank == 0).then(|| "[rank0] ".to_string());
        let style = LineStyle {
            rank: env.rank,
            format: self.log_format,
        };
        let path = dir.join(format!("rank-{}.log", env.rank));
        let log = RankLog::start(path, streams, echo, style)?;
        Ok(Rank {
            child,
            log,
            status: None,
        })
    }

    fn attempt(&mut self, attempt: u32, dir: &Path) -> Result<Outcome> {
        if let Some(yaml) = &self.config_yaml {
            std::fs::write(dir.join("config.yaml"), yaml)?;
        }
        let mut ranks = Vec::new();
        for local in 0..self.nproc {
            match self.spawn(local, attempt, dir) {
                Ok(r) => ranks.push(r),
                Err(e) => {
                    ranks
                        .iter()
                        .for_each(|r: &Rank| kill_group(&r.child, libc::SIGKILL));
                    ranks.iter_mut().for_each(|r| drop(r.child.wait()));
                    return Err(e);
                }
            }
        }
        let base = self.node_rank * self.nproc;
        let watch = StoreClient::connect(
            &self.master_addr,
            self.master_port,
            &self.run_id,
            &rendezvous::attempt_prefix(attempt),
            Duration::from_secs(10),
        )
        .ok()
        .map(|store| Watch::new(store, base, self.nproc, self.comm_timeout));
        Attempt::new(ranks, base, self.grace, self.nodes.as_mut(), watch).run()
    }
}
