//! The model cut into units, the gather granularity of the ZeRO-3 engine:
//! unit 0 is the embedding, units `1..=L` the decoder blocks, unit `L + 1`
//! the final norm and the LM head. Each unit lists its parameters (Hugging
//! Face name, shape) in a fixed order, the order of its flat buffer. The
//! trainer builds its tensors from this list and the planner counts it, so
//! the two cannot disagree on what a unit holds.

use super::family::{BlockNorms, QkNorm};
use super::lora::LoraShape;
use super::shape::{ModelShape, UnitParams};

/// HF name of the embedding matrix, `[vocab, hidden]`.
pub const EMBED_WEIGHT: &str = "model.embed_tokens.weight";

/// What a unit computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnitKind {
    /// Token ids `[B, T]` (i64) -> hidden states `[B, T, H]`.
    Embedding,
    /// Decoder block `i` (0-based): hidden -> hidden.
    Block(usize),
    /// Final RMSNorm + LM head: hidden -> logits `[B, T, V]`.
    Head,
}

/// The kinds of the units of a model of `layers` blocks, in forward order.
pub fn unit_kinds(layers: usize) -> impl Iterator<Item = UnitKind> {
    let blocks = (0..layers).map(UnitKind::Block);
    std::iter::once(UnitKind::Embedding)
        .chain(blocks)
        .chain(std::iter::once(UnitKind::Head))
}

/// The parameters (HF name, shape) of unit `kind` of `m`, in flat-buffer
/// order. The head of a tied model holds only the final norm: its LM head is
/// the embedding, owned by unit 0.
pub fn unit_params(m: &ModelShape, kind: UnitKind) -> Vec<(String, Vec<u64>)> {
    let (h, v) = (m.hidden, m.vocab);
    match kind {
        UnitKind::Embedding => vec![(EMBED_WEIGHT.into(), vec![v, h])],
        UnitKind::Block(layer) => block_params(m, layer),
        UnitKind::Head => {
            let mut head = vec![("model.norm.weight".into(), vec![h])];
            if !m.tied {
                head.push(("lm_head.weight".into(), vec![v, h]));
            }
            head
        }
    }
}

/// Decoder block `layer`: q, k, v (with their biases when `qkv_bias`), o
/// (with its bias when `o_bias`), the MLP, the block's norms in the
/// family's order (`block_norms`), then the query and key norms when the
/// family has them (last, so that the other families' buffers keep their
/// layout).
fn block_params(m: &ModelShape, layer: usize) -> Vec<(String, Vec<u64>)> {
    let (h, i) = (m.hidden, m.intermediate);
    let (q, kv) = (m.heads * m.head_dim, m.kv_heads * m.head_dim);
    let name = |s: &str| format!("model.layers.{layer}.{s}");
    let mut params = Vec::new();
    for (proj, rows) in [("q_proj", q), ("k_proj", kv), ("v_proj", kv)] {
        params.push((name(&format!("self_attn.{proj}.weight")), vec![rows, h]));
        if m.qkv_bias {
            params.push((name(&format!("self_attn.{proj}.bias")), vec![rows]));
        }
    }
    params.push((name("self_attn.o_proj.weight"), vec![h, q]));
    if m.o_bias {
        params.push((name("self_attn.o_proj.bias"), vec![h]));
    }
    let mlp = [
        ("mlp.gate_proj.weight", vec![i, h]),
        ("mlp.up_proj.weight", vec![i, h]),
        ("mlp.down_proj.weight", vec![h, i]),
    ];
    params.extend(mlp.into_iter().map(|(s, shape)| (name(s), shape)));
    let norms = block_norm_names(m.family.block_norms());
    params.extend(norms.iter().map(|s| (name(s), vec![h])));
    let qk = match m.family.qk_norm() {
        QkNorm::None => None,
        QkNorm::PerHead => Some((m.head_dim, m.head_dim)),
        QkNorm::Whole => Some((q, kv)),
    };
    if let Some((qn, kn)) = qk {
        params.push((name("self_attn.q_norm.weight"), vec![qn]));
        params.push((name("self_attn.k_norm.weight"), vec![kn]));
    }
    if let Some(lora) = &m.lora {
        params.extend(adapter_params(m, lora, layer));
    }
    params
}

