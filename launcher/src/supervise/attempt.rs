//! Supervising one attempt of a group: reap exits, forward stop signals,
//! watch the heartbeats and the other nodes, stop everyone after the first
//! failure (SIGTERM, SIGKILL after the grace period; a silent rank at once),
//! and report the root cause once every rank has ended.

use super::blame::{self, Exit, Trigger};
use crate::logs::RankLog;
use crate::nodes::Nodes;
use crate::process::{kill_group, Outcome};
use crate::signals;
use crate::watch::Watch;
use anyhow::Result;
use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

/// One running rank of this node.
pub struct Rank {
    /// The rank's process (leader of its own process group).
    pub child: Child,
    /// Where its output goes.
    pub log: RankLog,
    /// How it ended, once it has.
    pub status: Option<ExitStatus>,
}

/// The state of one attempt while it runs.
pub struct Attempt<'a> {
    ranks: Vec<Rank>,
    /// Global rank of local rank 0.
    base: usize,
    grace: Duration,
    /// The other nodes (multi-node), in this attempt's restart generation.
    nodes: Option<&'a mut Nodes>,
    watch: Option<Watch>,
    exits: Vec<Exit>,
    trigger: Option<Trigger>,
    failed: bool,
    stop_signal: Option<i32>,
    handled: usize,
    kill_at: Option<Instant>,
    next_poll: Instant,
    /// Whether this node's failure was announced, and as its own cause.
    announced: Option<bool>,
    /// Multi-node, when no rank here failed by itself: until when to wait
    /// for another node's word (its failure, or its silence).
    explain_by: Option<Instant>,
}

