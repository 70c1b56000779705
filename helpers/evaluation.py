"""Measuring samples: class accuracy, classifier confidence and Frechet distance, with baseline.

A Frechet distance at n samples is judged against real vs real at the same n: the distance
between disjoint sets of n held-out test digits, as a median and range over up to five pairs
(test vs test: the classifier has seen the training digits). Both use the test digits in one
fixed shuffled order, because MNIST's test file is not shuffled: at n = 1000 its first thousand
digits lie 8 to 12 from the next four thousands and 38 to 66 from the last five.
"""

import functools
import statistics
import time

import torch
from torch import Tensor, nn

from helpers import flow, sampling
from helpers.classifier import classify, frechet_distance
from helpers.data import mnist_tensors
from helpers.training import TrainConfig

MAX_SAMPLES = 5000  # real vs real takes two disjoint sets of n of the 10,000 test digits


def check_sample_count(n: int, name: str = "n") -> None:
    """Raise ValueError unless a Frechet distance can be judged at n samples (2 to MAX_SAMPLES)."""
    if not 2 <= n <= MAX_SAMPLES:
        raise ValueError(
            f"{name} must lie in [2, {MAX_SAMPLES}] (real vs real takes two disjoint sets of n of "
            f"the 10,000 test digits), got {n}"
        )


@functools.cache
def shuffled_test_digits() -> Tensor:
    """The 10,000 held-out test digits (10000, 1, 28, 28) in one fixed random order (seed 0)."""
    test, _ = mnist_tensors(train=False, verbose=False)
    return test[torch.randperm(len(test), generator=torch.Generator().manual_seed(0))]


