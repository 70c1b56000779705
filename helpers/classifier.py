"""An offline quality metric for MNIST samples: a small digit classifier the kit trains itself.

Inception FID needs weights from the web and means little on 28x28 digits. Instead, as peers
do for MNIST, the Frechet distance is taken on the penultimate features of an in-house
classifier (torchmetrics computes it). Such a number is only comparable at the same sample count
and extractor, so it is always reported next to the same distance between disjoint sets of real
held-out digits ("real vs real", helpers/evaluation.py). A second judge, CheckClassifier, has
another architecture (no convolutions) and seed, so that a claim does not rest on one network's
blind spots (tools/checkpoints.py judge).
"""

import torch
from torch import Tensor, nn


class DigitClassifier(nn.Module):
    """A small CNN: (B, 1, 28, 28) digits in [0, 1] -> (B, 10) logits; 128 penultimate features."""

    num_features = 128

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1),  # (B, 32, 28, 28)
            nn.ReLU(),
            nn.MaxPool2d(2),  # (B, 32, 14, 14)
            nn.Conv2d(32, 64, 3, padding=1),  # (B, 64, 14, 14)
            nn.ReLU(),
            nn.MaxPool2d(2),  # (B, 64, 7, 7)
            nn.Flatten(),
            nn.Linear(64 * 7 * 7, self.num_features),
            nn.ReLU(),  # (B, 128)
        )
        self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(self.num_features, 10))

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))


class CheckClassifier(nn.Module):
    """The second judge, a multilayer perceptron: (B, 1, 28, 28) -> (B, 10); 64 features."""

    num_features = 64

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Flatten(),  # (B, 784)
            nn.Linear(28 * 28, 256),
            nn.ReLU(),
            nn.Linear(256, self.num_features),
            nn.ReLU(),  # (B, 64)
        )
        self.head = nn.Sequential(nn.Dropout(0.2), nn.Linear(self.num_features, 10))

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))


class _Features(nn.Module):
    """The classifier's penultimate features, the shape torchmetrics expects of an extractor."""

    def __init__(self, classifier: nn.Module):
        super().__init__()
        self.classifier = classifier
        self.num_features = classifier.num_features

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier.features(x.float())


@torch.no_grad()
def frechet_distance(
    fake: Tensor, real: Tensor, classifier: nn.Module, batch_size: int = 500
) -> float:
    """Frechet distance of two sets of digits (N, 1, 28, 28) in [0, 1], on classifier features."""
    from torchmetrics.image.fid import FrechetInceptionDistance  # slow to import: only here

    metric = FrechetInceptionDistance(feature=_Features(classifier.eval()), normalize=True)
    for images, is_real in ((real, True), (fake, False)):
        for batch in images.split(batch_size):
            metric.update(batch.clamp(0, 1), real=is_real)
    return metric.compute().item()


@torch.no_grad()
def classify(images: Tensor, classifier: nn.Module, batch_size: int = 500) -> tuple[Tensor, Tensor]:
    """Predicted labels (N,) and their probabilities (N,) for digits (N, 1, 28, 28) in [0, 1]."""
    probs = torch.cat(
        [classifier.eval()(b.clamp(0, 1).float()).softmax(-1) for b in images.split(batch_size)]
    )
    confidence, labels = probs.max(-1)
    return labels, confidence


def train_classifier(
    images: Tensor,
    labels: Tensor,
    epochs: int = 4,
    seed: int = 0,
    progress: bool = True,
    architecture: type[nn.Module] = DigitClassifier,
) -> nn.Module:
    """Train a DigitClassifier (or CheckClassifier) with Adam (1e-3, batch 128) on digits
    (N, 1, 28, 28) in [0, 1]."""
    from tqdm import tqdm  # a text bar, as in helpers.sampling

    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    model = architecture()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(images), generator=g)
        for idx in tqdm(
            order.split(128), desc=f"classifier epoch {epoch + 1}", disable=not progress
        ):
            loss = nn.functional.cross_entropy(model(images[idx]), labels[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return model.eval()