/// The LoRA adapters of block `layer`, after its base weights: for each
/// targeted projection (in [`super::lora::LORA_TARGETS`] order) `lora_A` `[r, in]` and
/// `lora_B` `[out, r]`, under the projection's name as PEFT names them.
fn adapter_params(m: &ModelShape, lora: &LoraShape, layer: usize) -> Vec<(String, Vec<u64>)> {
    let (h, i) = (m.hidden, m.intermediate);
    let (q, kv) = (m.heads * m.head_dim, m.kv_heads * m.head_dim);
    let mut params = Vec::new();
    for target in lora.targets() {
        let (part, (inp, out)) = match target {
            "q_proj" => ("self_attn", (h, q)),
            "k_proj" | "v_proj" => ("self_attn", (h, kv)),
            "o_proj" => ("self_attn", (q, h)),
            "gate_proj" | "up_proj" => ("mlp", (h, i)),
            _ => ("mlp", (i, h)),
        };
        let name = |ab: &str| format!("model.layers.{layer}.{part}.{target}.{ab}.weight");
        params.push((name("lora_A"), vec![lora.r, inp]));
        params.push((name("lora_B"), vec![out, lora.r]));
    }
    params
}

/// The names of a block's norms (after `model.layers.N.`), in the order of
/// its flat buffer and of the forward.
pub fn block_norm_names(norms: BlockNorms) -> &'static [&'static str] {
    match norms {
        BlockNorms::Pre => &["input_layernorm.weight", "post_attention_layernorm.weight"],
        BlockNorms::Post => &[
            "post_attention_layernorm.weight",
            "post_feedforward_layernorm.weight",
        ],
        BlockNorms::Sandwich => &[
            "input_layernorm.weight",
            "post_attention_layernorm.weight",
            "pre_feedforward_layernorm.weight",
            "post_feedforward_layernorm.weight",
        ],
    }
}

/// Elements of a list of parameters.
pub fn numel(params: &[(String, Vec<u64>)]) -> u64 {
    params.iter().map(|(_, s)| s.iter().product::<u64>()).sum()
}

impl ModelShape {
    /// Parameters of the embedding, of one decoder block, and of the head
    /// (blocks are identical: block 0 stands for all of them).
    pub fn unit_params(&self) -> UnitParams {
        let count = |kind| numel(&unit_params(self, kind));
        UnitParams {
            embed: count(UnitKind::Embedding),
            block: count(UnitKind::Block(0)),
            layers: self.layers,
            head: count(UnitKind::Head),
        }
    }

    /// Parameters of each kind of unit that training updates: all of
    /// them, or with LoRA the adapters alone.
    pub fn trained_params(&self) -> UnitParams {
        self.params_where(|name| self.lora.is_none_or(|l| l.trains(name)))
    }

    /// Parameters of each kind of unit that training never updates: none,
    /// or with LoRA the base model's.
    pub fn frozen_params(&self) -> UnitParams {
        self.params_where(|name| self.lora.is_some_and(|l| !l.trains(name)))
    }

    fn params_where(&self, keep: impl Fn(&str) -> bool) -> UnitParams {
        let count = |kind| {
            let params = unit_params(self, kind);
            numel(
                &params
                    .into_iter()
                    .filter(|(n, _)| keep(n))
                    .collect::<Vec<_>>(),
            )
        };
        UnitParams {
            embed: count(UnitKind::Embedding),
            block: count(UnitKind::Block(0)),
            layers: self.layers,
            head: count(UnitKind::Head),
        }
    }

    /// Parameters of the model (the embedding once when tied).
    pub fn num_params(&self) -> u64 {
        let u = self.unit_params();
        u.embed + u.layers * u.block + u.head
    }
}
