"""The reference side of scripts/gpu-check (d): transformers' LlamaForCausalLM
in bf16 with gradient checkpointing and torch.optim.AdamW on one GPU; prints
tokens/s and MFU over the steps after the warm-up ones."""
import json
import sys
import time

import torch
from transformers import LlamaConfig, LlamaForCausalLM

config_path, micro, seq, steps, warmup, peak = sys.argv[1:7]
micro, seq, steps, warmup, peak = int(micro), int(seq), int(steps), int(warmup), float(peak)
cfg = LlamaConfig(**json.load(open(config_path)))
model = LlamaForCausalLM(cfg).to("cuda", torch.bfloat16)
model.gradient_checkpointing_enable()
model.config.use_cache = False
opt = torch.optim.AdamW(model.parameters(), lr=1e-5)
n = sum(p.numel() for p in model.parameters())
per_token = 6 * n + 12 * cfg.num_hidden_layers * cfg.hidden_size * seq
for step in range(steps):
    if step == warmup:
        torch.cuda.synchronize()
        start = time.perf_counter()
    ids = torch.randint(0, cfg.vocab_size, (micro, seq), device="cuda")
    model(input_ids=ids, labels=ids).loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    opt.zero_grad(set_to_none=True)
torch.cuda.synchronize()
tps = micro * seq * (steps - warmup) / (time.perf_counter() - start)
print(f"{tps:.1f} {tps * per_token / peak:.4f} {torch.cuda.max_memory_allocated() / 2**30:.1f}")
