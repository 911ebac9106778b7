//! The command line of `launch`, read by clap (see [`args`] for the
//! grammar and [`help`] for the texts that teach), turned into the
//! [`Command`] to run. A mistake is a [`Usage`] error: one line, exit 2.

mod args;
mod help;

use crate::Usage;
use args::{Cli, RunArgs, Sub};
use clap::{CommandFactory, Parser};
use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;

/// Where and how this node joins the run.
#[derive(Debug, Clone, Default)]
pub struct NodeOpts {
    pub nnodes: usize,
    pub node_rank: usize,
    pub master_addr: Option<String>,
    pub master_port: Option<u16>,
    pub run_id: Option<String>,
    /// The scheduler's job id, when detected (Slurm).
    pub job_id: Option<String>,
    /// What was read from the job's environment, for the start banner.
    pub detected: Option<String>,
}

/// What the user asked for.
#[derive(Debug)]
pub enum Command {
    /// Help, the version or a completion script: already printed.
    Printed,
    Check {
        config: PathBuf,
        nproc: Option<u32>,
        sets: Vec<String>,
        /// `--device-memory`: bytes per device to plan against.
        device_memory: Option<u64>,
        /// `--json`: print the memory plans as JSON.
        json: bool,
    },
    Push(crate::hub::PushOptions),
    /// `launch status OUTPUT_DIR`: a pipeline's ledger.
    Status {
        dir: PathBuf,
    },
    /// `launch plot OUTPUT_DIR [--out DIR]`: charts of a run or a pipeline.
    Plot {
        dir: PathBuf,
        out: Option<PathBuf>,
    },
    Export(runconfig::export::ExportArgs),
    Train {
        nproc: usize,
        config: PathBuf,
        sets: Vec<String>,
        /// Pipeline stages to train again (`--rerun STAGE`).
        rerun: Vec<String>,
        node: NodeOpts,
    },
    Program {
        nproc: usize,
        program: String,
        args: Vec<String>,
        node: NodeOpts,
        run_name: Option<String>,
        max_restarts: u32,
    },
}

/// Parses `launch`'s arguments (without the program name); help, the
/// version and completion scripts are printed here.
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Command, Usage> {
    let mut args = args.into_iter().peekable();
    if args.peek().is_none() {
        let help = Cli::command().render_long_help();
        print_out(help.ansi().to_string().as_bytes());
        return Ok(Command::Printed);
    }
    let cli = match Cli::try_parse_from(std::iter::once("launch".into()).chain(args)) {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            let _ = e.print();
            return Ok(Command::Printed);
        }
        Err(e) => return Err(Usage(runconfig::usage::one_line(&e))),
    };
    match cli.command {
        Some(sub) => Ok(command(sub)),
        None => run(cli.run),
    }
}

/// Writes to stdout; a reader that went away ends nothing here.
fn print_out(bytes: &[u8]) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(bytes).and_then(|()| out.flush());
}

/// A command other than `launch N ...`.
fn command(sub: Sub) -> Command {
    match sub {
        Sub::Check(a) => Command::Check {
            config: a.config,
            nproc: a.nproc,
            sets: a.sets,
            device_memory: a.device_memory,
            json: a.json,
        },
        Sub::Export(a) => Command::Export(a),
        Sub::Push(a) => Command::Push(a.into()),
        Sub::Status(a) => Command::Status { dir: a.dir },
        Sub::Plot(a) => Command::Plot {
            dir: a.dir,
            out: a.out,
        },
        Sub::Completions(a) => {
            let mut script = Vec::new();
            clap_complete::generate(a.shell, &mut Cli::command(), "launch", &mut script);
            print_out(&script);
            Command::Printed
        }
    }
}

/// The first argument as the number of processes: a whole number of at
/// least 1 (else a command, perhaps mistyped).
fn nproc(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("the number of processes must be at least 1 (got 0)".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(not_a_command(text)),
    }
}

/// A `--run-name` that names a log folder: a plain name, no path.
fn plain_name(text: &str) -> Result<String, String> {
    runconfig::plain_name(text).map(|()| text.to_string())
}

/// A flag's value as a whole number (in the range of `T`).
fn whole<T: std::str::FromStr>(text: &str) -> Result<T, String> {
    text.parse()
        .map_err(|_| format!("must be a whole number, got {text:?}"))
}

/// The names of the commands, `help` included.
fn commands() -> Vec<String> {
    let mut cli = Cli::command();
    cli.build();
    let names = cli.get_subcommands().map(|c| c.get_name().to_string());
    names.collect()
}

/// The message for a first argument that is neither a number nor a command.
fn not_a_command(text: &str) -> String {
    let commands = commands();
    if commands.iter().any(|c| c == text) {
        return format!("`{text}` is a command: it comes first (`launch {text} --help`)");
    }
    let all = commands.join(", ");
    if text.is_empty() {
        return format!(
            "expected the number of processes or a command ({all}) first (see `launch --help`)"
        );
    }
    let near = commands
        .iter()
        .find(|c| strsim::jaro_winkler(c, text) > 0.8)
        .map(|c| format!("; did you mean `{c}`?"))
        .unwrap_or_default();
    format!(
        "expected the number of processes or a command ({all}), got {text:?}{near} (see `launch --help`)"
    )
}

/// `launch N CONFIG.yaml [OPTIONS]` or `launch N [OPTIONS] -- PROGRAM [ARGS]...`.
fn run(run: RunArgs) -> Result<Command, Usage> {
    let Some(nproc) = run.nproc else {
        return Err(Usage(not_a_command("")));
    };
    let node = node(&run.node)?;
    let mut program = run.program.into_iter();
    match (run.config, program.next()) {
        (Some(_), Some(_)) => Err(Usage(
            "give either a CONFIG.yaml or `-- PROGRAM`, not both".into(),
        )),
        (None, None) => Err(Usage(
            "missing CONFIG.yaml (or `-- PROGRAM`); see `launch --help`".into(),
        )),
        (Some(config), None) => Ok(Command::Train {
            nproc,
            config,
            sets: run.sets,
            rerun: run.rerun,
            node,
        }),
        (None, Some(_)) if !run.rerun.is_empty() => Err(Usage(
            "--rerun names a stage of a pipeline, not of `-- PROGRAM`".into(),
        )),
        (None, Some(name)) => Ok(Command::Program {
            nproc,
            program: name,
            args: program.collect(),
            node,
            run_name: run.run_name,
            max_restarts: run.max_restarts,
        }),
    }
}

/// The node flags, completed from the job's environment (Slurm, MPI) and
/// checked.
fn node(flags: &args::NodeArgs) -> Result<NodeOpts, Usage> {
    let mut node = NodeOpts {
        nnodes: flags.nnodes.unwrap_or(1),
        node_rank: flags.node_rank.unwrap_or(0),
        master_addr: flags.master_addr.clone(),
        master_port: flags.master_port,
        run_id: flags.run_id.clone(),
        ..NodeOpts::default()
    };
    let given = crate::cluster::Given {
        nnodes: flags.nnodes.is_some(),
        node_rank: flags.node_rank.is_some(),
    };
    crate::cluster::fill(&mut node, given, &|k| std::env::var(k).ok()).map_err(Usage)?;
    if node.nnodes == 0 || node.node_rank >= node.nnodes {
        return Err(Usage(format!(
            "--node-rank {} must be below --nnodes {}",
            node.node_rank, node.nnodes
        )));
    }
    Ok(node)
}
