//! A unit's forward with autograd and its backward through that graph:
//! what the backward pass runs for every unit, on a graph kept from the
//! forward pass (`train.activation_checkpointing: false`) or recomputed
//! from the unit's saved input (`true`). The engine gathers the unit's
//! parameters before and reduces their gradients after.

use crate::model::{forward_unit, Ctx, LlamaConfig, UnitSpec};
use anyhow::Result;
use tch::{Kind, Tensor};

/// What a unit's forward pass leaves for its backward pass.
pub(super) enum Saved {
    /// The unit's input: the backward pass gathers and recomputes it.
    Input(Tensor),
    /// The unit's autograd graph, with its gathered parameters.
    Graph(Graph),
}

/// One unit run with autograd: its trained parameters and input as
/// autograd leaves (the parameters views of the gathered buffer) and its
/// output. Frozen parameters (a LoRA run's base) are no leaves: autograd
/// computes no gradient for them.
pub(super) struct Graph {
    trained: Vec<Tensor>,
    input: Tensor,
    out: Tensor,
}

impl Graph {
    /// The unit's output, outside the graph (the next unit's input).
    pub(super) fn output(&self) -> Tensor {
        self.out.detach()
    }
}

/// A tensor as a fresh autograd leaf sharing its storage.
fn leaf(t: Tensor) -> Tensor {
    t.detach().set_requires_grad(true)
}

impl Graph {
    /// Runs unit `u` (`spec`) on `input` with autograd, from its gathered
    /// parameters `params`, trained where `mask` says.
    pub(super) fn run(
        cfg: &LlamaConfig,
        spec: &UnitSpec,
        (u, mask): (usize, &[bool]),
        params: Vec<Tensor>,
        input: &Tensor,
        ctx: &Ctx,
    ) -> Result<Graph> {
        // Each trained parameter is its own autograd leaf (a view of the
        // gathered buffer): their gradients are then laid end to end once,
        // instead of autograd adding a zero-padded full-size buffer per
        // parameter.
        let pairs = params.into_iter().zip(mask);
        let params: Vec<Tensor> = pairs.map(|(p, &t)| if t { leaf(p) } else { p }).collect();
        let trained = params.iter().zip(mask).filter(|(_, &t)| t);
        let trained = trained.map(|(p, _)| p.shallow_clone()).collect();
        let input = match u {
            0 => input.shallow_clone(),
            _ => leaf(input.shallow_clone()),
        };
        let out = forward_unit(cfg, spec, &params, None, &input, ctx)?;
        Ok(Graph {
            trained,
            input,
            out,
        })
    }

    /// Backward of unit `u` through the graph from the gradient of its
    /// output: the gradients of its trained parameters, in order, and of
    /// its input (none for the embedding).
    pub(super) fn backward(self, u: usize, grad_out: &Tensor) -> (Vec<Tensor>, Option<Tensor>) {
        let Graph {
            trained,
            input,
            out,
        } = self;
        let root = (out * grad_out).sum(Kind::Float);
        let k = trained.len();
        let mut wrt: Vec<&Tensor> = trained.iter().collect();
        if u > 0 {
            wrt.push(&input);
        }
        let mut grads = Tensor::run_backward(&[root], &wrt, false, false);
        let input_grad = (u > 0).then(|| grads.remove(k));
        (grads, input_grad)
    }
}
