"""The LoRA adapters that scripts/make-lora-references writes, and the pieces
of the script that deal with PEFT itself.

VARIANTS maps a variant's name to (family, config kwargs, LoraConfig kwargs).
The family and config kwargs build the base model exactly as
scripts/reference_variants.py does (same tiny sizes, same spread of the
weights); the LoraConfig kwargs build the adapter with `get_peft_model`.
"""

import os

import torch
from peft import LoraConfig, PeftModel, get_peft_model

from reference_variants import build_model

# Every linear layer of a decoder block.
ALL_BLOCK_LINEARS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]

# The base of the Llama variants: the `gqa` model of make-reference-models.
LLAMA = dict(num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=False, pad_token_id=0)

VARIANTS = {
    # (a) Llama, every block linear adapted, alpha / r = 2.
    "llama_all": (
        "llama",
        LLAMA,
        dict(
            r=8,
            lora_alpha=16,
            lora_dropout=0.0,
            target_modules=ALL_BLOCK_LINEARS,
            bias="none",
            task_type="CAUSAL_LM",
        ),
    ),
    # (b) Qwen2 (q/k/v biases), only q and v adapted, rank-stabilised
    #     scaling alpha / sqrt(r) = 8 instead of alpha / r = 4.
    "qwen2_rslora": (
        "qwen2",
        dict(num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=False, use_sliding_window=False),
        dict(
            r=4,
            lora_alpha=16,
            lora_dropout=0.0,
            use_rslora=True,
            target_modules=["q_proj", "v_proj"],
            bias="none",
            task_type="CAUSAL_LM",
        ),
    ),
    # (c) Llama untied, target_modules "all-linear" (PEFT leaves the output
    #     layer out), and a full trainable copy of lm_head (modules_to_save).
    "llama_all_linear_saved": (
        "llama",
        LLAMA,
        dict(
            r=8,
            lora_alpha=32,
            lora_dropout=0.0,
            target_modules="all-linear",
            modules_to_save=["lm_head"],
            bias="none",
            task_type="CAUSAL_LM",
        ),
    ),
}

# Written into adapter_config.json as base_model_name_or_path: the base
# relative to the adapter folder (the path it was loaded from is a temporary one).
BASE_NAME = "../base"


def write_base(d, family, kwargs, seed):
    """d/base/: the random base model as save_pretrained writes it (f32)."""
    base = os.path.join(d, "base")
    build_model(family, kwargs, seed).save_pretrained(base)
    return base


def write_adapter(d, base_model, lora_kwargs, seed):
    """d/adapter/: the initial adapter of `base_model` (changed in place into
    the PEFT model, which is returned), every lora_A and lora_B spread with
    seeded randn * 0.1 so that the adapter changes the logits."""
    torch.manual_seed(seed)
    model = get_peft_model(base_model, LoraConfig(**lora_kwargs))
    gen = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if ".lora_A." in name or ".lora_B." in name:
                p.copy_(0.1 * torch.randn(p.shape, generator=gen))
    model.peft_config["default"].base_model_name_or_path = BASE_NAME
    save_adapter(model, os.path.join(d, "adapter"))
    return model.eval()


def save_adapter(model, d):
    """PeftModel.save_pretrained into d; README.md (a model card template
    with no data in it) is left out. No variant adapts the embeddings, so
    PEFT need not look for the base's config.json to see whether the
    vocabulary was resized (it would try the Hub)."""
    model.save_pretrained(d, save_embedding_layers=False)
    readme = os.path.join(d, "README.md")
    if os.path.exists(readme):
        os.remove(readme)


def load_trainable(base_model, d):
    """The adapter in d on `base_model`, its parameters trainable."""
    return PeftModel.from_pretrained(base_model, os.path.join(d, "adapter"), is_trainable=True)


def lora_config_dict(model):
    """The adapter's LoraConfig as a JSON-ready dict (what adapter_config.json holds)."""
    cfg = model.peft_config["default"].to_dict()
    return {k: (sorted(v) if isinstance(v, set) else v) for k, v in cfg.items()}
