//! A group from the command line: the rendezvous for this node, the
//! program to run (the trainer next to `launch`, or PROGRAM found as a
//! shell would), and the exit code for how the group ended.

use super::Group;
use crate::cli::Usage;
use crate::cluster::{self, NodeOpts};
use crate::process::Outcome;
use crate::{logs, nodes, signals};
use anyhow::{bail, Context, Result};
use rendezvous::{StoreServer, ENV_RUN_ID};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

/// `launch N [OPTIONS] -- PROGRAM [ARGS]...`: runs PROGRAM as a group of
/// `nproc` ranks on this node.
pub fn program(
    nproc: usize,
    program: &str,
    args: Vec<String>,
    node: &NodeOpts,
    run_name: Option<String>,
    max_restarts: u32,
) -> Result<ExitCode> {
    let path = resolve_program(program).map_err(|e| Usage(format!("{e:#}")))?;
    let name = run_name.unwrap_or_else(|| {
        Path::new(program)
            .file_name()
            .map_or("run".into(), |n| n.to_string_lossy().into_owned())
    });
    let group = group(node, nproc, path, args, name, max_restarts, None)?;
    supervise_group(group, node)
}

/// `trainer` next to `launch` (or $FERROSPEED_TRAINER).
pub fn trainer_binary() -> Result<PathBuf> {
    let path = match std::env::var_os("FERROSPEED_TRAINER") {
        Some(p) => PathBuf::from(p),
        None => std::env::current_exe()?.with_file_name("trainer"),
    };
    if !path.is_file() {
        bail!(
            "the trainer binary is missing at {}; build it with scripts/bootstrap",
            path.display()
        );
    }
    Ok(path)
}

/// Sets up the rendezvous for this node and describes its group; `config`:
/// a config run's resolved YAML and its output_dir (which may hold the run
/// secret of a multi-node job).
pub fn group(
    node: &NodeOpts,
    nproc: usize,
    program: PathBuf,
    args: Vec<String>,
    run_name: String,
    max_restarts: u32,
    config: Option<(String, &Path)>,
) -> Result<Group> {
    let (config_yaml, shared_dir) = config.map_or((None, None), |(y, d)| (Some(y), Some(d)));
    let multi = node.nnodes > 1;
    let run_id = match node.run_id.clone().or_else(|| std::env::var(ENV_RUN_ID).ok()) {
        Some(id) => id,
        None if multi && shared_dir.is_some() && node.job_id.is_some() => {
            let (dir, job) = (shared_dir.unwrap_or(Path::new(".")), node.job_id.as_deref());
            cluster::secret::shared(dir, job.unwrap_or_default(), node.node_rank, Duration::from_secs(120))?
        }
        None if multi => {
            return Err(Usage("a multi-node run needs the same secret on every node: pass --run-id SECRET or set FERROSPEED_RUN_ID".into()).into())
        }
        None => rendezvous::new_secret(),
    };
    let master_addr = node
        .master_addr
        .clone()
        .unwrap_or_else(|| "127.0.0.1".into());
    let mut master_port = node.master_port.unwrap_or(if multi { 29500 } else { 0 });
    if let Some(d) = &node.detected {
        println!("launch: {d}; node 0 at {master_addr}:{master_port}");
    }
    if node.node_rank == 0 {
        let bind = if multi { "0.0.0.0" } else { "127.0.0.1" };
        let server = StoreServer::start(format!("{bind}:{master_port}").parse()?, &run_id)
            .with_context(|| format!("cannot start the rendezvous store on port {master_port} (in use? pick another with --master-port)"))?;
        // The store serves on its own thread until this process exits.
        master_port = server.addr().port();
    }
    let log_root =
        std::env::var_os("FERROSPEED_LOG_DIR").map_or_else(|| PathBuf::from("logs"), PathBuf::from);
    Ok(Group {
        program,
        args,
        nproc,
        nnodes: node.nnodes,
        node_rank: node.node_rank,
        master_addr,
        master_port,
        run_id,
        run_name,
        log_root,
        config_yaml,
        max_restarts,
        grace: Duration::from_secs(10),
        comm_timeout: rendezvous::DEFAULT_COMM_TIMEOUT,
        nodes: None,
        log_format: runconfig::LogFormat::Text,
    })
}

/// Runs the group and turns its outcome into an exit code and a message.
/// Multi-node: this node joins the others (after `group.comm_timeout` is
/// final, as the node timeout follows it).
pub fn supervise_group(mut group: Group, node: &NodeOpts) -> Result<ExitCode> {
    signals::install();
    if node.nnodes > 1 {
        let place = (node.node_rank, node.nnodes);
        let (addr, port) = (&group.master_addr, group.master_port);
        let nodes = nodes::Nodes::join(addr, port, &group.run_id, place, group.comm_timeout)?;
        group.nodes = Some(nodes);
    }
    let outcome = group.run()?;
    match outcome {
        Outcome::Success => {
            if let Some(nodes) = group.nodes.as_mut() {
                // Node 0 hosts the store: it stays until every node is done.
                nodes.finish()?;
            }
            println!("launch: all {} rank(s) finished", group.nproc);
            Ok(ExitCode::SUCCESS)
        }
        Outcome::Failed(why) => {
            logs::notice(&format!("launch: error: {why}"));
            Ok(ExitCode::FAILURE)
        }
        Outcome::Stopped(sig) => {
            logs::notice(&format!("launch: stopped by {}", signals::name(sig)));
            Ok(ExitCode::from((128 + sig) as u8))
        }
    }
}

/// Finds PROGRAM as a shell would: a path if it has a '/', else in PATH.
fn resolve_program(program: &str) -> Result<PathBuf> {
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
