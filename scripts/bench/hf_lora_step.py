"""The reference side of scripts/bench-lora: transformers' LlamaForCausalLM
with peft's LoRA adapters (r and alpha given, dropout 0, all seven
projections), with gradient checkpointing (or without it, given
`--no-gradient-checkpointing` after the nine positional arguments), and
torch.optim.AdamW over the adapters, on the same model config, batch shape,
token data and thread count. Prints tokens/s over the steps after the
warm-up ones, then this process's peak resident bytes."""
import json
import resource
import sys

import torch
from peft import LoraConfig, get_peft_model
from transformers import LlamaConfig, LlamaForCausalLM

from hf_step import tokens_per_s  # this script's folder is on sys.path

TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]

args, flags = sys.argv[1:10], sys.argv[10:]
if len(args) != 9 or any(f != "--no-gradient-checkpointing" for f in flags):
    sys.exit(
        "usage: hf_lora_step.py CONFIG DATA MICRO ACCUM STEPS WARMUP THREADS R ALPHA"
        " [--no-gradient-checkpointing]"
    )
config_path, data_path = args[:2]
micro, accum, steps, warmup, threads, r, alpha = map(int, args[2:])
torch.set_num_threads(threads)
torch.manual_seed(0)
cfg = LlamaConfig(**json.load(open(config_path)))
base = LlamaForCausalLM(cfg).float()
if not flags:
    # Non-reentrant checkpointing: the frozen embedding's output needs no grad.
    base.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
lora = LoraConfig(r=r, lora_alpha=alpha, lora_dropout=0.0, target_modules=TARGETS, task_type="CAUSAL_LM")
model = get_peft_model(base, lora)
model.train()
trained = [p for p in model.parameters() if p.requires_grad]
speed = tokens_per_s(model, trained, data_path, micro, accum, steps, warmup)
print(f"{speed:.1f} {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}")
