"""Speed of the kit on this machine, measured side by side in one run (ratios, not timings).

    python tools/bench.py            # make bench
    python tools/bench.py --samples 500    # fewer samples per sampler: faster, noisier
Training: images/s of the kit's step (bfloat16 autocast + channels-last on a CPU) against the
plain fp32 course recipe, same model (time-conditioned UNet, D = 64) and batch (128).
Sampling: 64 class-conditioned samples with CFG, conditional and unconditional estimates in one
batched pass against two separate passes. Achieved GFLOP/s against this machine's measured
matrix-multiply peak. Then every sampler on the shipped class-conditioned models (DDPM, DDIM,
DPM-Solver++, flow matching's Euler) at 1 to 300 network evaluations: Frechet distance with its
real-vs-real spread, accuracy and wall time per 64 samples, as a ratio to the same model's
DDPM-300 (about 2.5 hours on one core at the default 1,000 samples per sampler, 2,500 on the
zero-SNR model and on the constant-rate flow model's DDPM and Euler).
"""

import argparse
import contextlib
import json
import time
from pathlib import Path

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


def real_vs_real_curve() -> list[tuple[str, str, str]]:
    """The metric's floor and its noise against the sample count n: Frechet distance between
    disjoint sets of n test digits, median and range over up to 5 pairs."""
    from helpers.checkpoints import load_checkpoint
    from helpers.evaluation import real_vs_real

    classifier = load_checkpoint("digit_classifier")
    rows = []
    for n in (100, 250, 500, 1000, 2500):
        r = real_vs_real(n, classifier)
        spread = (r["frechet_real_high"] - r["frechet_real_low"]) / r["frechet_real_median"]
        rows.append(
            (
                f"real vs real, n = {n}",
                f"FD {r['frechet_real_median']:5.1f} ({r['frechet_real_low']:.1f}-"
                f"{r['frechet_real_high']:.1f})",
                f"range {spread:.0%} of median, {r['real_pairs']} pairs",
            )
        )
    return rows


EVALUATIONS = (1, 2, 5, 10, 20, 50, 300)  # network evaluations per sample
ZERO_SNR = "class_zero_snr_ddpm_epoch20"  # the course's class recipe, fixed for DDIM (T1)
NO_SCHEDULER = "flow_class_constant_lr_epoch10"  # the flow recipe at a constant rate (B4)
FLOW_PATH = "constant-rate flow"  # its DDPM and Euler rows at the zero-SNR model's n
DPM = "DPM-Solver++"  # second-order and deterministic (helpers.sampling.sample_dpm_solver)


def samplers(n: int, n_zero_snr: int, out: Path) -> list[tuple[str, str, str]]:
    """Every sampler of the kit on MNIST, in one run at gamma 1: DDPM (eta 1) and flow matching
    (Euler, on the course's run and on the constant-rate run) at each count of EVALUATIONS, DDIM
    (eta 0) at 20 and 50 and DPM-Solver++(2M) at 10 and 20, on the shipped class-conditioned
    models, n samples each; DDPM-300, DDPM-20, DDIM-20 and DPM-Solver++ at 10 and 20 on the
    zero-terminal-SNR model, and DDPM-300, DDPM-20 and Euler-20 (which is DDIM-20) on the
    constant-rate flow model (DDPM's loop on the flow's path, `flow.flow_alphas_cumprod`),
    n_zero_snr samples each. Frechet distance and accuracy beside real vs real at the same n, as
    a ratio to the same model's DDPM-300; wall time per 64 samples from the same runs. Writes
    samplers_table.json and samplers.png (with its caption, samplers.json).
    """
    from helpers.checkpoints import latest_course_model, load_checkpoint
    from helpers.evaluation import flow_quality, real_text, sampler_quality
    from helpers.training import TrainConfig

    model, config, epoch = latest_course_model("class")
    flow_models = {"flow": "flow_class_epoch10", "flow, constant rate": NO_SCHEDULER}
    flow_models = {family: load_checkpoint(name) for family, name in flow_models.items()}
    classifier = load_checkpoint("digit_classifier")
    rows = {}
    for steps in EVALUATIONS:
        rows[f"DDPM-{steps}"] = sampler_quality(model, config, steps, 1.0, n, classifier)
        for family, flow_model in flow_models.items():
            rows[f"{family}-{steps}"] = flow_quality(flow_model, steps, n, classifier)
        if steps in (20, 50):
            rows[f"DDIM-{steps}"] = sampler_quality(model, config, steps, 0.0, n, classifier)
        if steps in (10, 20):
            rows[f"{DPM}-{steps}"] = sampler_quality(
                model, config, steps, 0.0, n, classifier, second_order=True
            )
        print(f"{steps} evaluations measured", flush=True)
    zero_snr = load_checkpoint(ZERO_SNR)
    zero_config = TrainConfig(**zero_snr.manifest["recipe"])
    for sampler, steps in (
        ("DDPM", zero_config.T),
        ("DDPM", 20),
        ("DDIM", 20),
        (DPM, 10),
        (DPM, 20),
    ):
        rows[f"zero-SNR {sampler}-{steps}"] = sampler_quality(
            zero_snr,
            zero_config,
            steps,
            1.0 if sampler == "DDPM" else 0.0,
            n_zero_snr,
            classifier,
            second_order=sampler == DPM,
        )
    for sampler, steps in (("DDPM", 300), ("DDPM", 20), ("Euler", 20)):
        rows[f"{FLOW_PATH} {sampler}-{steps}"] = flow_quality(
            flow_models["flow, constant rate"],
            steps,
            n_zero_snr,
            classifier,
            eta=1.0 if sampler == "DDPM" else None,
        )
    out.mkdir(parents=True, exist_ok=True)
    (out / "samplers_table.json").write_text(json.dumps(rows, indent=1) + "\n")
    plot_samplers(rows, out / "samplers.png", f"class_ddpm_epoch{epoch:02d} and flow models")
    zero_base = rows[f"zero-SNR DDPM-{zero_config.T}"]
    print(f"samplers: gamma 1, trailing timesteps, {real_text(rows['DDPM-1'])}; {out}")
    print(f"zero-SNR samplers: {real_text(zero_base)}")
    bases = {"zero-SNR": zero_base, FLOW_PATH: rows[f"{FLOW_PATH} DDPM-300"]}
    table = []
    for name, r in rows.items():
        base = next((b for p, b in bases.items() if name.startswith(p)), rows[f"DDPM-{config.T}"])
        table.append(
            (
                f"sampling, {name}",
                f"{r['seconds_per_64']:5.1f} s/64, FD {r['frechet']:6.1f}, "
                f"{100 * r['accuracy']:.1f}%",
                f"FD {r['frechet'] / base['frechet']:.2f}x its DDPM-{config.T}'s",
            )
        )
    return table


