"""Train one of the kit's recipes on the bundled MNIST, resuming if the output folder has a run.

    python tools/train.py class                 # course recipe, checkpoints in runs/class/
    python tools/train.py time --epochs 2 --out runs/try
Kill it at any time; the same command resumes after the last complete epoch.
"""

import argparse
import dataclasses

import torch

from helpers.data import mnist_tensors
from helpers.training import RECIPES, train


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("recipe", choices=sorted(RECIPES))
    parser.add_argument("--out", help="checkpoint folder (default: runs/<recipe>)")
    parser.add_argument("--epochs", type=int, help="override the recipe's epoch count")
    parser.add_argument("--device", help="cuda, mps or cpu (default: the fastest available)")
    parser.add_argument("--threads", type=int, help="CPU threads for torch")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    config = RECIPES[args.recipe]
    if args.epochs:
        config = dataclasses.replace(config, epochs=args.epochs)
    print(f"recipe {args.recipe}: {config}")
    images, labels = mnist_tensors(train=True)
    train(config, images, labels, args.out or f"runs/{args.recipe}", args.device)


if __name__ == "__main__":
    main()
