"""Train one of the kit's recipes on the bundled MNIST, resuming if the output folder has a run.

    python tools/train.py class                 # course recipe, checkpoints in runs/class/
    python tools/train.py time --epochs 2       # cut to 2 epochs, in runs/time_2ep/
    python tools/train.py time --out runs/try
runs/ is the repository root's, the folder the notebooks' RETRAIN path uses too. Checkpoints
are written after every epoch and every two minutes; Ctrl-C saves and stops, and the same
command resumes there (a killed run resumes from its last checkpoint).
"""

import argparse
import dataclasses

import torch

from helpers.data import mnist_tensors
from helpers.training import RECIPES, TrainingInterrupted, reflow_data, run_dir, train


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("recipe", choices=sorted(RECIPES))
    parser.add_argument("--out", help="checkpoint folder (default: runs/<recipe>[_<E>ep])")
    parser.add_argument("--epochs", type=int, help="cut the recipe to this many epochs")
    parser.add_argument("--save-every", type=float, default=120, help="seconds (default 120)")
    parser.add_argument("--device", help="cuda, mps or cpu (default: the fastest available)")
    parser.add_argument("--threads", type=int, help="CPU threads for torch")
    args = parser.parse_args()
    for flag, value in (("--epochs", args.epochs), ("--threads", args.threads)):
        if value is not None and value < 1:
            parser.error(f"{flag} must be at least 1, got {value}")
    if args.threads:
        torch.set_num_threads(args.threads)
    config = RECIPES[args.recipe]
    if args.epochs is not None:
        config = dataclasses.replace(config, epochs=args.epochs)
    out = args.out or run_dir(args.recipe, config.epochs)
    print(f"recipe {args.recipe}: {config}, checkpoints in {out}")
    if config.reflow_from:  # pairs of noise and the model's samples, made on the first run
        images, labels = reflow_data(config, out)
    else:
        images, labels = mnist_tensors(train=True)
    try:
        train(config, images, labels, out, args.device, save_every=args.save_every)
    except TrainingInterrupted as stop:
        raise SystemExit(f"\n{stop}") from None


if __name__ == "__main__":
    main()
