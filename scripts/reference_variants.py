"""The tiny checkpoints that scripts/make-reference-models writes, and what is
special about each.

VARIANTS maps a variant's name to (family, config kwargs, options). The family
picks a transformers config and model class (FAMILIES); the kwargs go to the
config on top of COMMON. Options:

  dtype                 the storage dtype of model.safetensors (f32 when absent);
  max_shard_size        save in several shards of at most this size;
  position_offset       the reference forward uses positions offset..offset+SEQ;
  legacy_rope_keys      rewrite config.json to top-level rope_theta + rope_scaling;
  legacy_gemma3         rewrite config.json to the older Gemma 3 Hub format
                        (rope_theta, rope_local_base_freq, sliding_window_pattern
                        = this value; no layer_types, no rope_parameters);
  expect_layer_types    assert that HF, loading config.json, reads these;
  expect_rope_thetas    {layer type: rope_theta} HF must read from config.json;
  must_differ           {what: config overrides}: the reference logits must
                        change when the model is loaded with these overrides
                        (proves that a window or a softcap is in force);
  must_not_differ       {what: config overrides} that must leave them as they are;
  packed                document lengths of each row of packed.safetensors.
"""

import json
import os

import torch
import transformers
from safetensors.torch import save_file

COMMON = dict(
    hidden_size=64,
    intermediate_size=160,
    num_hidden_layers=2,
    vocab_size=128,
    rms_norm_eps=1e-5,
    max_position_embeddings=4096,
    initializer_range=0.02,
)

FAMILIES = {
    "llama": (transformers.LlamaConfig, transformers.LlamaForCausalLM),
    "qwen2": (transformers.Qwen2Config, transformers.Qwen2ForCausalLM),
    "qwen3": (transformers.Qwen3Config, transformers.Qwen3ForCausalLM),
    "mistral": (transformers.MistralConfig, transformers.MistralForCausalLM),
    "olmo2": (transformers.Olmo2Config, transformers.Olmo2ForCausalLM),
    "gemma3": (transformers.Gemma3TextConfig, transformers.Gemma3ForCausalLM),
}

SLIDE, FULL = "sliding_attention", "full_attention"

GEMMA3 = dict(
    num_attention_heads=4,
    num_key_value_heads=2,
    head_dim=24,
    query_pre_attn_scalar=20,
    sliding_window=8,
    hidden_activation="gelu_pytorch_tanh",
    pad_token_id=0,
)

