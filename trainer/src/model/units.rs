//! The model cut into units, the gather granularity of the ZeRO-3 engine:
//! unit 0 is the embedding, units `1..=L` the decoder blocks, unit `L + 1` the
//! final norm and the LM head. Each unit lists its parameters (HF name, shape)
//! in a fixed order, the order of its flat buffer.

use anyhow::{bail, Result};
use tch::Tensor;

use super::config::LlamaConfig;

/// HF name of the embedding matrix, `[vocab, hidden]`.
pub const EMBED_WEIGHT: &str = "model.embed_tokens.weight";

/// How a parameter is initialised from scratch (as transformers' `_init_weights`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Init {
    /// Normal(0, `initializer_range`): linear and embedding matrices.
    Normal,
    /// All ones: RMSNorm weights.
    Ones,
    /// All zeros: biases.
    Zeros,
}

/// One parameter of a unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamSpec {
    /// Hugging Face tensor name, e.g. `model.layers.0.self_attn.q_proj.weight`.
    pub name: String,
    /// Shape, as stored in the HF checkpoint.
    pub shape: Vec<i64>,
    /// Initialisation from scratch.
    pub init: Init,
}

impl ParamSpec {
    fn new(name: String, shape: &[i64], init: Init) -> Self {
        ParamSpec {
            name,
            shape: shape.to_vec(),
            init,
        }
    }

    /// Number of elements.
    pub fn numel(&self) -> i64 {
        self.shape.iter().product()
    }
}

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

/// One unit: its parameters in flat-buffer order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitSpec {
    /// Position in [`units`]: 0 embedding, `1..=L` blocks, `L + 1` head.
    pub index: usize,
    /// What it computes.
    pub kind: UnitKind,
    /// The unit's own parameters, in the order of its flat buffer.
    pub params: Vec<ParamSpec>,
    /// True for the head of a model with tied embeddings: its forward also
    /// needs [`EMBED_WEIGHT`] (owned by unit 0), and the gradient it gets for
    /// that weight must be added to unit 0's gradient.
    pub uses_embedding: bool,
}

impl UnitSpec {
    /// Total number of elements of the unit's own parameters (`P`).
    pub fn numel(&self) -> i64 {
        self.params.iter().map(ParamSpec::numel).sum()
    }

    /// `(offset, numel)` of each parameter inside the flat buffer.
    pub fn offsets(&self) -> Vec<(i64, i64)> {
        let mut at = 0;
        self.params
            .iter()
            .map(|p| {
                let r = (at, p.numel());
                at += p.numel();
                r
            })
            .collect()
    }

    /// Views of a flat buffer of at least `numel()` elements (padding after
    /// the end is ignored) as the unit's parameters; no copy.
    pub fn split_flat(&self, flat: &Tensor) -> Result<Vec<Tensor>> {
        let have = flat.numel() as i64;
        if flat.dim() != 1 || have < self.numel() {
            bail!(
                "unit {}: flat buffer of shape {:?} is smaller than its {} parameters",
                self.index,
                flat.size(),
                self.numel()
            );
        }
        Ok(self
            .params
            .iter()
            .zip(self.offsets())
            .map(|(p, (at, n))| flat.narrow(0, at, n).view(p.shape.as_slice()))
            .collect())
    }

    /// A flat buffer as the unit's named parameters (views, no copy).
    pub fn named(&self, flat: &Tensor) -> Result<Vec<(String, Tensor)>> {
        let names = self.params.iter().map(|p| p.name.clone());
        Ok(names.zip(self.split_flat(flat)?).collect())
    }
}

/// Every parameter (name, shape) of `specs`, in unit order.
pub fn shapes(specs: &[UnitSpec]) -> Vec<(String, Vec<i64>)> {
    let params = specs.iter().flat_map(|s| &s.params);
    params.map(|p| (p.name.clone(), p.shape.clone())).collect()
}

/// Checks that `tensors` match the unit's parameter list in count and shapes.
pub(crate) fn check_shapes(unit: &UnitSpec, tensors: &[Tensor]) -> Result<()> {
    if tensors.len() != unit.params.len() {
        bail!(
            "unit {} ({:?}) takes {} parameter tensors, got {}",
            unit.index,
            unit.kind,
            unit.params.len(),
            tensors.len()
        );
    }
    for (p, t) in unit.params.iter().zip(tensors) {
        if t.size() != p.shape {
            bail!(
                "{}: expected shape {:?}, found {:?}",
                p.name,
                p.shape,
                t.size()
            );
        }
    }
    Ok(())
}

