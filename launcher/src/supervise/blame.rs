//! Which rank caused a failed attempt. When one rank fails, the others
//! follow: they lose their connections to it, or wait for it in vain, and
//! exit too, often within the same moment. The root cause is the first rank
//! whose error is not a consequence of a peer's ([`rendezvous::faults`]);
//! else the rank the launcher found silent, or the one the others waited
//! for. The others are summarised in one line.

use crate::process::describe;
use rendezvous::faults::{self, PeerFault};
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::Duration;

/// A rank that ended without success.
pub struct Exit {
    /// Global rank.
    pub rank: usize,
    /// How it ended.
    pub status: ExitStatus,
    /// Whether `launch` had begun to stop the group when it ended.
    pub after_stop: bool,
    /// The last error line of its log (else, for an exit with a status, its last line).
    pub last_error: Option<String>,
    /// The last lines of its log.
    pub tail: Vec<String>,
    /// Where its log is.
    pub log: PathBuf,
}

impl Exit {
    fn peer_fault(&self) -> Option<PeerFault> {
        self.last_error.as_deref().and_then(faults::parse)
    }

    /// Ended by the stop `launch` itself sent (SIGTERM, SIGKILL).
    fn stopped_by_launch(&self) -> bool {
        let signal =
            self.status
                .signal()
                .or(self.status.code().filter(|c| *c > 128).map(|c| c - 128));
        self.after_stop && matches!(signal, Some(libc::SIGTERM | libc::SIGKILL))
    }

    fn is_root_cause(&self) -> bool {
        self.peer_fault().is_none() && !self.stopped_by_launch()
    }

    fn what(&self) -> String {
        match &self.last_error {
            Some(line) => {
                let hint = loader_hint(line).map_or(String::new(), |h| format!("\n  {h}"));
                format!("rank {} {}: {line}{hint}", self.rank, describe(self.status))
            }
            None => format!("rank {} {}", self.rank, describe(self.status)),
        }
    }

    fn lines(&self) -> String {
        let tail: Vec<String> = self.tail.iter().map(|l| format!("  | {l}")).collect();
        format!("last lines of {}:\n{}", self.log.display(), tail.join("\n"))
    }

    fn summary(&self) -> String {
        let how = match self.peer_fault() {
            _ if self.stopped_by_launch() => return format!("rank {} was stopped", self.rank),
            Some(PeerFault::Lost(p)) => format!("lost rank {p}"),
            Some(PeerFault::Absent(p)) => format!("waited for rank {p}"),
            Some(PeerFault::Unknown) => "a peer failed".into(),
            None => self.last_error.clone().unwrap_or_default(),
        };
        format!("rank {} {} ({how})", self.rank, describe(self.status))
    }
}

/// What to do when the loader could not start a rank against libtorch (a
/// missing, moved or other-version torch): the loader's own line names only
/// the library.
fn loader_hint(line: &str) -> Option<&'static str> {
    let loader = line.contains("error while loading shared libraries")
        || line.contains("symbol lookup error");
    let torch = ["libtorch", "libc10", "libcudart", "libcupti", "libgomp"];
    (loader && torch.iter().any(|lib| line.contains(lib))).then_some(concat!(
        "the trainer could not load libtorch: it needs libtorch ",
        libtorch_version!(),
        " (torch==",
        libtorch_version!(),
        " in .venv, which scripts/bootstrap installs); check LD_LIBRARY_PATH"
    ))
}

/// Why the group was stopped, besides a rank's own exit.
pub enum Trigger {
    /// A rank's heartbeat stayed silent for the timeout.
    Silent(usize, Duration),
    /// Another node failed (multi-node), with its message.
    Remote(String),
    /// Another node stopped answering (multi-node), in words.
    Node(String),
}

/// Whether one of `exits` failed by itself, not as a consequence of a
/// peer's failure or of the stop `launch` sent.
pub fn has_root_cause(exits: &[Exit]) -> bool {
    exits.iter().any(Exit::is_root_cause)
}

