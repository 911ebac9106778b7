//! One decoder block: its weights read in unit order, then the family's
//! arrangement of norms around the attention and the MLP.

use std::slice::Iter;

use runconfig::model::{
    block_norm_names, Activation, BlockNorms, LlamaConfig, QkNorm, LORA_TARGETS,
};
use tch::Tensor;

use super::attention::{attention, Weights};
use super::ctx::Ctx;
use super::dropout::Adapters;
use super::linear::Linear;
use super::norm::norm;

/// A block's weights, views of its unit's parameters.
struct BlockWeights<'a> {
    attn: Weights<'a>,
    /// gate, up, down.
    mlp: [Linear<'a>; 3],
    /// The family's block norms, in [`runconfig::model::block_norm_names`] order.
    norms: Vec<&'a Tensor>,
}

fn take<'a>(it: &mut Iter<'a, Tensor>) -> &'a Tensor {
    it.next().expect("parameter count checked")
}

fn linear<'a>(it: &mut Iter<'a, Tensor>, bias: bool) -> Linear<'a> {
    let weight = take(it);
    Linear::plain(weight, bias.then(|| take(it)))
}

impl<'a> BlockWeights<'a> {
    /// `p` in the order of the unit's parameters: q, k, v, o projections
    /// with their optional biases, gate, up, down, the family's block norms,
    /// its q and k norms, then the LoRA adapters of the targeted
    /// projections, applied as `adapters` says (layer `layer`'s dropout).
    fn read(cfg: &LlamaConfig, p: &'a [Tensor], layer: usize, adapters: Adapters) -> Self {
        let it = &mut p.iter();
        let qkv = cfg.qkv_bias;
        let (mut q, mut k, mut v) = (linear(it, qkv), linear(it, qkv), linear(it, qkv));
        let mut o = linear(it, cfg.o_bias);
        let mut mlp = [linear(it, false), linear(it, false), linear(it, false)];
        let count = block_norm_names(cfg.family.block_norms()).len();
        let norms = (0..count).map(|_| take(it)).collect();
        let has_qk_norm = cfg.family.qk_norm() != QkNorm::None;
        let qk_norm = has_qk_norm.then(|| (take(it), take(it)));
        if let Some(lora) = &cfg.lora {
            let scale = lora.scale();
            for target in lora.shape.targets() {
                let adapter = Some((take(it), take(it), scale));
                let i = LORA_TARGETS.iter().position(|t| *t == target);
                let i = i.expect("a target of LORA_TARGETS");
                let proj = match i {
                    0 => &mut q,
                    1 => &mut k,
                    2 => &mut v,
                    3 => &mut o,
                    4 => &mut mlp[0],
                    5 => &mut mlp[1],
                    _ => &mut mlp[2],
                };
                match adapters {
                    Adapters::Off => {}
                    Adapters::On => proj.lora = adapter,
                    Adapters::Dropout(d) => {
                        proj.lora = adapter;
                        proj.dropout = Some(d.at(layer, i));
                    }
                }
            }
        }
        BlockWeights {
            attn: Weights {
                q,
                k,
                v,
                o,
                qk_norm,
            },
            mlp,
            norms,
        }
    }
}

/// One decoder block, layer `layer`, on hidden states `x`.
pub(super) fn block(
    cfg: &LlamaConfig,
    layer: usize,
    p: &[Tensor],
    x: &Tensor,
    ctx: &Ctx,
) -> Tensor {
    let w = BlockWeights::read(cfg, p, layer, ctx.adapters);
    let n = &w.norms;
    let ctx = ctx.layer(cfg, layer);
    let attend = |h: &Tensor| attention(cfg, h, &w.attn, ctx);
    let mlp = |h: &Tensor| feed_forward(cfg, &w.mlp, h);
    match cfg.family.block_norms() {
        BlockNorms::Pre => {
            let h = x + attend(&norm(cfg, x, n[0]));
            let m = mlp(&norm(cfg, &h, n[1]));
            h + m
        }
        BlockNorms::Post => {
            let h = x + norm(cfg, &attend(x), n[0]);
            let m = norm(cfg, &mlp(&h), n[1]);
            h + m
        }
        BlockNorms::Sandwich => {
            let h = x + norm(cfg, &attend(&norm(cfg, x, n[0])), n[1]);
            let m = norm(cfg, &mlp(&norm(cfg, &h, n[2])), n[3]);
            h + m
        }
    }
}

/// The gated MLP: `down(act(gate(x)) * up(x))`.
fn feed_forward(cfg: &LlamaConfig, [gate, up, down]: &[Linear; 3], x: &Tensor) -> Tensor {
    let g = gate.apply(x);
    let g = match cfg.activation {
        Activation::Silu => g.silu(),
        Activation::GeluTanh => g.gelu("tanh"),
    };
    down.apply(&(g * up.apply(x)))
}