impl<'a> Attempt<'a> {
    /// Supervision of `ranks` (global ranks from `base`), with the other
    /// `nodes` of a multi-node job.
    pub fn new(
        ranks: Vec<Rank>,
        base: usize,
        grace: Duration,
        nodes: Option<&'a mut Nodes>,
        watch: Option<Watch>,
    ) -> Attempt<'a> {
        Attempt {
            ranks,
            base,
            grace,
            nodes,
            watch,
            exits: Vec::new(),
            trigger: None,
            failed: false,
            stop_signal: None,
            handled: signals::received().0,
            kill_at: None,
            next_poll: Instant::now(),
            announced: None,
            explain_by: None,
        }
    }

    /// Supervises until every rank has ended.
    pub fn run(mut self) -> Result<Outcome> {
        loop {
            self.forward_signals();
            self.reap()?;
            self.poll_peers();
            self.watch_heartbeats();
            self.stop_after_failure();
            self.kill_after_grace();
            if self.ranks.iter().all(|r| r.status.is_some()) && !self.awaiting_word() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        for r in &self.ranks {
            r.log.finish(Duration::from_secs(2));
        }
        Ok(match (self.stop_signal, self.failed) {
            (Some(sig), _) => Outcome::Stopped(sig),
            (None, true) => Outcome::Failed(blame::report(&self.exits, self.trigger.as_ref())),
            (None, false) => Outcome::Success,
        })
    }

    fn running(&self) -> impl Iterator<Item = &Rank> {
        self.ranks.iter().filter(|r| r.status.is_none())
    }

    fn forward_signals(&mut self) {
        let (count, sig) = signals::received();
        if count <= self.handled {
            return;
        }
        self.handled = count;
        if self.stop_signal.is_none() {
            crate::logs::notice(&format!(
                "launch: {} received, stopping every rank (again to kill at once)",
                signals::name(sig)
            ));
            self.stop_signal = Some(sig);
            self.running().for_each(|r| kill_group(&r.child, sig));
            if sig == libc::SIGTERM {
                // As a scheduler means it: a rank that ignores it, or is
                // stuck before it can act on it, is killed after the grace.
                let by = Instant::now() + self.grace;
                self.kill_at = Some(self.kill_at.map_or(by, |t| t.min(by)));
            }
        } else {
            self.running()
                .for_each(|r| kill_group(&r.child, libc::SIGKILL));
        }
    }

    /// Records the ranks that ended since the last look.
    fn reap(&mut self) -> Result<()> {
        let stopping = self.kill_at.is_some();
        for (i, r) in self.ranks.iter_mut().enumerate() {
            if r.status.is_some() {
                continue;
            }
            let Some(st) = r.child.try_wait()? else {
                continue;
            };
            r.status = Some(st);
            if st.success() || self.stop_signal.is_some() {
                continue;
            }
            r.log.finish(Duration::from_secs(2));
            // A program that exits with a status says why last; a killed one may not have.
            let last_error = r.log.last_error();
            let last_error = last_error.or_else(|| st.code().and(r.log.last_line()));
            self.exits.push(Exit {
                rank: self.base + i,
                status: st,
                after_stop: stopping,
                last_error,
                tail: r.log.tail(10),
                log: r.log.path.clone(),
            });
            self.failed = true;
        }
        Ok(())
    }

    /// Whether the cause of this node's failure is known: a rank here
    /// failed by itself, or another node said why (or went silent).
    fn explained(&self) -> bool {
        self.trigger.is_some() || blame::has_root_cause(&self.exits)
    }

    /// Multi-node: the ranks here only lost their peers; wait a little
    /// for the other nodes' word before reporting.
    fn awaiting_word(&mut self) -> bool {
        if !self.failed || self.stop_signal.is_some() || self.explained() {
            return false;
        }
        let Some(nodes) = self.nodes.as_deref() else {
            return false;
        };
        let by = *self
            .explain_by
            .get_or_insert_with(|| Instant::now() + nodes.timeout() * 2);
        Instant::now() < by
    }

    /// Another node's failure, or its silence, stops this node too, and
    /// explains a failure here that only lost peers.
    fn poll_peers(&mut self) {
        if self.explained() || self.stop_signal.is_some() || Instant::now() < self.next_poll {
            return;
        }
        self.next_poll = Instant::now() + Duration::from_millis(250);
        let Some(nodes) = self.nodes.as_deref_mut() else {
            return;
        };
        let word = match nodes.failure() {
            Some((root, why)) if root || !self.failed => Some(Trigger::Remote(why)),
            _ => nodes.silent().map(Trigger::Node),
        };
        if let Some(trigger) = word {
            self.trigger = Some(trigger);
            self.failed = true;
        }
    }

    /// A rank whose heartbeat stays silent for the timeout fails the
    /// attempt (when nothing else has) and is killed at once: a stopped
    /// process cannot act on SIGTERM.
    fn watch_heartbeats(&mut self) {
        if self.stop_signal.is_some() {
            return;
        }
        let Some(watch) = self.watch.as_mut() else {
            return;
        };
        let running: Vec<bool> = self.ranks.iter().map(|r| r.status.is_none()).collect();
        if let Some(i) = watch.silent(&running) {
            if !self.failed {
                self.trigger = Some(Trigger::Silent(self.base + i, watch.timeout()));
                self.failed = true;
            }
            kill_group(&self.ranks[i].child, libc::SIGKILL);
        }
    }

    /// After the first failure: tell the other nodes, SIGTERM every rank,
    /// and SIGKILL those left when the grace period is over.
    fn stop_after_failure(&mut self) {
        if !self.failed || self.stop_signal.is_some() {
            return;
        }
        self.announce();
        if self.kill_at.is_none() {
            self.running()
                .for_each(|r| kill_group(&r.child, libc::SIGTERM));
            self.kill_at = Some(Instant::now() + self.grace);
        }
    }

    /// SIGKILLs the ranks still running once the grace period after a
    /// failure or a SIGTERM is over.
    fn kill_after_grace(&mut self) {
        if self.kill_at.is_some_and(|t| Instant::now() >= t) {
            self.running()
                .for_each(|r| kill_group(&r.child, libc::SIGKILL));
        }
    }

    /// Tells the other nodes why this node failed: once, and again when a
    /// rank here turns out to be the cause. A failure another node
    /// announced is not echoed.
    fn announce(&mut self) {
        let remote = matches!(self.trigger, Some(Trigger::Remote(_)));
        let here = matches!(self.trigger, Some(Trigger::Silent(..) | Trigger::Node(_)));
        let root = here || blame::has_root_cause(&self.exits);
        if remote || self.announced.is_some_and(|was| was || !root) {
            return;
        }
        let Some(nodes) = self.nodes.as_deref_mut() else {
            return;
        };
        let why = blame::report(&self.exits, self.trigger.as_ref());
        let first = why.lines().next().unwrap_or_default();
        nodes.announce(first, root);
        self.announced = Some(root);
    }
}
