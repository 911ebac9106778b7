//! `launch`: validates a run configuration, then spawns and supervises N
//! ranked processes (the trainer, or any program), like `torchrun`.
//! It never links libtorch and never touches a GPU.

mod attempt;
mod blame;
mod check;
mod cli;
mod cluster;
mod export;
mod finished;
mod hub;
mod lock;
mod logline;
mod logs;
mod nodes;
mod pipeline;
mod plot;
mod resolve;
mod signals;
mod supervise;
mod train;
mod watch;

use anyhow::{bail, Context, Result};
use cli::{Command, NodeOpts};
use rendezvous::{StoreServer, ENV_RUN_ID};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;
use supervise::{Group, Outcome};

/// A mistake in what the user typed or wrote: exit status 2.
#[derive(Debug)]
struct Usage(String);
impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for Usage {}

fn main() -> ExitCode {
    quiet_on_closed_stdout();
    logline::init_tracing();
    match run(std::env::args_os().skip(1)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("launch: error: {e:#}");
            if e.downcast_ref::<Usage>().is_some()
                || e.downcast_ref::<runconfig::ConfigError>().is_some()
                || e.downcast_ref::<lock::Refused>().is_some()
            {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// `launch check ... | head -1`: once the reader of stdout is gone, end as
/// other Unix tools do, by SIGPIPE, without a panic message. SIGPIPE stays
/// ignored otherwise, so that a peer that closes a socket (a rank, the
/// Hub) is an error to handle, not the end of the supervisor.
fn quiet_on_closed_stdout() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let text = info
            .payload()
            .downcast_ref::<String>()
            .map_or("", String::as_str);
        if text.starts_with("failed printing to stdout") && text.contains("Broken pipe") {
            // SAFETY: restoring the default action and raising it ends the process.
            unsafe {
                libc::signal(libc::SIGPIPE, libc::SIG_DFL);
                libc::raise(libc::SIGPIPE);
            }
        }
        default(info);
    }));
}

fn run(args: impl IntoIterator<Item = std::ffi::OsString>) -> Result<ExitCode> {
    match cli::parse(args)? {
        Command::Printed => Ok(ExitCode::SUCCESS),
        Command::Push(options) => hub::push_command(&options).map(|()| ExitCode::SUCCESS),
        Command::Export(request) => export::run(&request),
        Command::Status { dir } => pipeline::status::run(&dir),
        Command::Plot { dir, out } => plot::run(&dir, out.as_deref()),
        Command::Train {
            nproc,
            config,
            sets,
            rerun,
            ..
        } if runconfig::pipeline::is_pipeline(&config) => {
            pipeline::run(nproc, &config, &sets, &rerun)
        }
        Command::Check {
            config,
            nproc,
            sets,
            device_memory,
            json,
        } => match runconfig::pipeline::is_pipeline(&config) {
            true if json => Err(Usage(format!("{}: --json plans one run config; for a pipeline, check a stage's config with --json", config.display())).into()),
            true => pipeline::check::run(&config, nproc, &sets, device_memory),
            false => check::run(&config, nproc, &sets, device_memory, json),
        },
        Command::Train {
            nproc,
            config,
            sets,
            rerun,
            node,
        } => {
            if let Some(stage) = rerun.first() {
                return Err(Usage(format!("--rerun {stage}: {} is a run config, not a pipeline; to train it again from the start use --set checkpoint.resume=never", config.display())).into());
            }
            train::train(nproc, &config, &sets, &node)
        }
        Command::Program {
            nproc,
            program,
            args,
            node,
            run_name,
            max_restarts,
        } => {
            let path = supervise::resolve_program(&program).map_err(|e| Usage(format!("{e:#}")))?;
            let name = run_name.unwrap_or_else(|| {
                Path::new(&program)
                    .file_name()
                    .map_or("run".into(), |n| n.to_string_lossy().into_owned())
            });
            let group = group(&node, nproc, path, args, name, max_restarts, None)?;
            supervise_group(group, &node)
        }
    }
}

/// `trainer` next to `launch` (or $FERROSPEED_TRAINER).
fn trainer_binary() -> Result<PathBuf> {
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
fn group(
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
fn supervise_group(mut group: Group, node: &NodeOpts) -> Result<ExitCode> {
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
