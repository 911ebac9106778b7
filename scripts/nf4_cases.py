"""The inputs of scripts/make-nf4-references: random tensors, and ones built
to sit on the edges of bitsandbytes' NF4 decisions (midpoints between codes,
x * (1 / absmax) against x / absmax, the nested absmax lookup grid)."""

import torch
import bitsandbytes.functional as bnbf

NF4 = bnbf.get_4bit_type("nf4", device="cpu").float()
BOUNDS = (NF4[:-1] + NF4[1:]) / 2


def block_rows(a, bounds_hits):
    """One block: `a` (the absmax) first, then `bounds_hits`, zero-padded to 64."""
    row = torch.zeros(64)
    row[0] = a
    row[1 : 1 + len(bounds_hits)] = torch.tensor(bounds_hits)
    return row


def midpoint_case():
    """Blocks of absmax 1 and 2 holding every NF4 midpoint exactly, and the
    neighbouring floats above and below it; a partial last block of the same."""
    up = torch.nextafter(BOUNDS, torch.tensor(2.0))
    down = torch.nextafter(BOUNDS, torch.tensor(-2.0))
    rows = []
    for scale in (1.0, 2.0):
        for vals in (BOUNDS, up, down):
            rows.append(block_rows(scale, (vals * scale).tolist()))
    tail = torch.cat([torch.tensor([-1.0]), BOUNDS, up])
    return torch.cat([torch.stack(rows).flatten(), tail])


def codes(scaled):
    return torch.bucketize(scaled, BOUNDS)


def reciprocal_case():
    """Blocks [a, x, 0, ...] where x * (1 / a) and x / a fall on different
    sides of an NF4 midpoint, then a partial block [a, x, ...] of the same kind."""
    g = torch.Generator().manual_seed(7)
    a = (torch.rand(20000, generator=g) * 3.5 + 0.5)[:, None]
    x = BOUNDS[None, :] * a
    hits = []
    for ulps in range(-4, 5):
        y = x
        for _ in range(abs(ulps)):
            y = torch.nextafter(y, torch.full_like(y, 10.0 if ulps > 0 else -10.0))
        differ = codes(y * a.reciprocal()) != codes(y / a)
        rows, cols = differ.nonzero(as_tuple=True)
        hits += [(a[r, 0].item(), y[r, c].item()) for r, c in zip(rows.tolist(), cols.tolist())]
    assert len(hits) >= 9, f"only {len(hits)} reciprocal/division disagreements"
    blocks = [block_rows(av, [xv]) for av, xv in hits[:8]]
    tail = torch.tensor([hits[8][0], hits[8][1], 0.25])
    return torch.cat([torch.stack(blocks).flatten(), tail])


def grid_table():
    """The map code of each of 65536 grid points over [-1, 1], as bitsandbytes'
    CPU kernel builds it for the nested absmax (`build_quantize_lut`)."""
    dyn = bnbf.create_dynamic_map().float()
    mids = (dyn[:-1] + dyn[1:]) * 0.5
    grid = -1.0 + (2.0 * torch.arange(65536, dtype=torch.float32)) / torch.tensor(65535.0)
    return torch.bucketize(grid, mids)


def nested_disagreements(a, table):
    """How many nested codes of the block scales `a` (one nested block) change
    when (a - offset) / scale replaces (a - offset) * (1 / scale)."""
    rel = a - a.mean()
    scale = rel.abs().max()

    def codes(r):
        return table[((((r.clamp(-1, 1) + 1.0) * 0.5) * 65535.0) + 0.5).long()]

    return int((codes(rel * scale.reciprocal()) != codes(rel / scale)).sum())


def nested_reciprocal_case():
    """256 blocks of 64 (one nested block) whose absmax values sit within
    ulps of where the nested code changes, nudged until dividing by the
    nested scale instead of multiplying by its reciprocal changes codes."""
    table = grid_table()
    steps = (table[1:] != table[:-1]).nonzero().flatten() + 1
    # The scaled value where the grid index moves from step - 1 to step.
    turns = -1.0 + (2.0 * steps.float() - 1.0) / 65535.0
    turns = turns[turns.abs() < 0.95]
    g = torch.Generator().manual_seed(9)
    a = 2.0 + 0.5 * torch.rand(256, generator=g)
    a[0], a[1] = 3.0, 1.0
    found = 0
    for i in range(2, 256):
        if found >= 4:
            break
        orig = a[i].clone()
        for _ in range(3):
            rel = a - a.mean()
            a[i] = a.mean() + turns[(i * 7) % len(turns)] * rel.abs().max()
        base = a[i].clone()
        for k in range(-8, 9):
            a[i] = base
            for _ in range(abs(k)):
                a[i] = torch.nextafter(a[i], torch.tensor(10.0 if k > 0 else -10.0))
            count = nested_disagreements(a, table)
            if count > found:
                found = count
                break
        else:
            a[i] = orig
    assert found >= 1, "no nested reciprocal/division disagreement"
    x = (torch.rand(256, 64, generator=g) * 1.8 - 0.9) * a[:, None]
    x[:, 0] = a
    return x.flatten()


def const_case():
    """Every block has absmax 1.5, so every nested value absmax - offset is 0."""
    g = torch.Generator().manual_seed(3)
    x = (torch.rand(512, 64, generator=g) * 2 - 1) * 1.4
    x[:, 5] = 1.5
    x[::3, 5] = -1.5
    return x.flatten()


def zero_case():
    """Whole zero blocks (1 and 3) and an all-zero partial last block."""
    x = torch.randn(64 * 6 + 20, generator=torch.Generator().manual_seed(5))
    x[64:128] = 0
    x[192:256] = 0
    x[384:] = 0
    return x


def cases():
    """(name, tensor, blocksize) of every reference case."""
    g = torch.Generator().manual_seed(1234)
    rnd = lambda *shape: torch.randn(*shape, generator=g)  # noqa: E731
    return [
        ("f32_aligned", rnd(64 * 40), 64),
        ("f32_partial_odd", rnd(1001) * 3, 64),
        ("f32_zero_blocks", zero_case(), 64),
        ("f32_midpoints", midpoint_case(), 64),
        ("f32_reciprocal", reciprocal_case(), 64),
        ("f32_const_blocks", const_case(), 64),
        ("f32_nested_reciprocal", nested_reciprocal_case(), 64),
        ("f32_weight", rnd(96, 64) * 0.02, 64),
        ("bf16_weight", (rnd(96, 64) * 0.02).bfloat16(), 64),
        ("bf16_partial_odd", (rnd(777) * 5).bfloat16(), 64),
        ("f16_partial", (rnd(300) * 0.5).half(), 64),
        ("f32_bs32", rnd(48, 30), 32),
        ("bf16_bs256_partial", rnd(1000).bfloat16(), 256),
        ("f32_large_nested_partial", rnd(64 * 8000 + 37) * torch.linspace(0.1, 4, 64 * 8000 + 37), 64),
    ]
