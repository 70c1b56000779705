"""Make the shipped checkpoints in assets/checkpoints/, each with its manifest.

    python tools/checkpoints.py classifier          # the metric's digit classifier (minutes)
    python tools/checkpoints.py export offline --run runs/offline --epochs 10
                                                    # export epochs of a training run (train.py),
                                                    # measuring its samples on the way
    python tools/checkpoints.py measure class_ddpm_epoch05 --samples 1000
                                                    # measure a shipped diffusion model again
    python tools/checkpoints.py judge --samples 500  # both classifiers, ink and class shares
                                                    # on the final models (about 45 minutes)
    python tools/checkpoints.py penalty runs/class_zero_snr_d16 --epochs 10 20
                                                    # DDIM-20 against DDPM-20 on a run's epochs
                                                    # (2,500 samples each)
    python tools/checkpoints.py export flow_class --epochs 1 5 10
                                                    # flow matching: Euler with the course's
                                                    # steps (50 time, 300 class)
Every manifest records the architecture, recipe, data, epochs and steps, seed, loss history,
metrics, the sha256 of the weights and the command that made it.
"""

import argparse
import json
import platform
import sys
from pathlib import Path

import torch

from helpers import flow, part_a, sampling
from helpers.checkpoints import (
    CHECKPOINTS,
    NAMES,
    available,
    checkpoint_name,
    checkpoint_path,
    export_checkpoint,
    load_checkpoint,
    pack_images,
)
from helpers.classifier import CheckClassifier, DigitClassifier, classify, train_classifier
from helpers.data import mnist_tensors
from helpers.denoiser import OfflineDigits
from helpers.evaluation import (
    balanced_labels,
    check_sample_count,
    denoise,
    denoiser_mse,
    noisy_test_digits,
    quality_text,
    report,
    sampler_quality,
    shuffled_test_digits,
)
from helpers.training import TrainConfig, load_run, model_kwargs

DATA = "MNIST, bundled (assets/mnist): 60,000 training digits; metrics on the 10,000 test digits"


def command() -> str:
    """The command line that made a checkpoint, with its folders (--run, --out) shown as their
    defaults: where a run or an export lay on one machine says nothing about how it was made."""
    args = sys.argv[1:]
    for folder in ("--run", "--out"):
        if folder in args:
            i = args.index(folder)
            args = args[:i] + args[i + 2 :]
    return "python " + " ".join(["tools/checkpoints.py", *args])


