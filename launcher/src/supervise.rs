//! Spawning and supervising one node's group of ranks: per-rank logs, fail
//! fast (SIGTERM the others, SIGKILL after a grace period), forwarded stop
//! signals, heartbeats, and whole-group restarts.

use crate::attempt::{Attempt, Rank};
use crate::logline::LineStyle;
use crate::logs::{self, RankLog};
use crate::nodes::Nodes;
use crate::signals;
use crate::watch::Watch;
use anyhow::{Context, Result};
use rendezvous::{RankEnv, StoreClient, ENV_CONFIG, ENV_LOG_FORMAT};
use runconfig::LogFormat;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
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

/// How the group ended.
pub enum Outcome {
    Success,
    Failed(String),
    Stopped(i32),
}

/// Words for an exit status: "exited with status 3", "was killed by signal 9 (SIGKILL)".
pub fn describe(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(c), _) => format!("exited with status {c}"),
        (None, Some(s)) => format!("was killed by signal {s} ({})", signals::name(s)),
        _ => "ended for an unknown reason".into(),
    }
}

/// Sends `sig` to a rank's process group.
pub fn kill_group(child: &Child, sig: i32) {
    // Each rank leads its own process group: this reaches its children too.
    // SAFETY: plain syscall on a pid we spawned.
    unsafe {
        libc::kill(-(child.id() as i32), sig);
    }
}

/// Makes the process `cmd` starts die with `launch`, even when `launch`
/// is killed with SIGKILL (a rank, or the worker of `launch export`).
pub fn die_with_launch(cmd: &mut Command) {
    let parent = std::process::id() as i32;
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            // `launch` ended before the line above: end now.
            if libc::getppid() != parent {
                libc::_exit(1);
            }
            Ok(())
        });
    }
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

/// Finds PROGRAM as a shell would: a path if it has a '/', else in PATH.
pub fn resolve_program(program: &str) -> Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let runnable = |p: &Path| {
        p.metadata()
            .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false)
    };
    if program.contains('/') {
        let p = PathBuf::from(program);
        if !p.exists() {
            anyhow::bail!("program {program} does not exist");
        }
        if !runnable(&p) {
            anyhow::bail!("program {program} is not an executable file (chmod +x?)");
        }
        return Ok(p);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| runnable(p))
        .with_context(|| format!("program `{program}` not found in PATH"))
}
