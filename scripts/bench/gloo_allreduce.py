"""The torchrun side of scripts/bench-launch: import torch, join a gloo
process group, do one all_reduce, exit."""
import torch
import torch.distributed as dist

dist.init_process_group("gloo")
t = torch.tensor([float(dist.get_rank())])
dist.all_reduce(t)
assert t.item() == dist.get_world_size() * (dist.get_world_size() - 1) / 2
dist.destroy_process_group()
