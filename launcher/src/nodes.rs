//! The other nodes of a multi-node job, as this node's launcher sees them
//! through the rendezvous store. Every launcher beats (a heartbeat thread,
//! as ranks do) and publishes its host name, so that a node whose launcher
//! went silent is named: "node 1 (gpu02) stopped answering". A failed
//! attempt is announced under its restart generation; before a restart
//! every node rejoins the next generation, and none starts its ranks until
//! all have.

use crate::watch::Watch;
use anyhow::{bail, Context, Result};
use rendezvous::{Heartbeat, StoreClient};
use std::time::{Duration, Instant};

/// Namespace of the launchers' heartbeats, host names and finish marks.
const NODES: &str = "launch/nodes/";

/// This node's view of the job's nodes.
pub struct Nodes {
    store: StoreClient,
    watch: Watch,
    _beat: Heartbeat,
    node_rank: usize,
    nnodes: usize,
    master_addr: String,
    /// The restart generation this node is in (attempt k is generation k).
    generation: u32,
}

/// How long a node's launcher may stay silent before it is named: half the
/// collective timeout (so that it is named before its ranks' peers time
/// out), at most a minute: its beat comes from a thread that does nothing
/// else.
fn node_timeout(comm_timeout: Duration) -> Duration {
    (comm_timeout / 2).clamp(Duration::from_millis(500), Duration::from_secs(60))
}

/// This machine's host name.
fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is writable for its whole length.
    let ok = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } == 0;
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    match ok {
        true => String::from_utf8_lossy(&buf[..end]).into_owned(),
        false => "unknown host".into(),
    }
}

impl Nodes {
    /// Joins the job's store at `addr:port` as node `node_rank` of `nnodes`
    /// and starts beating.
    pub fn join(
        addr: &str,
        port: u16,
        secret: &str,
        (node_rank, nnodes): (usize, usize),
        comm_timeout: Duration,
    ) -> Result<Nodes> {
        let wait = Duration::from_secs(120);
        let mut store = StoreClient::connect(addr, port, secret, "", wait)?;
        let beats = StoreClient::connect(addr, port, secret, NODES, wait)?;
        store.set(&format!("{NODES}host/{node_rank}"), hostname().as_bytes())?;
        let timeout = node_timeout(comm_timeout);
        let beat = Heartbeat::start(&beats, node_rank, nnodes, timeout)
            .context("cannot start this node's heartbeat in the rendezvous store")?;
        Ok(Nodes {
            store,
            watch: Watch::new(beats, 0, nnodes, timeout),
            _beat: beat,
            node_rank,
            nnodes,
            master_addr: addr.to_string(),
            generation: 0,
        })
    }

    /// How long a node may stay silent before it is named.
    pub fn timeout(&self) -> Duration {
        self.watch.timeout()
    }

    /// "node N (host)": the host it published, else (node 0) the address
    /// the others reach it at.
    fn name(&mut self, node: usize) -> String {
        let published = self.store.try_get(&format!("{NODES}host/{node}"));
        let host = match published {
            Ok(Some(h)) => Some(String::from_utf8_lossy(&h).into_owned()),
            _ => (node == 0).then(|| self.master_addr.clone()),
        };
        match host {
            Some(h) => format!("node {node} ({h})"),
            None => format!("node {node}"),
        }
    }

    fn finished(&mut self, node: usize) -> bool {
        let key = format!("{NODES}done/{node}");
        matches!(self.store.try_get(&key), Ok(Some(_)))
    }

    /// A node that stopped answering, in words: one whose launcher's beat
    /// stayed silent for [`Nodes::timeout`] (it was killed, or its machine
    /// is gone), or node 0 when its store can no longer be reached. Nodes
    /// that finished are not watched.
    pub fn silent(&mut self) -> Option<String> {
        if self.store.try_get("launch/ping").is_err() {
            let host = &self.master_addr;
            return Some(format!(
                "node 0 ({host}) stopped answering: its rendezvous store is gone"
            ));
        }
        let running: Vec<bool> = (0..self.nnodes)
            .map(|n| n != self.node_rank && !self.finished(n))
            .collect();
        let node = self.watch.silent(&running)?;
        let secs = self.timeout().as_secs_f64();
        Some(format!(
            "{} stopped answering: its launcher sent no heartbeat for {secs} s",
            self.name(node)
        ))
    }

    /// Tells the other nodes that this generation failed here (`root`: the
    /// cause is on this node, not a lost peer).
    pub fn announce(&mut self, why: &str, root: bool) {
        let key = format!("launch/abort/{}", self.generation);
        let mut value = vec![u8::from(root)];
        value.extend_from_slice(format!("node {}: {why}", self.node_rank).as_bytes());
        let _ = self.store.set(&format!("{key}/{}", self.node_rank), &value);
        let _ = self.store.set(&key, b"1");
    }

