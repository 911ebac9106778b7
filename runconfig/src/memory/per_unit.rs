//! One figure per kind of unit (the embedding, one of the identical
//! decoder blocks, the head) and the model's total or largest of it: the
//! planner computes each block figure once and multiplies.

use super::UnitParams;

/// One figure per kind of unit: the embedding, one of the `layers`
/// identical blocks, the head.
pub(super) struct PerUnit {
    pub embed: u64,
    pub block: u64,
    pub head: u64,
    pub layers: u64,
}

impl PerUnit {
    /// `f` of each kind of unit's parameter count.
    pub(super) fn of(u: &UnitParams, f: impl Fn(u64) -> u64) -> PerUnit {
        PerUnit {
            embed: f(u.embed),
            block: f(u.block),
            head: f(u.head),
            layers: u.layers,
        }
    }

    /// `f` of each kind of unit's figure.
    pub(super) fn map(&self, f: impl Fn(u64) -> u64) -> PerUnit {
        PerUnit {
            embed: f(self.embed),
            block: f(self.block),
            head: f(self.head),
            layers: self.layers,
        }
    }

    /// `f` of each kind of unit's figures in `self` and `other`.
    pub(super) fn zip(&self, other: &PerUnit, f: impl Fn(u64, u64) -> u64) -> PerUnit {
        PerUnit {
            embed: f(self.embed, other.embed),
            block: f(self.block, other.block),
            head: f(self.head, other.head),
            layers: self.layers,
        }
    }

    /// The sum over every unit of the model.
    pub(super) fn total(&self) -> u64 {
        self.embed + self.layers * self.block + self.head
    }

    /// The largest unit's figure (a model without blocks has none).
    pub(super) fn largest(&self) -> u64 {
        let block = if self.layers > 0 { self.block } else { 0 };
        self.embed.max(self.head).max(block)
    }
}
