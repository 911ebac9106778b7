//! The engine's state as checkpoints and exports see it: per unit, the
//! real (unpadded) flat range this rank owns with its fp32 master weights
//! and optimizer state pieces; loading such ranges, written by any world
//! size, back into the shards; and a unit's full weights gathered from
//! every rank.

use super::engine::Engine;
use anyhow::Result;
use tch::Tensor;

/// What a rank holds of one unit, unpadded: flat elements `[start, end)`.
pub struct UnitState {
    /// First element of the unit's flat vector this rank owns.
    pub start: usize,
    /// One past the last real element this rank owns.
    pub end: usize,
    /// `("master", fp32 weights [end - start])`, then each optimizer state
    /// piece by name, `[ceil((end - start) / granularity)]`; views of the
    /// arenas, not copies.
    pub pieces: Vec<(&'static str, Tensor)>,
}

/// Reads `len` elements of a stored piece: `(unit, piece name, first
/// element within what the writing rank stored, len)`.
pub type ReadStored<'a> = dyn Fn(usize, &str, usize, usize) -> Result<Tensor> + 'a;

impl Engine {
    /// This rank's state to save, unit by unit.
    pub fn saved_state(&self) -> Vec<UnitState> {
        let mut units = Vec::with_capacity(self.shards.len());
        for s in &self.shards {
            let (start, end) = s.layout.owned();
            let n = end - start;
            let mut pieces = vec![("master", s.master.narrow(0, 0, n as i64))];
            for p in self.arena.state_of(s) {
                let len = n.div_ceil(p.granularity) as i64;
                pieces.push((p.name, p.tensor.narrow(0, 0, len)));
            }
            units.push(UnitState { start, end, pieces });
        }
        units
    }

    /// Whether rank `rank` of a world of `world` owned part of this rank's
    /// ranges (its checkpoint file is then needed to resume).
    pub fn overlaps(&self, rank: usize, world: usize) -> bool {
        Engine::layouts(&self.specs, rank, world)
            .iter()
            .zip(&self.shards)
            .any(|(old, new)| {
                let ((a, b), (s, e)) = (old.owned(), new.layout.owned());
                a.max(s) < b.min(e)
            })
    }

    /// The flat range `[start, end)` of every unit that rank `rank` of a
    /// world of `world` owns: what its checkpoint file records.
    pub fn owned_ranges(&self, rank: usize, world: usize) -> Vec<(usize, usize)> {
        Engine::layouts(&self.specs, rank, world)
            .iter()
            .map(|l| l.owned())
            .collect()
    }

    /// Copies the overlap of what rank `rank` of a world of `world` saved
    /// into this rank's shards (master weights and optimizer state), reading
    /// it through `read`.
    pub fn load_ranges(&mut self, rank: usize, world: usize, read: &ReadStored) -> Result<()> {
        let olds = Engine::layouts(&self.specs, rank, world);
        for (u, (old, shard)) in olds.iter().zip(self.shards.iter_mut()).enumerate() {
            let ((a, b), (s, e)) = (old.owned(), shard.layout.owned());
            let (lo, hi) = (a.max(s), b.min(e));
            if lo >= hi {
                continue;
            }
            let base = shard.layout.shard_start();
            let values = read(u, "master", lo - a, hi - lo)?;
            shard
                .master
                .narrow(0, (lo - base) as i64, (hi - lo) as i64)
                .copy_(&values);
            for p in self.arena.state_of(shard) {
                let g = p.granularity;
                let (blo, bhi) = (lo / g, hi.div_ceil(g));
                let values = read(u, p.name, blo - a / g, bhi - blo)?;
                p.tensor
                    .narrow(0, (blo - base / g) as i64, (bhi - blo) as i64)
                    .copy_(&values.to_kind(p.tensor.kind()));
            }
        }
        Ok(())
    }

    /// After [`Engine::load_ranges`] filled every range: refreshes the
    /// compute copies, clears the gradients, and continues after step `step`.
    pub fn resume_at(&mut self, step: u64) {
        self.arena.refresh(&self.at);
        let _ = self.arena.grad.zero_();
        self.steps_done = step;
    }

    /// Number of units (the gather granularity).
    pub fn units(&self) -> usize {
        self.specs.len()
    }

    /// Every parameter's name and shape, unit by unit, in the model's order.
    pub fn parameters(&self) -> Vec<(String, Vec<i64>)> {
        crate::model::shapes(&self.specs)
    }

    /// Unit `u`'s fp32 master weights gathered from every rank, as named
    /// full tensors (every rank calls it).
    pub fn gather_unit(&mut self, u: usize) -> Result<Vec<(String, Tensor)>> {
        let master = self.at.on_device(&self.shards[u].master);
        let full = self.collectives.comm().all_gather(&master)?;
        self.specs[u].named(&full)
    }
}