def plot_samplers(rows: dict, path: Path, models: str) -> None:
    import matplotlib.pyplot as plt

    from helpers import plots

    families = {}  # "DDPM" -> [(steps, row), ...], in the order measured
    for key, r in rows.items():
        family, steps = key.rsplit("-", 1)
        families.setdefault(family, []).append((int(steps), r))
    styles = {"DDPM": "o-", "flow": "o-", "flow, constant rate": "o--", "DDIM": "s", DPM: "D"}
    colors = {"DDPM": "C0", "flow": "C1", "flow, constant rate": "C2", "DDIM": "C4", DPM: "C5"}
    styles["Euler"], colors["Euler"] = "^", "C2"
    second = {"zero-SNR ": "C3", f"{FLOW_PATH} ": "C6"}  # the models measured at n_zero_snr
    fig, (ax_fd, ax_acc) = plt.subplots(1, 2, figsize=(9, 3.4), layout="tight")
    for family, points in families.items():
        prefix = next((p for p in second if family.startswith(p)), "")
        sampler = family.removeprefix(prefix)
        style, color = styles[sampler], colors[sampler]
        if prefix:  # points only, in the model's colour
            style, color = style.rstrip("-"), second[prefix]
        steps = [s for s, _ in points]
        ax_fd.plot(steps, [r["frechet"] for _, r in points], style, c=color, label=family)
        ax_acc.plot(steps, [100 * r["accuracy"] for _, r in points], style, c=color)
    first = next(iter(rows.values()))
    plots.real_band(ax_fd, first, label=f"real vs real, n = {first['n']}")
    zero_snr = [r for key, r in rows.items() if key.startswith("zero-SNR")]
    title = f"{models}; gamma 1, n = {first['n']} samples each"
    if zero_snr and zero_snr[0]["n"] != first["n"]:
        plots.real_band(ax_fd, zero_snr[0], color="C3", label=f"n = {zero_snr[0]['n']}")
        title += f" (zero-SNR and flow-path rows: {zero_snr[0]['n']})"
    for ax, ylabel in ((ax_fd, "Frechet distance"), (ax_acc, "classified as requested (%)")):
        ax.set(xscale="log", yscale="log" if ax is ax_fd else "linear", ylabel=ylabel)
        ax.set_xlabel("network evaluations per sample")
    ax_fd.legend(fontsize=7)
    fig.suptitle(title, fontsize=9)
    plots.save_figure(
        fig,
        path,
        caption="Frechet distance (left; gray: real vs real, median and range over disjoint "
        "pairs of test digits) and class accuracy (right) against network evaluations per "
        "sample: DDPM (eta 1), DDIM (eta 0) and DPM-Solver++(2M) on the class-conditioned DDPM "
        "UNet; Euler on the course's class-conditioned flow UNet and on its constant-rate run; "
        "in red, the same samplers on the zero-terminal-SNR UNet, and in pink DDPM's loop and "
        "Euler on the constant-rate flow UNet, with their own real-vs-real band where their n "
        "differs (make bench).",
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--samples", type=int, default=1000, help="per sampler, for quality")
    parser.add_argument(
        "--zero-snr-samples",
        type=int,
        default=2500,
        help="per sampler on the zero-SNR model, whose samplers differ less than n = 1000 resolves",
    )
    parser.add_argument("--out", type=Path, default=Path("figures/bench"), help="table and plot")
    args = parser.parse_args()
    from helpers.evaluation import check_sample_count

    for flag, n in (("--samples", args.samples), ("--zero-snr-samples", args.zero_snr_samples)):
        try:
            check_sample_count(n, flag)
        except ValueError as error:
            parser.error(str(error))
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
    rows += real_vs_real_curve() + samplers(args.samples, args.zero_snr_samples, args.out)
    print(f"one training step: {flops / 1e9:.2f} GFLOP per image (forward + backward)")
    for name, value, ratio in rows:
        print(f"{name:48s} {value:>24s}  {ratio}")


if __name__ == "__main__":
    main()