VARIANTS = {
    # (a) grouped-query attention, untied head, f32 weights, a padding token
    #     (its embedding row gets no gradient) at the end of the second row.
    "gqa": (
        "llama",
        dict(num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=False, pad_token_id=0),
        {},
    ),
    # (b) tied embeddings, explicit head_dim != hidden/heads, bf16 weights on disk.
    "tied": (
        "llama",
        dict(num_attention_heads=4, num_key_value_heads=4, head_dim=24, tie_word_embeddings=True),
        {"dtype": torch.bfloat16},
    ),
    # (c) Qwen2: q/k/v biases (no o_proj bias), GQA.
    "qwen2_bias": (
        "qwen2",
        dict(num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=False, use_sliding_window=False),
        {},
    ),
    # (d) llama3 rope scaling, long positions, config.json in the older
    #     top-level rope_theta + rope_scaling format.
    "llama3_rope": (
        "llama",
        dict(
            num_attention_heads=4,
            num_key_value_heads=1,
            tie_word_embeddings=False,
            rope_theta=500000.0,
            rope_scaling=dict(
                rope_type="llama3",
                factor=8.0,
                low_freq_factor=1.0,
                high_freq_factor=4.0,
                original_max_position_embeddings=256,
            ),
        ),
        {"legacy_rope_keys": True, "position_offset": 3000},
    ),
    # (e) Llama attention_bias=True (q/k/v/o biases), f16 weights in several shards.
    "llama_bias": (
        "llama",
        dict(num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=False, attention_bias=True),
        {"dtype": torch.float16, "max_shard_size": "40KB"},
    ),
    # (f) Qwen3: per-head q/k norms before the rotation, head_dim != hidden/heads,
    #     no biases, GQA, untied.
    "qwen3": (
        "qwen3",
        dict(num_attention_heads=4, num_key_value_heads=2, head_dim=24, tie_word_embeddings=False),
        {},
    ),
    # (g) Qwen3 tied, with attention_bias (q/k/v/o biases), head_dim 40, one kv head.
    "qwen3_tied_bias": (
        "qwen3",
        dict(num_attention_heads=4, num_key_value_heads=1, head_dim=40, tie_word_embeddings=True, attention_bias=True),
        {},
    ),
    # (h) Mistral: a sliding window of 8 tokens (each token sees itself and the
    #     7 before it), shorter than SEQ; packed.safetensors holds packed rows.
    "mistral_window": (
        "mistral",
        dict(num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=False, sliding_window=8),
        {"must_differ": {"without the sliding window": {"sliding_window": None}}, "packed": [[14, 10], [5, 12, 7]]},
    ),
    # (i) OLMo 2: norms after attention and after the MLP (none before), q/k
    #     norms over all heads at once; pad id 1 (Olmo2Config's default).
    "olmo2": (
        "olmo2",
        dict(num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=False, eos_token_id=2),
        {},
    ),
    # (j) Gemma 3: sliding and full layers with their own rope bases, head_dim
    #     24 != 64/4, query_pre_attn_scalar 20 != head_dim, a final logit
    #     softcap, tied, GELU (tanh), embeddings scaled by sqrt(hidden).
    #     Gemma3ForCausalLM reads attn_logit_softcapping but never applies it
    #     (no released Gemma 3 sets it), so it stays null here; the check that
    #     a value of 5.0 changes nothing flags a transformers that starts to.
    "gemma3": (
        "gemma3",
        dict(
            GEMMA3,
            num_hidden_layers=3,
            layer_types=[SLIDE, FULL, SLIDE],
            attn_logit_softcapping=None,
            final_logit_softcapping=10.0,
            rope_parameters={
                FULL: {"rope_type": "default", "rope_theta": 1e6},
                SLIDE: {"rope_type": "default", "rope_theta": 1e4},
            },
            tie_word_embeddings=True,
        ),
        {
            "expect_layer_types": [SLIDE, FULL, SLIDE],
            "expect_rope_thetas": {FULL: 1e6, SLIDE: 1e4},
            "must_differ": {
                "without the sliding window": {"sliding_window": 4096},
                "without the final softcap": {"final_logit_softcapping": None},
            },
            "must_not_differ": {"an attention softcap HF ignores": {"attn_logit_softcapping": 5.0}},
        },
    ),
    # (k) Gemma 3 untied, no softcaps, config.json in the format of
    #     google/gemma-3-1b-it: sliding_window_pattern 3 gives layers
    #     sliding, sliding, full, sliding.
    "gemma3_legacy": (
        "gemma3",
        dict(
            GEMMA3,
            num_hidden_layers=4,
            layer_types=[SLIDE, SLIDE, FULL, SLIDE],
            rope_parameters={
                FULL: {"rope_type": "default", "rope_theta": 1e6},
                SLIDE: {"rope_type": "default", "rope_theta": 1e4},
            },
            tie_word_embeddings=False,
        ),
        {
            "legacy_gemma3": 3,
            "expect_layer_types": [SLIDE, SLIDE, FULL, SLIDE],
            "expect_rope_thetas": {FULL: 1e6, SLIDE: 1e4},
            "must_differ": {"without the sliding window": {"sliding_window": 4096}},
        },
    ),
}


def build_model(family, kwargs, seed):
    """A randomly initialised model of `family`, its parameters spread out."""
    torch.manual_seed(seed)
    config_class, model_class = FAMILIES[family]
    model = model_class(config_class(**{**COMMON, **kwargs}))
    # The default init (std 0.02, unit norms, zero biases) gives near-uniform
    # logits; spread every parameter so that the comparisons mean something.
    # (Gemma scales by 1 + weight: its norms come out near 2.)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.copy_(1.0 + 0.2 * torch.randn_like(p))
            elif name.endswith(".bias"):
                p.copy_(0.1 * torch.randn_like(p))
            else:
                p.copy_(0.15 * torch.randn_like(p))
    return model.float().eval()


