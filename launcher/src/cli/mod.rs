//! The command line of `launch`, read by clap (see [`args`] for the
//! grammar and [`help`] for the texts that teach), turned into the
//! [`Command`] to run. A mistake is a [`Usage`] error: one line, exit 2.
//!
//! Only what the user typed is read here: the node flags stay as typed
//! ([`NodeArgs`]) and the caller completes them from the job's environment
//! ([`crate::cluster::node`]).

mod args;
mod help;

pub use args::NodeArgs;
use args::{not_a_command, Cli, RunArgs, Sub};
use clap::{CommandFactory, Parser};
use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;

/// A mistake in what the user typed or wrote: exit status 2.
#[derive(Debug)]
pub struct Usage(pub String);
impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for Usage {}

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
    Export(runconfig::contracts::export::ExportArgs),
    Train {
        nproc: usize,
        config: PathBuf,
        sets: Vec<String>,
        /// Pipeline stages to train again (`--rerun STAGE`).
        rerun: Vec<String>,
        node: NodeArgs,
    },
    Program {
        nproc: usize,
        program: String,
        args: Vec<String>,
        node: NodeArgs,
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

/// `launch N CONFIG.yaml [OPTIONS]` or `launch N [OPTIONS] -- PROGRAM [ARGS]...`.
fn run(run: RunArgs) -> Result<Command, Usage> {
    let Some(nproc) = run.nproc else {
        return Err(Usage(not_a_command("")));
    };
    let node = run.node;
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
