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
            // The store cannot be read: nothing can be told this time.
            let Ok(value) = self.store.try_get(&heartbeat::key(self.base + i)) else {
                return None;
            };
            let Some(beat) = value.as_deref().and_then(Beat::decode) else {
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

#[cfg(test)]
mod tests {
    use super::*;
    use rendezvous::{Heartbeat, StoreServer};

    #[test]
    fn a_running_rank_whose_heartbeat_stops_is_found_silent() {
        let server = StoreServer::start("127.0.0.1:0".parse().unwrap(), "s").unwrap();
        let port = server.addr().port();
        let client =
            || StoreClient::connect("127.0.0.1", port, "s", "", Duration::from_secs(5)).unwrap();
        let timeout = Duration::from_millis(600);
        let _beating = Heartbeat::start(&client(), 0, 3, timeout).unwrap();
        let stops = Heartbeat::start(&client(), 1, 3, timeout).unwrap();
        // Rank 2 never beats (not a trainer): it is not watched.
        let mut watch = Watch::new(client(), 0, 3, timeout);
        assert_eq!(watch.silent(&[true; 3]), None);
        drop(stops);
        let deadline = Instant::now() + Duration::from_secs(30);
        let found = loop {
            if let Some(r) = watch.silent(&[true; 3]) {
                break r;
            }
            assert!(Instant::now() < deadline, "the silent rank was not found");
            std::thread::sleep(Duration::from_millis(20));
        };
        assert_eq!(found, 1);
        // A rank that has exited is not silent.
        let until = Instant::now() + heartbeat::interval(timeout) * 3;
        while Instant::now() < until {
            assert_eq!(watch.silent(&[true, false, true]), None);
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