/// The report of a failed attempt: the root cause (its first line names the
/// rank), its log's last lines, and one line for the other ranks. `exits`
/// are in the order `launch` saw them end.
pub fn report(exits: &[Exit], trigger: Option<&Trigger>) -> String {
    let primary = exits
        .iter()
        .filter(|e| e.is_root_cause() && !e.after_stop)
        .chain(exits.iter().filter(|e| e.is_root_cause() && e.after_stop))
        .next();
    let absent = exits.iter().find_map(|e| match e.peer_fault() {
        Some(PeerFault::Absent(p)) => Some((p, e)),
        _ => None,
    });
    let log_of = |rank: usize| exits.iter().find(|e| e.rank == rank);
    let (cause, head) = match (primary, trigger, absent) {
        (Some(e), _, _) => (Some(e.rank), format!("{}\n  {}", e.what(), e.lines())),
        (None, Some(Trigger::Node(why)), _) => (None, why.clone()),
        (None, Some(Trigger::Remote(why)), _) => {
            (None, format!("stopping: another node failed: {why}"))
        }
        (None, Some(Trigger::Silent(r, t)), _) => (
            Some(*r),
            format!(
                "rank {r} sent no heartbeat for {} s (comm_timeout_s): it is frozen or stopped",
                t.as_secs_f64()
            ),
        ),
        (None, None, Some((p, by))) => (
            Some(p),
            format!(
                "rank {p} did not arrive at a collective, as rank {} reports: {}",
                by.rank,
                by.last_error.as_deref().unwrap_or_default()
            ),
        ),
        (None, None, None) => match exits.first() {
            Some(e) => (Some(e.rank), format!("{}\n  {}", e.what(), e.lines())),
            None => (None, "the group failed".into()),
        },
    };
    let mut out = head;
    if let (Some(r), false) = (cause, primary.is_some()) {
        if let Some(e) = log_of(r).filter(|e| !e.tail.is_empty()) {
            out += &format!("\n  {}", e.lines());
        }
    }
    let others: Vec<String> = exits
        .iter()
        .filter(|e| Some(e.rank) != cause)
        .map(Exit::summary)
        .collect();
    if !others.is_empty() {
        out += &format!("\n  other ranks: {}", others.join("; "));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    fn exit(rank: usize, raw: i32, after_stop: bool, line: &str) -> Exit {
        Exit {
            rank,
            status: ExitStatus::from_raw(raw),
            after_stop,
            last_error: (!line.is_empty()).then(|| line.to_string()),
            tail: vec![line.to_string()],
            log: PathBuf::from(format!("rank-{rank}.log")),
        }
    }

    const LOST: &str = "trainer rank 0: error: rank 0: barrier: lost the connection from rank 1 (it exited or failed)";
    const FULL: &str =
        "trainer rank 1: error: cannot write x: No space left on device (os error 28)";

    #[test]
    fn the_real_failure_is_the_root_cause_whichever_exit_was_seen_first() {
        let exits = [exit(0, 1 << 8, false, LOST), exit(1, 1 << 8, false, FULL)];
        let r = report(&exits, None);
        assert!(
            r.starts_with(&format!("rank 1 exited with status 1: {FULL}\n")),
            "{r}"
        );
        assert!(
            r.ends_with("\n  other ranks: rank 0 exited with status 1 (lost rank 1)"),
            "{r}"
        );
        // Even when the real failure ended only after the stop had begun.
        let exits = [exit(0, 1 << 8, false, LOST), exit(1, 1 << 8, true, FULL)];
        assert!(report(&exits, None).starts_with("rank 1 exited"));
    }

    #[test]
    fn a_rank_the_loader_could_not_start_against_libtorch_gets_the_version_it_needs() {
        let line = "/x/trainer: error while loading shared libraries: libtorch_cpu.so: cannot open shared object file: No such file or directory";
        let r = report(&[exit(0, 127 << 8, false, line)], None);
        let want = format!("rank 0 exited with status 127: {line}\n  the trainer could not load libtorch: it needs libtorch 2.11.0");
        assert!(r.starts_with(&want), "{r}");
        let other = "/x/tool: error while loading shared libraries: libfoo.so: cannot open shared object file";
        let r = report(&[exit(0, 127 << 8, false, other)], None);
        assert!(!r.contains("libtorch"), "{r}");
    }

    #[test]
    fn a_silent_or_absent_rank_is_named_when_no_rank_failed_by_itself() {
        let waited = "trainer rank 0: error: rank 0: all_gather: rank 2 did not arrive within 3 s (comm_timeout_s)";
        let killed = exit(2, libc::SIGKILL, true, "");
        let exits = [exit(0, 1 << 8, false, waited), killed];
        let r = report(&exits, None);
        assert!(
            r.starts_with("rank 2 did not arrive at a collective, as rank 0 reports: "),
            "{r}"
        );
        let silent = Trigger::Silent(2, Duration::from_secs(3));
        let r = report(&exits, Some(&silent));
        assert!(
            r.starts_with("rank 2 sent no heartbeat for 3 s (comm_timeout_s)"),
            "{r}"
        );
        assert!(
            r.ends_with("other ranks: rank 0 exited with status 1 (waited for rank 2)"),
            "{r}"
        );
    }
}
