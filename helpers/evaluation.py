"""Measuring samples: class accuracy, classifier confidence and Frechet distance, with baseline.

Every Frechet distance is reported next to the same distance between real training digits and
real held-out digits at the same sample count ("real vs real"), the floor it is judged against.
"""

import torch
from torch import Tensor, nn

from helpers.data import mnist_tensors
from helpers.metrics import classify, frechet_distance


def report(samples: Tensor, labels: Tensor | None, classifier: nn.Module) -> dict:
    """Quality of digits (N, 1, 28, 28) in [0, 1] meant to show `labels` (N,) (None: any digit).

    Returns accuracy (share classified as the requested label), mean_confidence (mean max
    probability), frechet (to N held-out test digits) and frechet_real_vs_real (N training
    digits to the same N test digits), and n.
    """
    n = len(samples)
    train, _ = mnist_tensors(train=True, verbose=False)
    test, _ = mnist_tensors(train=False, verbose=False)
    predicted, confidence = classify(samples, classifier)
    result = {
        "n": n,
        "mean_confidence": round(confidence.mean().item(), 4),
        "frechet": round(frechet_distance(samples, test[:n], classifier), 3),
        "frechet_real_vs_real": round(frechet_distance(train[:n], test[:n], classifier), 3),
    }
    if labels is not None:
        result["accuracy"] = round((predicted == labels.to(predicted)).float().mean().item(), 4)
    return result


def balanced_labels(n: int) -> Tensor:
    """n labels cycling through the ten digits: 0, 1, ..., 9, 0, 1, ... (N,)."""
    return torch.arange(n) % 10
