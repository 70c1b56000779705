"""Speed of the kit on this machine, measured side by side in one run (ratios, not timings).

    python tools/bench.py            # make bench
    python tools/bench.py --samples 1000   # more samples for the DDIM quality ratio
Training: images/s of the kit's step (bfloat16 autocast + channels-last on a CPU) against the
plain fp32 course recipe, same model (time-conditioned UNet, D = 64) and batch (128).
Sampling: 64 class-conditioned samples with CFG, conditional and unconditional estimates in one
batched pass against two separate passes. Achieved GFLOP/s against this machine's measured
matrix-multiply peak. DDIM with 20 and 50 steps against DDPM's 300 on the shipped
class-conditioned model: wall time and Frechet distance, each as a ratio to DDPM's.
"""

import argparse
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


def ddim_against_ddpm(n: int) -> list[tuple[str, str, str]]:
    """Rows for DDPM (300 steps, eta 1) and DDIM (20 and 50 steps, eta 0) on the shipped
    class-conditioned model: Frechet distance of n samples each, and the wall time of 64 samples
    (best of 3, interleaved so that load on the machine hits all three alike)."""
    from helpers.checkpoints import latest_course_model, load_checkpoint
    from helpers.evaluation import balanced_labels, sampler_quality
    from helpers.sampling import ddim_timesteps, sample_digits

    model, config, epoch = latest_course_model("class")
    classifier = load_checkpoint("digit_classifier")
    samplers = {"DDPM": (config.T, 1.0), "DDIM-50": (50, 0.0), "DDIM-20": (20, 0.0)}
    seconds = {name: float("inf") for name in samplers}
    for _ in range(3):
        for name, (steps, eta) in samplers.items():
            timesteps = ddim_timesteps(config.T, steps, "trailing")
            start = time.perf_counter()
            labels = balanced_labels(64)
            sample_digits(model, config, labels, timesteps, eta=eta, gamma=1.0, progress=False)
            seconds[name] = min(seconds[name], time.perf_counter() - start)
    fd = {
        name: sampler_quality(model, config, steps, eta, n, classifier)
        for name, (steps, eta) in samplers.items()
    }
    print(
        f"sampling: class_ddpm_epoch{epoch:02d}, gamma 1, trailing timesteps; Frechet distance "
        f"on {n} samples (real vs real {fd['DDPM']['frechet_real_vs_real']:.1f})"
    )
    return [
        (
            f"sampling 64, {name} ({steps} steps, eta {eta:g})",
            f"{seconds[name]:5.1f} s, FD {fd[name]['frechet']:5.1f}",
            f"{seconds['DDPM'] / seconds[name]:.1f}x faster, "
            f"FD {fd[name]['frechet'] / fd['DDPM']['frechet']:.2f}x",
        )
        for name, (steps, eta) in samplers.items()
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--samples", type=int, default=500, help="for the DDIM/DDPM quality")
    args = parser.parse_args()
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
    rows += ddim_against_ddpm(args.samples)
    print(f"one training step: {flops / 1e9:.2f} GFLOP per image (forward + backward)")
    for name, value, ratio in rows:
        print(f"{name:48s} {value:>24s}  {ratio}")


if __name__ == "__main__":
    main()