@functools.cache
def real_vs_real(n: int, classifier: nn.Module, pairs: int = 5) -> dict:
    """Frechet distance between disjoint sets of n shuffled test digits: blocks 2k and 2k + 1 for
    up to `pairs` pairs. Returns their median, low, high and the number of pairs."""
    check_sample_count(n)
    test = shuffled_test_digits()
    pairs = min(pairs, len(test) // (2 * n))
    blocks = test[: 2 * pairs * n].split(n)
    fd = sorted(
        frechet_distance(a, b, classifier) for a, b in zip(blocks[::2], blocks[1::2], strict=True)
    )
    return {
        "frechet_real_median": round(statistics.median(fd), 3),
        "frechet_real_low": round(fd[0], 3),
        "frechet_real_high": round(fd[-1], 3),
        "real_pairs": pairs,
    }


def report(samples: Tensor, labels: Tensor | None, classifier: nn.Module) -> dict:
    """Quality of digits (N, 1, 28, 28) in [0, 1] meant to show `labels` (N,) (None: any digit).

    Returns n, accuracy (share classified as the requested label), mean_confidence (mean max
    probability), frechet (to the first N shuffled test digits) and real_vs_real(N)'s baseline,
    and two statistics no classifier can flatter: ink (mean pixel value; ink_real, the same N
    test digits') and class_share (share of samples read as each digit 0-9; real: 0.09-0.11).
    """
    n = len(samples)
    predicted, confidence = classify(samples, classifier)
    reference = shuffled_test_digits()[:n]
    result = {
        "n": n,
        "mean_confidence": round(confidence.mean().item(), 4),
        "frechet": round(frechet_distance(samples, reference, classifier), 3),
        "ink": round(samples.float().clamp(0, 1).mean().item(), 4),
        "ink_real": round(reference.mean().item(), 4),
        "class_share": [round(s, 4) for s in (predicted.bincount(minlength=10) / n).tolist()],
    } | real_vs_real(n, classifier)
    if labels is not None:
        result["accuracy"] = round((predicted == labels.to(predicted)).float().mean().item(), 4)
    return result


def real_text(result: dict) -> str:
    """'real vs real 13.4 (10.1-16.2 over 5 pairs) at n = 1000' from a `report`."""
    return (
        f"real vs real {result['frechet_real_median']:.1f} ({result['frechet_real_low']:.1f}-"
        f"{result['frechet_real_high']:.1f} over {result['real_pairs']} pairs) at n = {result['n']}"
    )


def frechet_text(result: dict) -> str:
    """'Frechet 41.3, real vs real 13.4 (10.1-16.2 over 5 pairs) at n = 1000'."""
    return f"Frechet {result['frechet']:.1f}, {real_text(result)}"


def quality_text(result: dict) -> str:
    """'Frechet 6.3, real vs real 3.8 (3.6-4.0 over 2 pairs) at n = 2500, 97% read, ink 0.127'."""
    return f"{frechet_text(result)}, {100 * result['accuracy']:.0f}% read, ink {result['ink']:.3f}"


def read_rates(readings: dict[str, tuple[Tensor, int]], classifier: nn.Module) -> dict:
    """How often images read as the digit they should: for each name, (images (N, 1, 28, 28) in
    [-1, 1], digit). Returns each name's share of images the classifier reads as its digit, and
    "all": the share of the N samples whose every reading is right (images share the sample
    order), the success rate of an anagram (upright and turned) or a hybrid (up close and afar).
    """
    right = [
        classify((images + 1) / 2, classifier)[0] == digit for images, digit in readings.values()
    ]
    rates = {name: ok.float().mean().item() for name, ok in zip(readings, right, strict=True)}
    return rates | {"all": torch.stack(right).all(0).float().mean().item()}


def real_digits(digit: int, n: int = 500) -> Tensor:
    """The first n held-out test images of a digit, (n, 1, 28, 28) in [-1, 1] (part A's range)."""
    test, labels = mnist_tensors(train=False, verbose=False)
    return test[labels == digit][:n] * 2 - 1


def anagram_rates(x: Tensor, digit_1: int, digit_2: int, view, classifier: nn.Module) -> dict:
    """Shares of anagrams x (N, 1, 28, 28) in [-1, 1] that read as digit_1 (upright), as digit_2
    once turned by view, and both ("all"); "real": the share of real digit_1 images that already
    read as digit_2 turned, what the view gives for free."""
    rates = read_rates({"upright": (x, digit_1), "turned": (view(x), digit_2)}, classifier)
    free = read_rates({"real": (view(real_digits(digit_1)), digit_2)}, classifier)["real"]
    return rates | {"real": free}


def ideal_hybrids(low: int, high: int, lowpass) -> Tensor:
    """lowpass(real low digit) + highpass(real high digit), held-out digits paired in order:
    what a perfect hybrid of two real digits looks like, (n, 1, 28, 28) in [-1, 1]."""
    real_low, real_high = real_digits(low), real_digits(high)
    n = min(len(real_low), len(real_high))
    return lowpass(real_low[:n]) + real_high[:n] - lowpass(real_high[:n])


def hybrid_rates(x: Tensor, low: int, high: int, lowpass, classifier: nn.Module) -> dict:
    """Shares of hybrids x (N, 1, 28, 28) in [-1, 1] that read as `low` from afar (through
    lowpass), as `high` up close (the whole image), and both ("all")."""
    return read_rates({"afar": (lowpass(x), low), "close": (x, high)}, classifier)


def balanced_labels(n: int) -> Tensor:
    """n labels cycling through the ten digits: 0, 1, ..., 9, 0, 1, ... (N,)."""
    return torch.arange(n) % 10


def edge_sharpness(images: Tensor) -> float:
    """Mean gradient magnitude of digits (N, 1, 28, 28) in [0, 1]: crisp strokes give steep
    edges, washed-out or blurred digits shallow ones. Compare with real digits' value."""
    images = images.float().clamp(0, 1)
    dx = images[..., :, 1:] - images[..., :, :-1]  # (N, 1, 28, 27)
    dy = images[..., 1:, :] - images[..., :-1, :]  # (N, 1, 27, 28)
    return ((dx[..., :-1, :] ** 2 + dy[..., :, :-1] ** 2).sqrt().mean()).item()


def sampler_quality(
    model: nn.Module,
    config: TrainConfig,
    steps: int,
    eta: float,
    n: int,
    classifier: nn.Module,
    gamma: float = 1.0,
    seed: int = 0,
    second_order: bool = False,
) -> dict:
    """`report` on n samples (equally many of each digit) from a part B model with `steps`
    trailing timesteps and noise level eta (1 = DDPM, 0 = DDIM; second_order: DPM-Solver++(2M)
    instead), plus seconds_per_64: the wall time of the sampling, scaled to 64 samples."""
    check_sample_count(n)
    labels = balanced_labels(n)
    timesteps = sampling.ddim_timesteps(config.T, steps, "trailing")
    start = time.perf_counter()
    digits, _ = sampling.sample_digits(
        model,
        config,
        labels,
        timesteps,
        eta=eta,
        gamma=gamma,
        seed=seed,
        progress=False,
        second_order=second_order,
    )
    seconds = time.perf_counter() - start
    return report(digits, labels, classifier) | {"seconds_per_64": seconds * 64 / n}


def flow_quality(
    model: nn.Module,
    steps: int,
    n: int,
    classifier: nn.Module,
    gamma: float = 1.0,
    seed: int = 0,
    eta: float | None = None,
) -> dict:
    """`sampler_quality` for a class-conditioned flow model: n samples with `steps` Euler steps
    (eta None) or DDPM's loop on the flow's path with that eta (`flow.flow_digits`)."""
    check_sample_count(n)
    labels = balanced_labels(n)
    start = time.perf_counter()
    digits = flow.flow_digits(
        model, "flow_class", labels, steps, gamma, seed=seed, progress=False, eta=eta
    )
    seconds = time.perf_counter() - start
    return report(digits, labels, classifier) | {"seconds_per_64": seconds * 64 / n}


def noisy_test_digits(sigma: float, n: int, seed: int = 0) -> tuple[Tensor, Tensor]:
    """The first n held-out test digits x (n, 1, 28, 28) in [0, 1] and z = x + sigma eps, with eps
    drawn from seed: the same pairs for every model and epoch, so results can be compared."""
    x, _ = mnist_tensors(train=False, verbose=False)
    x = x[:n]
    eps = torch.randn(x.shape, generator=torch.Generator().manual_seed(seed))
    return x, x + sigma * eps


@torch.no_grad()
def denoise(model: nn.Module, z: Tensor, batch: int = 500) -> Tensor:
    """A single-step denoiser's estimates D(z) of noisy digits z (N, 1, 28, 28), in float32."""
    return torch.cat([model(z[i : i + batch]).float() for i in range(0, len(z), batch)])


def denoiser_mse(model: nn.Module, sigma: float, n: int = 1000, seed: int = 0) -> float:
    """Mean squared error of D(x + sigma eps) against x on the first n test digits."""
    x, z = noisy_test_digits(sigma, n, seed)
    return (denoise(model, z) - x).pow(2).mean().item()