def legacy_rope_keys(cfg):
    """Top-level rope_theta and rope_scaling (with `type`), as older Llamas ship."""
    rope = cfg.pop("rope_parameters")
    cfg["rope_theta"] = rope.pop("rope_theta")
    rope["type"] = rope.pop("rope_type")  # the oldest spelling
    cfg["rope_scaling"] = rope


def legacy_gemma3(cfg, pattern):
    """The keys of google/gemma-3-1b-it's config.json (transformers 4.50)."""
    rope = cfg.pop("rope_parameters")
    assert cfg.pop("layer_types") == [
        SLIDE if (i + 1) % pattern else FULL for i in range(cfg["num_hidden_layers"])
    ], "layer_types do not follow sliding_window_pattern"
    for key in ("_sliding_window_pattern", "use_bidirectional_attention", "dtype"):
        cfg.pop(key, None)
    cfg.update(
        rope_theta=rope[FULL]["rope_theta"],
        rope_local_base_freq=rope[SLIDE]["rope_theta"],
        rope_scaling=None,
        sliding_window_pattern=pattern,
        attn_logit_softcapping=None,
        final_logit_softcapping=None,
        cache_implementation="hybrid",
        eos_token_id=[1, 106],
        torch_dtype="float32",
    )


def rewrite_config(d, opts):
    """Rewrite d/config.json into an older format when the options ask for one."""
    if not (opts.get("legacy_rope_keys") or "legacy_gemma3" in opts):
        return
    path = os.path.join(d, "config.json")
    with open(path) as f:
        cfg = json.load(f)
    if opts.get("legacy_rope_keys"):
        legacy_rope_keys(cfg)
    else:
        legacy_gemma3(cfg, opts["legacy_gemma3"])
    with open(path, "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)


def check_config(name, config, opts):
    """Assert that HF read the layer types and rope bases the variant intends."""
    if "expect_layer_types" in opts:
        print(f"{name}: layer_types {config.layer_types}")
        assert list(config.layer_types) == opts["expect_layer_types"], config.layer_types
    if "expect_rope_thetas" in opts:
        print(f"{name}: rope_parameters {config.rope_parameters}")
        for kind, theta in opts["expect_rope_thetas"].items():
            assert config.rope_parameters[kind]["rope_theta"] == theta, (kind, config.rope_parameters)


def write_packed(d, name, model, rows, seed):
    """packed.safetensors: rows of documents packed end to end, position_ids
    restarting at 0 at each document; the logits of each document are those
    of the document run alone."""
    gen = torch.Generator().manual_seed(seed)
    all_ids, all_pos, all_logits = [], [], []
    for lengths in rows:
        docs = [torch.randint(0, model.config.vocab_size, (1, n), generator=gen) for n in lengths]
        with torch.no_grad():
            alone = [model(input_ids=x, position_ids=torch.arange(x.shape[1])[None]).logits[0] for x in docs]
        all_ids.append(torch.cat(docs, dim=1)[0])
        all_pos.append(torch.cat([torch.arange(n) for n in lengths]))
        all_logits.append(torch.cat(alone))
    assert len({len(x) for x in all_ids}) == 1, f"rows of unequal length: {rows}"
    ids, pos, logits = torch.stack(all_ids), torch.stack(all_pos), torch.stack(all_logits).float()
    # Without a cache or an attention mask, HF finds the documents from the
    # position_ids itself: its packed forward must agree.
    with torch.no_grad():
        hf_packed = model(input_ids=ids, position_ids=pos, use_cache=False).logits
    diff = float((hf_packed - logits).abs().max())
    print(f"{name}: packed rows {rows}; HF's own packed forward differs by up to {diff:.2e}")
    assert diff < 1e-4, f"{name}: documents run alone disagree with HF's packed forward"
    save_file(
        {"input_ids": ids, "position_ids": pos, "logits": logits.contiguous()},
        os.path.join(d, "packed.safetensors"),
    )
