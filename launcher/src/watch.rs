//! `launch`'s side of the heartbeat: it reads each rank's beat from the
//! store and finds a rank whose beat has not advanced for `comm_timeout_s`
//! (frozen, stopped, or starved), so that the group can be stopped with that
//! rank named.

use rendezvous::heartbeat::{self, Beat};
use rendezvous::StoreClient;
use std::time::{Duration, Instant};

/// The heartbeats of this node's ranks.
pub struct Watch {
    store: StoreClient,
    base: usize,
    timeout: Duration,
    interval: Duration,
    /// Per local rank: its last tick and when it was first seen.
    seen: Vec<Option<(u64, Instant)>>,
    next_poll: Instant,
}

impl Watch {
    /// Watches the `nproc` ranks from global rank `base`, through `store`
    /// (in the attempt's namespace).
    pub fn new(store: StoreClient, base: usize, nproc: usize, timeout: Duration) -> Watch {
        Watch {
            store,
            base,
            timeout,
            interval: heartbeat::interval(timeout),
            seen: vec![None; nproc],
            next_poll: Instant::now(),
        }
    }

    /// How long a rank may stay silent.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Polls (once per heartbeat interval) and returns the first local rank
    /// among the `running` ones that has beaten before and then stayed
    /// silent for the timeout. Ranks that never beat are not watched.
    pub fn silent(&mut self, running: &[bool]) -> Option<usize> {
        let now = Instant::now();
        if now < self.next_poll {
            return None;
        }
        self.next_poll = now + self.interval;
        for (i, seen) in self.seen.iter_mut().enumerate() {
            let Ok(Some(v)) = self.store.try_get(&heartbeat::key(self.base + i)) else {
                continue;
            };
            let Some(beat) = Beat::decode(&v) else {
                continue;
            };
            if seen.is_none_or(|(tick, _)| tick != beat.tick) {
                *seen = Some((beat.tick, now));
            }
        }
        (0..self.seen.len()).find(|&i| {
            running[i] && self.seen[i].is_some_and(|(_, at)| now.duration_since(at) >= self.timeout)
        })
    }
}
