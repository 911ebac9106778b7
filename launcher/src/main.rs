//! `launch`: validates a run configuration, then spawns and supervises N
//! ranked processes (the trainer, or any program), like `torchrun`.
//! It never links libtorch and never touches a GPU.

/// The libtorch version the trainer binds (tch 0.24 links exactly this
/// one); a macro so that `concat!` can put it in fixed texts.
macro_rules! libtorch_version {
    () => {
        "2.11.0"
    };
}

mod advice;
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
mod process;
mod resolve;
mod signals;
mod supervise;
mod train;
mod watch;

use anyhow::Result;
use cli::{Command, Usage};
use std::process::ExitCode;

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

/// Runs what the command line asks for.
fn run(args: impl IntoIterator<Item = std::ffi::OsString>) -> Result<ExitCode> {
    match cli::parse(args)? {
        Command::Printed => Ok(ExitCode::SUCCESS),
        Command::Push(options) => hub::push_command(&options).map(|()| ExitCode::SUCCESS),
        Command::Export(request) => export::run(&request),
        Command::Status { dir } => pipeline::status::run(&dir),
        Command::Plot { dir, out } => plot::run(&dir, out.as_deref()),
        Command::Check {
            config,
            nproc,
            sets,
            device_memory,
            json,
        } => check::command(&config, nproc, &sets, device_memory, json),
        Command::Train {
            nproc,
            config,
            sets,
            rerun,
            node,
        } => train::command(nproc, &config, &sets, &rerun, &cluster::node(&node)?),
        Command::Program {
            nproc,
            program,
            args,
            node,
            run_name,
            max_restarts,
        } => {
            let node = cluster::node(&node)?;
            supervise::start::program(nproc, &program, args, &node, run_name, max_restarts)
        }
    }
}
