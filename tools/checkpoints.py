"""Make the shipped checkpoints in assets/checkpoints/, each with its manifest.

    python tools/checkpoints.py classifier          # the metric's digit classifier (minutes)
    python tools/checkpoints.py class --run runs/class --epochs 5 20
                                                    # export epochs of a training run (train.py)
Every manifest records the architecture, recipe, data, epochs and steps, seed, loss history,
metrics, the sha256 of the weights and the command that made it.
"""

import argparse
import platform
import sys

import torch

from helpers.checkpoints import CHECKPOINTS, export_checkpoint
from helpers.data import mnist_tensors
from helpers.metrics import classify, train_classifier

DATA = "MNIST, bundled (assets/mnist): 60,000 training digits; metrics on the 10,000 test digits"


def command() -> str:
    return "python " + " ".join(["tools/checkpoints.py", *sys.argv[1:]])


def make_classifier(epochs: int, seed: int) -> None:
    images, labels = mnist_tensors(train=True)
    test_images, test_labels = mnist_tensors(train=False)
    model = train_classifier(images, labels, epochs=epochs, seed=seed)
    predicted, _ = classify(test_images, model)
    accuracy = (predicted == test_labels).float().mean().item()
    print(f"test accuracy {accuracy:.4f}")
    path = export_checkpoint(
        model,
        {},
        CHECKPOINTS / "digit_classifier",
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


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="what", required=True)
    clf = sub.add_parser("classifier", help="train and export the metric's digit classifier")
    clf.add_argument("--epochs", type=int, default=5)
    clf.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.what == "classifier":
        make_classifier(args.epochs, args.seed)


if __name__ == "__main__":
    main()
