"""Speed of the kit on this machine, measured side by side in one run (ratios, not timings).

    python tools/bench.py            # make bench
Training: images/s of the kit's step (bfloat16 autocast + channels-last on a CPU) against the
plain fp32 course recipe, same model (time-conditioned UNet, D = 64) and batch (128).
Sampling: 64 class-conditioned samples with CFG, conditional and unconditional estimates in one
batched pass against two separate passes. Achieved GFLOP/s against this machine's measured
matrix-multiply peak.
"""

import contextlib
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from helpers.guidance import cfg
from helpers.unet import ClassConditionalUNet, TimeConditionalUNet

B, D, STEPS = 128, 64, 6


def _median_seconds(step, repeats=STEPS) -> float:
    step()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def training_step(fast: bool):
    torch.manual_seed(0)
    model = TimeConditionalUNet(1, D)
    x, t = torch.rand(B, 1, 28, 28), torch.rand(B)
    if fast:
        model, x = (
            model.to(memory_format=torch.channels_last),
            x.contiguous(memory_format=torch.channels_last),
        )
    optimizer = torch.optim.Adam(model.parameters(), 1e-3)
    context = (
        (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if fast else contextlib.nullcontext
    )

    def step():
        with context():
            loss = (model(x, t).float() - x).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    return step, model, x, t


def flops_per_image(model, x, t) -> float:
    with FlopCounterMode(display=False) as counter:
        model(x, t).sum().backward()
    return counter.get_total_flops() / len(x)


def matmul_peak(dtype) -> float:
    a, b = torch.randn(2048, 2048, dtype=dtype), torch.randn(2048, 2048, dtype=dtype)
    seconds = _median_seconds(lambda: a @ b, 5)
    return 2 * 2048**3 / seconds / 1e9


def sampling(batched: bool, steps: int = 10) -> float:
    torch.manual_seed(0)
    model = ClassConditionalUNet(1, 10, D).eval()
    x, c = torch.randn(64, 1, 28, 28), torch.arange(64) % 10
    t_in = torch.full((64,), 0.5)

    @torch.no_grad()
    def run():
        for _ in range(steps):
            with torch.autocast("cpu", dtype=torch.bfloat16):
                if batched:
                    eps = model(
                        torch.cat([x, x]),
                        torch.cat([c, c]),
                        torch.cat([t_in, t_in]),
                        torch.cat([torch.ones(64), torch.zeros(64)]),
                    )
                    eps_cond, eps_uncond = eps.float().chunk(2)
                else:
                    eps_cond = model(x, c, t_in, torch.ones(64)).float()
                    eps_uncond = model(x, c, t_in, torch.zeros(64)).float()
            cfg(eps_cond, eps_uncond, 5.0)

    return _median_seconds(run, 3) / steps


def main() -> None:
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    plain_step, model, x, t = training_step(fast=False)
    fast_step, *_ = training_step(fast=True)
    plain, fast = B / _median_seconds(plain_step), B / _median_seconds(fast_step)
    flops = flops_per_image(model, x, t) * 1.0  # forward + backward, per image
    peak32, peak16 = matmul_peak(torch.float32), matmul_peak(torch.bfloat16)
    batched, separate = sampling(True), sampling(False)
    rows = [
        ("training, plain fp32 (course recipe)", f"{plain:7.0f} img/s", "1.00x"),
        (
            "training, bf16 autocast + channels-last (kit)",
            f"{fast:7.0f} img/s",
            f"{fast / plain:.2f}x",
        ),
        ("sampling 64 with CFG, two passes per step", f"{separate * 1000:7.0f} ms/step", "1.00x"),
        (
            "sampling 64 with CFG, one batched pass (kit)",
            f"{batched * 1000:7.0f} ms/step",
            f"{separate / batched:.2f}x",
        ),
        ("matmul peak fp32 / bf16", f"{peak32:5.0f} / {peak16:.0f} GFLOP/s", ""),
        (
            "kit training step",
            f"{fast * flops / 1e9:7.0f} GFLOP/s",
            f"{fast * flops / 1e9 / peak16:.0%} of bf16 peak",
        ),
    ]
    print(f"one training step: {flops / 1e9:.2f} GFLOP per image (forward + backward)")
    for name, value, ratio in rows:
        print(f"{name:48s} {value:>24s}  {ratio}")


if __name__ == "__main__":
    main()