def make_classifier(epochs: int, seed: int, check: bool = False) -> None:
    """The metric's classifier, or with check the second judge (CheckClassifier)."""
    images, labels = mnist_tensors(train=True)
    test_images, test_labels = mnist_tensors(train=False)
    architecture = CheckClassifier if check else DigitClassifier
    model = train_classifier(images, labels, epochs, seed, architecture=architecture)
    predicted, _ = classify(test_images, model)
    accuracy = (predicted == test_labels).float().mean().item()
    print(f"test accuracy {accuracy:.4f}")
    path = export_checkpoint(
        model,
        {},
        CHECKPOINTS / ("digit_classifier_check" if check else "digit_classifier"),
        recipe={"optimizer": "Adam", "lr": 1e-3, "batch_size": 128, "epochs": epochs},
        data=DATA,
        epochs=epochs,
        steps=epochs * -(-len(images) // 128),
        seed=seed,
        metrics={"test_accuracy": round(accuracy, 4)},
        made_with=f"torch {torch.__version__}, {platform.machine()}",
        command=command(),
    )
    print(f"wrote {path}")


def sample_for_metrics(model, config: TrainConfig, labels, gamma: float, seed: int = 0):
    """Samples in [0, 1] for `labels`: part A's strided CFG loop for the offline model, the full
    T-step DDPM loop for the part B models, Euler with the course's steps for flow models."""
    if config.model in flow.FLOW_STEPS:
        steps = flow.FLOW_STEPS[config.model]
        return flow.flow_digits(model, config.model, labels, steps, gamma, seed, progress=False)
    if config.signed:  # the offline part A model: one prompt per class
        g = torch.Generator().manual_seed(seed)
        x_T = torch.randn(len(labels), 1, 28, 28, generator=g)
        denoiser = OfflineDigits(model, config.T)
        out = torch.empty_like(x_T)
        for digit in range(10):
            idx = labels == digit
            out[idx], _ = part_a.iterative_denoise_cfg(
                denoiser, x_T[idx], 0, f"a handwritten {digit}", gamma, generator=g, progress=False
            )
        return (out + 1) / 2
    x0, _ = sampling.sample_digits(model, config, labels, gamma=gamma, seed=seed)
    return x0


def unguided_samples(model, config: TrainConfig, n: int):
    """n samples at gamma 1 with sample_for_metrics, and the labels they were asked for (None for
    a time-conditioned model, which draws any digit)."""
    labels = balanced_labels(n)  # for an unconditioned model only their count matters
    samples = sample_for_metrics(model, config, labels, 1.0)
    return samples, None if config.model in ("time", "flow_time") else labels


def measure_flow(model, config: TrainConfig, n: int) -> dict:
    """The manifest's metrics for a flow-matching model, from n samples of the course's Euler
    sampler (50 steps time-conditioned, 300 class-conditioned): for a class model, accuracy and
    Frechet distance at gamma = 1 and 5, each with its real-vs-real baseline; for a reflowed
    one also at gamma 1 with 1, 2 and 5 Euler steps, and the same for the model it came from."""
    classifier = load_checkpoint("digit_classifier")
    labels = balanced_labels(n)
    num_ts = flow.FLOW_STEPS[config.model]
    result = {"sampler": f"Euler over {num_ts} steps from t = 0 (course), bfloat16 autocast"}
    if config.model == "flow_time":
        samples = sample_for_metrics(model, config, labels, 1.0)
        return result | {"unguided": report(samples, None, classifier)}
    for gamma in (1.0, 5.0):
        samples = sample_for_metrics(model, config, labels, gamma)
        result[f"gamma_{gamma:g}"] = report(samples, labels, classifier)
    if config.reflow_from:  # what reflow is for: few steps, here and in the model it came from
        teacher = load_checkpoint(config.reflow_from)
        for name, m in (("few_steps", model), ("few_steps_before_reflow", teacher)):
            result[name] = {
                str(steps): report(
                    flow.flow_digits(m, config.model, labels, steps, 1.0, progress=False),
                    labels,
                    classifier,
                )
                for steps in (1, 2, 5)
            }
    return result


@torch.no_grad()
def measure_noise_denoiser(model, n: int) -> dict:
    """What a denoiser trained on pure noise outputs for n noise images (seed 0): its distance to
    the training digits' mean image (the optimum), how much its outputs vary, and 8 of them."""
    images, _ = mnist_tensors(train=True, verbose=False)
    mean_image = images.mean(0, keepdim=True)  # (1, 1, 28, 28)
    noise = torch.randn(n, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    out = denoise(model, noise)  # (n, 1, 28, 28)
    return {
        "noise_inputs": n,
        "mse_to_mean_image": round((out - mean_image).pow(2).mean().item(), 6),
        "mean_image_mean_square": round(mean_image.pow(2).mean().item(), 6),
        "output_std_over_inputs": round(out.std(0).mean().item(), 6),
        "panel": pack_images(out[:8]),
    }


def measure(model, config: TrainConfig, n: int) -> dict:
    """The manifest's metrics for a diffusion or flow model, from n samples."""
    if config.model in flow.FLOW_STEPS:
        return measure_flow(model, config, n)
    classifier = load_checkpoint("digit_classifier")
    labels = balanced_labels(n)
    sampler = (
        "part A's strided CFG loop (33 steps)"
        if config.signed
        else f"DDPM over all {config.T} steps (course algorithm), bfloat16 autocast"
    )
    if config.model == "time":
        samples = sample_for_metrics(model, config, labels, 1.0)
        return {"sampler": sampler, "unguided": report(samples, None, classifier)}
    guided = 7.0 if config.signed else 5.0
    result = {"sampler": sampler} | {
        f"gamma_{g:g}": report(sample_for_metrics(model, config, labels, g), labels, classifier)
        for g in (1.0, guided)
    }
    if not config.signed:  # what T1 asks of a schedule: DDIM-20 against DDPM at gamma 1
        for name, eta in (("ddpm_20", 1.0), ("ddim_20", 0.0)):
            result[name] = sampler_quality(model, config, 20, eta, n, classifier)
    return result


def measure_denoiser(run: Path, epoch: int, config: TrainConfig, n: int) -> dict:
    """Test MSE after each epoch up to `epoch` on n test digits, and each epoch's outputs on the
    panel of 8 noisy test digits that B1 shows: recorded, since only the last epoch's weights
    ship (16 MB each in float16)."""
    _, z = noisy_test_digits(config.sigma, 8)
    by_epoch = {}
    for e in range(1, epoch + 1):
        model, _ = load_run(run, e)
        by_epoch[str(e)] = {
            "test_mse": round(denoiser_mse(model, config.sigma, n), 5),
            "panel": pack_images(denoise(model, z)),
        }
        print(f"epoch {e}: test MSE {by_epoch[str(e)]['test_mse']}")
    panel = "first 8 test digits, noise seed 0"
    return {"sigma": config.sigma, "test_digits": n, "panel": panel, "epochs": by_epoch}


def remeasure(path: Path, n: int) -> None:
    """Measure a diffusion model's checkpoint (.safetensors) again on n samples and rewrite its
    manifest's metrics (the weights, and so their sha256, stay as they are)."""
    model = load_checkpoint(path)
    manifest = model.manifest
    if manifest["architecture"] not in (
        "TimeConditionalUNet",
        "ClassConditionalUNet",
        "FlowTimeUNet",
    ):
        raise SystemExit(
            f"{path} holds a {manifest['architecture']}, not a diffusion model (the denoiser's "
            "metrics come from its training run: `tools/checkpoints.py export denoiser`)"
        )
    config = TrainConfig(**manifest["recipe"])
    manifest["metrics"] = measure(model, config, n)
    manifest["metrics_command"] = command()
    print(f"{path.stem}: {json.dumps(manifest['metrics'])}")
    path.with_suffix(".json").write_text(json.dumps(manifest, indent=1) + "\n")


def penalty(run: Path, epochs: list[int], n: int) -> None:
    """DDIM-20 against DDPM-20 at gamma 1 on n samples, for epochs of a class model's training
    run: its weights (averaged where the recipe keeps an average) rounded to float16, as an
    export stores them (T1 section 6)."""
    classifier = load_checkpoint("digit_classifier")
    for epoch in epochs:
        if not (run / f"epoch_{epoch:03d}.json").is_file():
            saved = sorted(int(p.stem[6:]) for p in run.glob("epoch_???.json"))
            raise SystemExit(f"{run} has no epoch {epoch}; its saved epochs: {saved or 'none'}")
        model, meta = load_run(run, epoch)
        config = TrainConfig(**meta["config"])
        if config.model != "class":
            raise SystemExit(f"{run} trains a {config.model} model, not a class-conditioned DDPM")
        weights = model.state_dict().items()
        model.load_state_dict(
            {k: v.half().float() if v.is_floating_point() else v for k, v in weights}
        )
        ddpm, ddim = (sampler_quality(model, config, 20, eta, n, classifier) for eta in (1, 0))
        print(
            f"{run.name} epoch {epoch}, D = {config.num_hiddens}: DDPM-20 {quality_text(ddpm)}; "
            f"DDIM-20 {ddim['frechet']:.1f}, {100 * ddim['accuracy']:.0f}% read, ink "
            f"{ddim['ink']:.3f}; DDIM / DDPM {ddim['frechet'] / ddpm['frechet']:.2f}x",
            flush=True,
        )


JUDGED = (
    "time_ddpm_epoch20",
    "class_ddpm_epoch20",
    "offline_digits_epoch06",
    "flow_time_epoch10",
    "flow_class_epoch10",
)


def judge(names: list[str], n: int, out: Path) -> None:
    """Both judges (the metric's classifier and CheckClassifier) on n samples at gamma 1 from each
    model, with each manifest's sampler, beside n held-out test digits that are not the
    reference: Frechet distance against each judge's real vs real, accuracy, ink, class share."""
    judges = [load_checkpoint("digit_classifier"), load_checkpoint("digit_classifier_check")]
    test = shuffled_test_digits()
    rows = {"test digits": (test[-n:], None)}  # real digits, in no pair of real vs real
    for name in names:
        model = load_checkpoint(name)
        config = TrainConfig(**model.manifest["recipe"])
        rows[name] = unguided_samples(model, config, n)
        print(f"{name} sampled", flush=True)
    result = {}
    print(f"n = {n}, gamma 1; FD: Frechet distance vs real vs real's median (range over pairs)")
    for name, (samples, labels) in rows.items():
        result[name] = [report(samples, labels, j) for j in judges]
        main, check = result[name]
        accuracy = "" if labels is None else f"{main['accuracy']:.1%} / {check['accuracy']:.1%}"
        share = max(range(10), key=lambda d: main["class_share"][d])
        fd = [
            f"{r['frechet']:5.1f} vs {r['frechet_real_median']:.1f} "
            f"({r['frechet_real_low']:.1f}-{r['frechet_real_high']:.1f})"
            for r in (main, check)
        ]
        print(
            f"{name:24s} FD {fd[0]}, check FD {fd[1]}; accuracy {accuracy or '-'}; ink "
            f"{main['ink']:.3f} (real {main['ink_real']:.3f}); most read as {share}: "
            f"{main['class_share'][share]:.1%} / {check['class_share'][share]:.1%}"
        )
    out.mkdir(parents=True, exist_ok=True)
    (out / "judges.json").write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {out / 'judges.json'}")


def export_run(recipe: str, run: Path, epochs: list[int], n: int, out: Path = CHECKPOINTS) -> None:
    for epoch in epochs:
        model, meta = load_run(run, epoch)
        config = TrainConfig(**meta["config"])
        if config.model == "denoiser":
            metrics = measure_denoiser(run, epoch, config, n)
        elif config.model == "noise_denoiser":
            metrics = measure_noise_denoiser(model, n)
        else:
            metrics = measure(model, config, n)
        if config.ema:  # what the average brings: the last weights, unguided or at gamma 1
            last, _ = load_run(run, epoch, raw=True)
            samples, labels = unguided_samples(last, config, n)
            classifier = load_checkpoint("digit_classifier")
            metrics["last_weights"] = report(samples, labels, classifier)
            if config.model == "class":  # a deterministic sampler exposes the weights' noise
                metrics["last_weights_ddim_20"] = sampler_quality(
                    last, config, 20, 0.0, n, classifier
                )
        shown = {k: v for k, v in metrics.items() if k not in ("epochs", "panel")}  # not images
        print(f"epoch {epoch}: {json.dumps(shown)}")
        history = meta["loss_history"]
        path = export_checkpoint(
            model,
            model_kwargs(config),
            out / checkpoint_name(recipe, epoch),
            recipe=meta["config"],
            data=DATA,
            epochs=epoch,
            steps=len(history),
            seed=config.seed,
            loss_history=[round(loss, 5) for loss in history],
            metrics=metrics,
            made_with=f"torch {torch.__version__}, {platform.machine()}",
            command=f"python tools/train.py {recipe} && {command()}",
        )
        print(f"wrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="what", required=True)
    clf = sub.add_parser("classifier", help="train and export the metric's digit classifier")
    clf.add_argument("--epochs", type=int, default=5)
    clf.add_argument("--seed", type=int, help="default 0, or 1 with --check")
    clf.add_argument("--check", action="store_true", help="the second judge (an MLP, seed 1)")
    run = sub.add_parser("export", help="export epochs of a training run with measured metrics")
    run.add_argument("recipe", choices=sorted(NAMES))
    run.add_argument("--run", type=Path, help="the run's folder (default: runs/<recipe>)")
    run.add_argument("--epochs", type=int, nargs="+", required=True)
    run.add_argument("--samples", type=int, default=1000, help="samples for the metrics")
    run.add_argument("--out", type=Path, default=CHECKPOINTS, help="default: assets/checkpoints")
    again = sub.add_parser("measure", help="measure a shipped diffusion model again")
    again.add_argument("name", help="a shipped checkpoint (class_ddpm_epoch05) or a .safetensors")
    again.add_argument("--samples", type=int, default=1000, help="samples for the metrics")
    panel = sub.add_parser("judge", help="both classifiers and digit statistics on each model")
    panel.add_argument("names", nargs="*", default=list(JUDGED), help="default: the final models")
    panel.add_argument("--samples", type=int, default=500)
    panel.add_argument("--out", type=Path, default=Path("figures/bench"), help="judges.json")
    gap = sub.add_parser("penalty", help="DDIM-20 against DDPM-20 on epochs of a training run")
    gap.add_argument("run", type=Path, help="a class model's run folder (runs/class_zero_snr_d16)")
    gap.add_argument("--epochs", type=int, nargs="+", required=True)
    gap.add_argument("--samples", type=int, default=2500, help="samples for each sampler")
    args = parser.parse_args()
    samples, epochs = getattr(args, "samples", 2), getattr(args, "epochs", 1)
    try:
        check_sample_count(samples, "--samples")
    except ValueError as error:
        parser.error(str(error))
    if min(epochs if isinstance(epochs, list) else [epochs]) < 1:
        parser.error(f"--epochs must be at least 1, got {epochs}")
    for name in (
        [args.name] if args.what == "measure" else args.names if args.what == "judge" else []
    ):
        if not checkpoint_path(name).is_file():
            parser.error(f"no checkpoint {name}; shipped ones: {', '.join(available())}")
    if args.what == "classifier":
        seed = int(args.check) if args.seed is None else args.seed
        make_classifier(args.epochs, seed, args.check)
    elif args.what == "judge":
        judge(args.names, args.samples, args.out)
    elif args.what == "penalty":
        penalty(args.run, args.epochs, args.samples)
    elif args.what == "measure":
        remeasure(checkpoint_path(args.name), args.samples)
    else:
        run_dir = args.run or Path("runs") / args.recipe
        export_run(args.recipe, run_dir, args.epochs, args.samples, args.out)


if __name__ == "__main__":
    main()
