//! What a run trains for. [`Objective`] scores one micro-batch (it lives
//! beside [`Batch`]); [`RunObjective`] is the objective of a whole run
//! (`data.objective`): it makes each micro-batch's objective, names what a
//! step reports and answers evaluation ([`RunObjective::evaluate`]). [`NextToken`] is
//! here, `DpoRun` in [`crate::dpo`]. A new objective is one file with its
//! [`RunObjective`] and one arm of the match in `train/trainer.rs`, which
//! hands it a [`Setup`].

pub use crate::batch::{token_nll, Batch, Objective};
use crate::data::batches::Steps;
use crate::data::SampleSet;
use crate::eval::{EvalBatch, EvalPass, EvalSums};
use crate::model::shifted_labels;
use crate::zero::Engine;
use anyhow::Result;
use runconfig::Config;
use serde_json::{json, Map, Value};
use tch::{Kind, Tensor};

/// Causal language modelling: the sum of token losses over the global batch
/// divided by `norm` (pretraining and SFT): its number of target tokens
/// (`train.reduce_loss: mean`) or of micro-batches (`sum`).
pub struct CausalLm {
    /// What the global batch's token-loss sum is divided by.
    pub norm: i64,
}

impl Objective for CausalLm {
    fn loss_from_nll(&self, nll: &Tensor, _: &Batch) -> Result<(Tensor, Tensor)> {
        let sum = nll.sum(Kind::Float);
        let value = sum.detach().to_kind(Kind::Double).reshape([1]);
        Ok((sum / self.norm.max(1) as f64, value))
    }

    fn nll_scale(&self) -> Option<f64> {
        Some(1.0 / self.norm.max(1) as f64)
    }
}

/// What building a run's objective may need: DPO's reference pass runs
/// the engine over the data before the first step.
pub struct Setup<'a> {
    pub engine: &'a mut Engine,
    pub config: &'a Config,
    /// The run's fingerprint (what a checkpoint must match to be resumed).
    pub fingerprint: &'a Value,
    pub steps: &'a Steps,
    pub validation: &'a SampleSet,
    /// Whether the run resumed from a checkpoint.
    pub resumed: bool,
}

/// What a run trains for, chosen once from `data.objective`: the
/// objective of each micro-batch, the names of what a step reports and
/// the metrics of an evaluation.
pub trait RunObjective {
    /// The objective of the micro-batch of `items` (indices in the training
    /// set) in a step whose loss is normalised by `norm` (target tokens, or
    /// pairs, of the global batch).
    fn micro(&self, items: &[usize], norm: i64) -> Box<dyn Objective>;
    /// A step's reported values, named, from the [`Objective::loss`] values
    /// summed over micro-batches and ranks.
    fn report(&self, sums: &[f64], norm: i64) -> Vec<(&'static str, f64)>;
    /// The metrics of one evaluation `pass`, the same on every rank. By
    /// default, the token-loss objectives' `eval_loss`: the real rows'
    /// token-loss sum over their target tokens.
    fn evaluate(&self, pass: &mut EvalPass) -> Result<Map<String, Value>> {
        let s = pass.sums(&token_loss_sums)?;
        Ok(Map::from_iter([(
            "eval_loss".into(),
            json!(s.loss / s.count.max(1.0)),
        )]))
    }
}

/// The real rows' token-loss sum and target tokens.
fn token_loss_sums(b: &EvalBatch) -> Result<EvalSums> {
    let idx = Tensor::from_slice(b.keep).to_device(b.nll.device());
    let targets = shifted_labels(&b.batch.labels.index_select(0, &idx));
    Ok(EvalSums {
        loss: b
            .nll
            .index_select(0, &idx)
            .sum(Kind::Double)
            .double_value(&[]),
        count: targets.ne(-100).sum(Kind::Int64).int64_value(&[]) as f64,
        correct: 0.0,
    })
}

/// Pretraining and SFT: next-token prediction, [`CausalLm`]. The two differ
/// only in which labels the data leaves unmasked (every token, or the
/// assistant's).
pub struct NextToken;

impl RunObjective for NextToken {
    fn micro(&self, _: &[usize], norm: i64) -> Box<dyn Objective> {
        Box::new(CausalLm { norm })
    }

    fn report(&self, sums: &[f64], norm: i64) -> Vec<(&'static str, f64)> {
        vec![("train_loss", sums[0] / norm.max(1) as f64)]
    }
}