/// The model's units, in forward order.
pub fn units(cfg: &LlamaConfig) -> Vec<UnitSpec> {
    let (h, v) = (cfg.hidden_size, cfg.vocab_size);
    let mut out = vec![UnitSpec {
        index: 0,
        kind: UnitKind::Embedding,
        params: vec![ParamSpec::new(EMBED_WEIGHT.into(), &[v, h], Init::Normal)],
        uses_embedding: false,
    }];
    for layer in 0..cfg.num_hidden_layers {
        let mut params = attention_params(cfg, layer);
        params.extend(mlp_and_norm_params(cfg, layer));
        out.push(UnitSpec {
            index: layer + 1,
            kind: UnitKind::Block(layer),
            params,
            uses_embedding: false,
        });
    }
    out.push(head_unit(cfg));
    out
}

/// The attention parameters of decoder block `layer`: q, k, v (with their
/// biases when `qkv_bias`), then o (with its bias when `o_bias`).
fn attention_params(cfg: &LlamaConfig, layer: usize) -> Vec<ParamSpec> {
    let h = cfg.hidden_size;
    let q_out = cfg.num_attention_heads * cfg.head_dim;
    let kv_out = cfg.num_key_value_heads * cfg.head_dim;
    let name = |s: &str| format!("model.layers.{layer}.self_attn.{s}");
    let mut params = Vec::new();
    for (proj, rows, bias) in [
        ("q_proj", q_out, cfg.qkv_bias),
        ("k_proj", kv_out, cfg.qkv_bias),
        ("v_proj", kv_out, cfg.qkv_bias),
    ] {
        params.push(ParamSpec::new(
            name(&format!("{proj}.weight")),
            &[rows, h],
            Init::Normal,
        ));
        if bias {
            params.push(ParamSpec::new(
                name(&format!("{proj}.bias")),
                &[rows],
                Init::Zeros,
            ));
        }
    }
    params.push(ParamSpec::new(
        name("o_proj.weight"),
        &[h, q_out],
        Init::Normal,
    ));
    if cfg.o_bias {
        params.push(ParamSpec::new(name("o_proj.bias"), &[h], Init::Zeros));
    }
    params
}

/// The MLP and the two RMSNorm weights of decoder block `layer`.
fn mlp_and_norm_params(cfg: &LlamaConfig, layer: usize) -> Vec<ParamSpec> {
    let (h, i) = (cfg.hidden_size, cfg.intermediate_size);
    let name = |s: &str| format!("model.layers.{layer}.{s}");
    [
        ("mlp.gate_proj.weight", vec![i, h], Init::Normal),
        ("mlp.up_proj.weight", vec![i, h], Init::Normal),
        ("mlp.down_proj.weight", vec![h, i], Init::Normal),
        ("input_layernorm.weight", vec![h], Init::Ones),
        ("post_attention_layernorm.weight", vec![h], Init::Ones),
    ]
    .into_iter()
    .map(|(s, shape, init)| ParamSpec::new(name(s), &shape, init))
    .collect()
}

/// The last unit: the final norm, and the LM head unless it is tied to the
/// embedding.
fn head_unit(cfg: &LlamaConfig) -> UnitSpec {
    let (h, v) = (cfg.hidden_size, cfg.vocab_size);
    let mut head = vec![ParamSpec::new("model.norm.weight".into(), &[h], Init::Ones)];
    if !cfg.tie_word_embeddings {
        head.push(ParamSpec::new(
            "lm_head.weight".into(),
            &[v, h],
            Init::Normal,
        ));
    }
    UnitSpec {
        index: cfg.num_hidden_layers + 1,
        kind: UnitKind::Head,
        params: head,
        uses_embedding: cfg.tie_word_embeddings,
    }
}

/// Every parameter of the model, in unit order (the embedding once, even when tied).
pub fn all_params(cfg: &LlamaConfig) -> Vec<ParamSpec> {
    units(cfg).into_iter().flat_map(|u| u.params).collect()
}

/// Number of parameters of the model (the embedding counted once when tied).
pub fn num_params(cfg: &LlamaConfig) -> i64 {
    units(cfg).iter().map(UnitSpec::numel).sum()
}
