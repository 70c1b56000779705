"""MNIST, bundled with the kit and loaded through torchvision.datasets.MNIST.

The four original IDX files ship gzipped in assets/mnist/ (see assets/mnist/README.md). On first
use they are verified against assets/mnist/SHA256SUMS and unpacked into the folder layout
torchvision expects (<root>/MNIST/raw/). A user with network may instead pass download=True and
a root of their own, and torchvision fetches the files itself.
"""

import gzip
import hashlib
import os
import shutil
from pathlib import Path

from torch import Tensor
from torchvision import datasets, transforms

REPO = Path(__file__).resolve().parent.parent
ASSETS_MNIST = REPO / "assets" / "mnist"
DEFAULT_ROOT = REPO / "data"
FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_sums(path: Path) -> dict[str, str]:
    """Parse a `sha256sum` listing into {file name: hex digest}."""
    lines = path.read_text().split("\n")
    return {name: digest for digest, name in (line.split() for line in lines if line.strip())}


def unpack_bundled_mnist(root: str | os.PathLike | None = None) -> Path:
    """Verify the bundled gzipped IDX files and unpack them into <root>/MNIST/raw/.

    Files already unpacked are checked against their hashes and kept when they match. Returns the
    raw folder. Raises RuntimeError, saying how to repair, when a file is missing or corrupt.
    """
    raw = Path(root or os.environ.get("KIT_DATA", DEFAULT_ROOT)) / "MNIST" / "raw"
    gz_sums = _read_sums(ASSETS_MNIST / "SHA256SUMS")
    raw_sums = _read_sums(ASSETS_MNIST / "SHA256SUMS.raw")
    raw.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        target = raw / name
        if target.exists() and _sha256(target) == raw_sums[name]:
            continue
        source = ASSETS_MNIST / f"{name}.gz"
        if not source.exists() or _sha256(source) != gz_sums[f"{name}.gz"]:
            raise RuntimeError(
                f"{source} is missing or does not match assets/mnist/SHA256SUMS; restore it with"
                " `git checkout -- assets/mnist` or re-create it with `bash assets/mnist/fetch.sh`"
            )
        partial = target.with_suffix(".partial")
        with gzip.open(source, "rb") as f_in, open(partial, "wb") as f_out:
            shutil.copyfileobj(f_in, f_out)
        if _sha256(partial) != raw_sums[name]:
            raise RuntimeError(f"unpacking {source} gave a file that does not match its hash")
        partial.replace(target)
    return raw


def load_mnist(
    train: bool = True,
    root: str | os.PathLike | None = None,
    download: bool = False,
    transform=None,
    verbose: bool = True,
) -> datasets.MNIST:
    """MNIST as a torchvision dataset of (image (1, 28, 28) in [0, 1], label) pairs.

    train: the 60,000 training digits, else the 10,000 test digits. By default the bundled copy
    is unpacked under `root` (default: data/ in the kit, or $KIT_DATA). download=True lets
    torchvision fetch the original files into `root` instead (needs network). Prints which data
    is in use.
    """
    if download:
        if root is None:
            raise ValueError("download=True needs a root folder of your own to download into")
        source = "downloaded by torchvision"
    else:
        root = unpack_bundled_mnist(root).parent.parent
        source = "bundled copy (assets/mnist, verified by sha256)"
    dataset = datasets.MNIST(
        root, train=train, download=download, transform=transform or transforms.ToTensor()
    )
    if verbose:
        split = "train" if train else "test"
        print(f"MNIST {split}: {len(dataset):,} digits, {source}, at {Path(root).resolve()}")
    return dataset


def mnist_tensors(train: bool = True, **kwargs) -> tuple[Tensor, Tensor]:
    """All of one MNIST split as tensors: images (N, 1, 28, 28) float32 in [0, 1], labels (N,)."""
    dataset = load_mnist(train, **kwargs)
    images = dataset.data.unsqueeze(1).float() / 255  # (N, 1, 28, 28)
    return images, dataset.targets.clone()
