"""The bundled MNIST: hashes, counts, label balance and value range, loaded via torchvision."""

import hashlib

import pytest
import torch

import helpers
from helpers import data

# Class counts of the canonical MNIST split (LeCun et al.), digits 0..9.
TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_bundled_files_match_their_recorded_hashes():
    sums = data._read_sums(data.ASSETS_MNIST / "SHA256SUMS")
    assert sorted(sums) == sorted(f"{name}.gz" for name in data.FILES)
    for name, digest in sums.items():
        assert hashlib.sha256((data.ASSETS_MNIST / name).read_bytes()).hexdigest() == digest


@pytest.mark.parametrize("train, counts", [(True, TRAIN_COUNTS), (False, TEST_COUNTS)])
def test_splits_have_the_canonical_counts_and_range(train, counts, tmp_path, capsys):
    images, labels = helpers.mnist_tensors(train, root=tmp_path)
    assert "bundled copy" in capsys.readouterr().out  # which data is in use is printed
    assert images.shape == (sum(counts), 1, 28, 28) and images.dtype == torch.float32
    assert images.min() == 0 and images.max() == 1
    assert torch.bincount(labels, minlength=10).tolist() == counts


def test_dataset_items_are_tensors_in_unit_range(tmp_path):
    image, label = helpers.load_mnist(False, root=tmp_path, verbose=False)[0]
    assert image.shape == (1, 28, 28) and 0 <= image.min() and image.max() <= 1
    assert label == 7  # the first test digit of MNIST is a 7


def test_a_corrupt_unpacked_file_is_replaced(tmp_path):
    raw = data.unpack_bundled_mnist(tmp_path)
    (raw / "t10k-labels-idx1-ubyte").write_bytes(b"garbage")
    data.unpack_bundled_mnist(tmp_path)
    _, labels = helpers.mnist_tensors(False, root=tmp_path, verbose=False)
    assert len(labels) == 10_000


def test_a_corrupt_bundle_is_refused_with_a_repair_hint(tmp_path, monkeypatch):
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    for name in ["SHA256SUMS", "SHA256SUMS.raw"] + [f"{n}.gz" for n in data.FILES]:
        (bundle / name).write_bytes((data.ASSETS_MNIST / name).read_bytes())
    (bundle / "t10k-images-idx3-ubyte.gz").write_bytes(b"not gzip")
    monkeypatch.setattr(data, "ASSETS_MNIST", bundle)
    with pytest.raises(RuntimeError, match="fetch.sh"):
        data.unpack_bundled_mnist(tmp_path / "root")


def test_download_needs_a_root_of_its_own():
    with pytest.raises(ValueError, match="root"):
        helpers.load_mnist(download=True)
