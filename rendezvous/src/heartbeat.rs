//! Heartbeats in the store: every rank publishes, at a fixed interval, a tick
//! that advances while its process runs and the number of collectives it has
//! entered. `launch` watches the ticks to find a rank that is frozen or
//! stopped; a rank whose collective timed out reads them to name the rank that
//! did not arrive.

use crate::StoreClient;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Store key of rank `rank`'s heartbeat (within an attempt's namespace).
pub fn key(rank: usize) -> String {
    format!("heartbeat/{rank}")
}

/// How often ranks beat, for a collective timeout: several beats per timeout.
pub fn interval(timeout: Duration) -> Duration {
    (timeout / 6).clamp(Duration::from_millis(100), Duration::from_secs(5))
}

/// One published heartbeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Beat {
    /// Advances once per interval while the process runs.
    pub tick: u64,
    /// Collectives the rank has entered so far.
    pub entered: u64,
}

impl Beat {
    fn encode(&self) -> [u8; 16] {
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&self.tick.to_le_bytes());
        b[8..].copy_from_slice(&self.entered.to_le_bytes());
        b
    }

    /// Reads a value written by [`Heartbeat`].
    pub fn decode(v: &[u8]) -> Option<Beat> {
        let word = |i: usize| Some(u64::from_le_bytes(v.get(i..i + 8)?.try_into().ok()?));
        Some(Beat {
            tick: word(0)?,
            entered: word(8)?,
        })
    }
}

/// Why a rank is missing from a collective.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Absence {
    /// Its heartbeat stopped: frozen, stopped or gone.
    Silent,
    /// It beats but has not entered the collective the others are in.
    Behind,
}

/// This rank's heartbeat: a background thread publishes it; [`enter`]
/// counts collectives.
///
/// [`enter`]: Heartbeat::enter
pub struct Heartbeat {
    entered: Arc<AtomicU64>,
    lookup: Mutex<StoreClient>,
    rank: usize,
    world: usize,
    interval: Duration,
}

impl Heartbeat {
    /// Starts beating for `rank` of `world` through new connections to
    /// `store`'s server, at the [`interval`] for `timeout`. The thread ends
    /// when the heartbeat is dropped.
    pub fn start(
        store: &StoreClient,
        rank: usize,
        world: usize,
        timeout: Duration,
    ) -> io::Result<Heartbeat> {
        let interval = interval(timeout);
        let mut beats = store.reconnect(Duration::from_secs(30))?;
        let entered = Arc::new(AtomicU64::new(0));
        let counter = Arc::downgrade(&entered);
        beats.set(
            &key(rank),
            &Beat {
                tick: 0,
                entered: 0,
            }
            .encode(),
        )?;
        std::thread::Builder::new()
            .name("heartbeat".into())
            .spawn(move || {
                for tick in 1.. {
                    std::thread::sleep(interval);
                    let Some(entered) = counter.upgrade() else {
                        return;
                    };
                    let entered = entered.load(Ordering::Relaxed);
                    if beats
                        .set(&key(rank), &Beat { tick, entered }.encode())
                        .is_err()
                    {
                        return;
                    }
                }
            })?;
        Ok(Heartbeat {
            entered,
            lookup: Mutex::new(store.reconnect(Duration::from_secs(30))?),
            rank,
            world,
            interval,
        })
    }

    /// Counts a collective this rank enters.
    pub fn enter(&self) {
        self.entered.fetch_add(1, Ordering::Relaxed);
    }

    fn read_all(&self, store: &mut StoreClient) -> io::Result<Vec<Option<Beat>>> {
        (0..self.world)
            .map(|r| Ok(store.try_get(&key(r))?.as_deref().and_then(Beat::decode)))
            .collect()
    }

    /// The other ranks missing from the collective this rank is stuck in:
    /// those whose heartbeat stopped (watched for two intervals), else those
    /// that entered fewer collectives than the rest. Empty when the store
    /// cannot tell.
    pub fn absent(&self) -> Vec<(usize, Absence)> {
        let Ok(mut store) = self.lookup.lock() else {
            return vec![];
        };
        let Ok(before) = self.read_all(&mut store) else {
            return vec![];
        };
        std::thread::sleep(self.interval * 2 + self.interval / 2);
        let Ok(after) = self.read_all(&mut store) else {
            return vec![];
        };
        let others = || (0..self.world).filter(|&r| r != self.rank);
        let silent: Vec<_> = others()
            .filter(|&r| {
                after[r].is_none() || after[r].map(|b| b.tick) == before[r].map(|b| b.tick)
            })
            .map(|r| (r, Absence::Silent))
            .collect();
        if !silent.is_empty() {
            return silent;
        }
        let most = after.iter().flatten().map(|b| b.entered).max().unwrap_or(0);
        others()
            .filter(|&r| after[r].is_some_and(|b| b.entered < most))
            .map(|r| (r, Absence::Behind))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StoreServer;

    #[test]
    fn a_rank_that_stops_beating_or_lags_is_named() {
        let server = StoreServer::start("127.0.0.1:0".parse().unwrap(), "s").unwrap();
        let store = || {
            StoreClient::connect(
                "127.0.0.1",
                server.addr().port(),
                "s",
                "",
                Duration::from_secs(5),
            )
            .unwrap()
        };
        let timeout = Duration::from_millis(600);
        let beats: Vec<Heartbeat> = (0..3)
            .map(|r| Heartbeat::start(&store(), r, 3, timeout).unwrap())
            .collect();
        beats[0].enter();
        beats[1].enter();
        std::thread::sleep(interval(timeout) * 2);
        assert_eq!(beats[0].absent(), vec![(2, Absence::Behind)]);
        let mut beats = beats.into_iter();
        let first = beats.next().unwrap();
        drop(beats); // ranks 1 and 2 stop beating
        assert_eq!(
            first.absent(),
            vec![(1, Absence::Silent), (2, Absence::Silent)]
        );
    }
}
