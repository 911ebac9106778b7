"""The reference side of scripts/bench-step: transformers' LlamaForCausalLM
with gradient checkpointing (or without it, given `--no-gradient-checkpointing`
after the seven positional arguments) and torch.optim.AdamW, on the same model
config, batch shape, token data and thread count. Prints tokens/s over the
steps after the warm-up ones."""
import json
import sys
import time

import torch
from transformers import LlamaConfig, LlamaForCausalLM


def tokens_per_s(model, trained, data_path, micro, accum, steps, warmup):
    """Trains `model` (its parameters `trained`) with torch.optim.AdamW on
    the rows of `data_path`, `micro` rows a forward, `accum` forwards a step;
    returns tokens/s over the steps after the first `warmup`."""
    opt = torch.optim.AdamW(trained, lr=1e-4, weight_decay=0.0)
    rows = [json.loads(l)["input_ids"] for l in open(data_path)]
    i = 0
    tokens = 0
    start = None
    for step in range(steps):
        if step == warmup:
            start, tokens = time.perf_counter(), 0
        for _ in range(accum):
            batch = torch.tensor(rows[i : i + micro]); i += micro
            loss = model(input_ids=batch, labels=batch).loss / accum
            loss.backward()
            tokens += batch.numel()
        torch.nn.utils.clip_grad_norm_(trained, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
    return tokens / (time.perf_counter() - start)


def main():
    config_path, data_path, micro, accum, steps, warmup, threads = sys.argv[1:8]
    flags = sys.argv[8:]
    if any(f != "--no-gradient-checkpointing" for f in flags):
        sys.exit(f"unknown flags {flags}; the only one is --no-gradient-checkpointing")
    micro, accum, steps, warmup, threads = map(int, (micro, accum, steps, warmup, threads))
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    cfg = LlamaConfig(**json.load(open(config_path)))
    model = LlamaForCausalLM(cfg).float()
    if not flags:
        model.gradient_checkpointing_enable()
    model.train()
    params = list(model.parameters())
    print(f"{tokens_per_s(model, params, data_path, micro, accum, steps, warmup):.1f}")


if __name__ == "__main__":
    main()
