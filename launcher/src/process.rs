//! How a spawned process is tied to `launch`, stopped, and told about when
//! it ends. A leaf: the supervision loop, the blame for a failure and the
//! pipeline's jobs all use it, and it uses none of them.

use crate::signals;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, ExitStatus};

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
