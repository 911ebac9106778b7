//! How a rank words a failure that a peer caused, so that `launch` can tell
//! the root cause of a failed run from its consequences: the ranks write
//! these phrases into their errors, and `launch` recognises them in the last
//! error line of a rank's log.

use crate::heartbeat::{Absence, Heartbeat};
use std::time::Duration;

/// A rank's failure that another rank caused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerFault {
    /// The connection with this rank broke: it exited or failed first.
    Lost(usize),
    /// This rank did not arrive at a collective in time.
    Absent(usize),
    /// A peer failed, and the backend cannot say which (NCCL).
    Unknown,
}

/// Said when the link from `peer` broke.
pub fn lost_from(peer: usize) -> String {
    format!("lost the connection from rank {peer} (it exited or failed)")
}

/// Said when the link to `peer` broke.
pub fn lost_to(peer: usize) -> String {
    format!("lost the connection to rank {peer} (it exited or failed)")
}

/// Said when `peer` did not reach a collective within `timeout`.
pub fn did_not_arrive(peer: usize, timeout: Duration) -> String {
    format!(
        "rank {peer} did not arrive within {} s (comm_timeout_s)",
        timeout.as_secs_f64()
    )
}

/// Said when a collective failed because some peer did (without a name).
pub const PEER_FAILED: &str = "a peer rank failed or exited";

/// Why a collective that waited `timeout` did not complete, for a rank
/// whose heartbeat can tell who is missing; else `neighbour`, the peer that
/// sent nothing, if the backend knows it.
pub fn absent_peer(heartbeat: &Heartbeat, neighbour: Option<usize>, timeout: Duration) -> String {
    match (heartbeat.absent().first(), neighbour) {
        (Some(&(a, Absence::Silent)), _) => format!(
            "{}; its heartbeat stopped (frozen, stopped or gone)",
            did_not_arrive(a, timeout)
        ),
        (Some(&(a, Absence::Behind)), _) => format!(
            "{}; it has not entered this collective",
            did_not_arrive(a, timeout)
        ),
        (None, Some(peer)) => format!("{}; nothing came from it", did_not_arrive(peer, timeout)),
        (None, None) => format!(
            "the collective did not complete within {} s (comm_timeout_s): {PEER_FAILED}, or the network stalled",
            timeout.as_secs_f64()
        ),
    }
}

/// The number that starts `text`, if any.
fn leading_number(text: &str) -> Option<usize> {
    let end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    text[..end].parse().ok()
}

/// The peer fault a line of a rank's log reports, if it reports one.
pub fn parse(line: &str) -> Option<PeerFault> {
    for lead in [
        "lost the connection from rank ",
        "lost the connection to rank ",
    ] {
        if let Some(peer) = line
            .find(lead)
            .and_then(|i| leading_number(&line[i + lead.len()..]))
        {
            return Some(PeerFault::Lost(peer));
        }
    }
    let mut rest = line;
    while let Some(i) = rest.find("rank ") {
        rest = &rest[i + 5..];
        if let Some(peer) = leading_number(rest) {
            let digits = peer.to_string().len();
            if rest[digits..].starts_with(" did not arrive within ") {
                return Some(PeerFault::Absent(peer));
            }
        }
    }
    line.contains(PEER_FAILED).then_some(PeerFault::Unknown)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_phrases_are_recognised_inside_longer_errors() {
        let t = Duration::from_secs(3);
        let line = |m: String| format!("trainer rank 0: error: step 4: rank 0: all_gather: {m}");
        assert_eq!(parse(&line(lost_from(12))), Some(PeerFault::Lost(12)));
        assert_eq!(parse(&line(lost_to(1))), Some(PeerFault::Lost(1)));
        assert_eq!(
            parse(&line(did_not_arrive(3, t))),
            Some(PeerFault::Absent(3))
        );
        assert_eq!(parse(&line(PEER_FAILED.into())), Some(PeerFault::Unknown));
        assert_eq!(
            parse("trainer rank 1: error: cannot write x: File too large (os error 27)"),
            None
        );
        assert!(did_not_arrive(1, Duration::from_millis(500)).contains("within 0.5 s"));
    }
}