    /// Another node's announced failure of this generation, preferring one
    /// whose cause is on that node: (root, message).
    pub fn failure(&mut self) -> Option<(bool, String)> {
        let key = format!("launch/abort/{}", self.generation);
        self.store.try_get(&key).ok()??;
        let mut found: Vec<(bool, String)> = (0..self.nnodes)
            .filter(|&n| n != self.node_rank)
            .filter_map(|n| self.store.try_get(&format!("{key}/{n}")).ok()?)
            .filter_map(|v| {
                let (root, text) = v.split_first()?;
                Some((*root == 1, String::from_utf8_lossy(text).into_owned()))
            })
            .collect();
        found.sort_by_key(|(root, _)| !root);
        found.into_iter().next()
    }

    /// Moves to `generation` (a restart) once every node has rejoined for
    /// it, waiting at most `within`; fails naming a node that stopped
    /// answering or did not come.
    pub fn rejoin(&mut self, generation: u32, within: Duration) -> Result<()> {
        let key = format!("launch/rejoin/{generation}");
        self.store.set(&format!("{key}/{}", self.node_rank), b"1")?;
        self.store.add(&key, 1)?;
        let deadline = Instant::now() + within;
        while self.count(&key)? < self.nnodes as i64 {
            if let Some(why) = self.silent() {
                bail!("{why}; the restart cannot go on without it");
            }
            if Instant::now() >= deadline {
                let missing = self.missing(&key);
                bail!(
                    "{missing} did not rejoin for restart {generation} within {} s",
                    within.as_secs_f64()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.generation = generation;
        Ok(())
    }

    fn count(&mut self, key: &str) -> Result<i64> {
        let v = self.store.try_get(key)?.unwrap_or_default();
        let word = v.get(..8).and_then(|b| b.try_into().ok());
        Ok(word.map_or(0, i64::from_le_bytes))
    }

    fn missing(&mut self, key: &str) -> String {
        let absent: Vec<usize> = (0..self.nnodes)
            .filter(|n| !matches!(self.store.try_get(&format!("{key}/{n}")), Ok(Some(_))))
            .collect();
        let names: Vec<String> = absent.into_iter().map(|n| self.name(n)).collect();
        names.join(", ")
    }

    /// Marks this node finished; node 0, which hosts the store, then waits
    /// until every node has, failing if one announces a failure of this
    /// generation or stops answering.
    pub fn finish(&mut self) -> Result<()> {
        self.store
            .set(&format!("{NODES}done/{}", self.node_rank), b"1")?;
        while self.node_rank == 0 && (0..self.nnodes).any(|n| !self.finished(n)) {
            if let Some((_, why)) = self.failure() {
                bail!("another node failed: {why}");
            }
            if let Some(why) = self.silent() {
                bail!("{why}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rendezvous::StoreServer;

    fn two_nodes(timeout: Duration) -> (Nodes, Nodes) {
        let server = StoreServer::start("127.0.0.1:0".parse().unwrap(), "s").unwrap();
        let port = server.addr().port();
        let join = |r| Nodes::join("127.0.0.1", port, "s", (r, 2), timeout).unwrap();
        (join(0), join(1))
    }

    #[test]
    fn a_node_that_does_not_rejoin_is_named() {
        let (mut n0, n1) = two_nodes(Duration::from_secs(60));
        let e = n0.rejoin(1, Duration::from_millis(300)).unwrap_err();
        let want = format!(
            "node 1 ({}) did not rejoin for restart 1 within 0.3 s",
            hostname()
        );
        assert_eq!(e.to_string(), want);
        drop(n1);
    }

    #[test]
    fn a_failure_caused_on_a_node_is_preferred_to_a_lost_peer() {
        let (mut n0, mut n1) = two_nodes(Duration::from_secs(60));
        assert_eq!(n0.failure(), None);
        n1.announce("rank 2 lost rank 0", false);
        assert_eq!(
            n0.failure(),
            Some((false, "node 1: rank 2 lost rank 0".into()))
        );
        n1.announce("rank 3 was killed by signal 9 (SIGKILL)", true);
        let root = Some((
            true,
            "node 1: rank 3 was killed by signal 9 (SIGKILL)".into(),
        ));
        assert_eq!(n0.failure(), root);
        n0.generation = 1;
        assert_eq!(
            n0.failure(),
            None,
            "another generation's failure is not this one's"
        );
        assert_eq!(
            n1.failure(),
            None,
            "a node does not hear its own announcement"
        );
    }
}
