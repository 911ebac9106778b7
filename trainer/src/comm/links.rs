//! The cpu backend's two links of one rank, and the errors of a collective
//! that breaks on them: every message names this rank, the operation and
//! the peer that caused it, in the words `launch` recognises
//! ([`rendezvous::faults`]).

use anyhow::Result;
use rendezvous::faults::{absent_peer, lost_from, lost_to};
use rendezvous::Heartbeat;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

/// The link to the next rank and the link from the previous one.
pub struct Links {
    rank: usize,
    world: usize,
    next: TcpStream,
    prev: TcpStream,
    timeout: Duration,
    heartbeat: Arc<Heartbeat>,
}

impl Links {
    /// Links of `rank` of `world` whose reads and writes give up after `timeout`.
    pub fn new(
        rank: usize,
        world: usize,
        (next, prev): (TcpStream, TcpStream),
        timeout: Duration,
        heartbeat: Arc<Heartbeat>,
    ) -> Links {
        Links {
            rank,
            world,
            next,
            prev,
            timeout,
            heartbeat,
        }
    }

    /// Sends `out` to the next rank while receiving `inp` from the previous one.
    pub fn exchange(&mut self, op: &str, out: &[u8], inp: &mut [u8]) -> Result<()> {
        let (next, prev) = (&mut self.next, &mut self.prev);
        let (got, put) = std::thread::scope(|s| {
            let sender = s.spawn(move || next.write_all(out));
            let got = prev.read_exact(inp);
            (got, sender.join().expect("sender thread panicked"))
        });
        got.map_err(|e| self.error(op, e, true))?;
        put.map_err(|e| self.error(op, e, false))
    }

    /// The error of `op` on the link from the previous rank (`reading`) or
    /// to the next: whose absence or exit caused it.
    fn error(&self, op: &str, e: io::Error, reading: bool) -> anyhow::Error {
        let (r, w) = (self.rank, self.world);
        let peer = if reading {
            (r + w - 1) % w
        } else {
            (r + 1) % w
        };
        let what = match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
                absent_peer(&self.heartbeat, Some(peer), self.timeout)
            }
            _ if reading => lost_from(peer),
            _ => lost_to(peer),
        };
        anyhow::anyhow!("rank {r}: {op}: {what}")
    }
}
