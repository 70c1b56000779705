"""The offline quality metric: the shipped classifier and the Frechet distance on its features."""

import json

import pytest
import torch

import helpers
from helpers.checkpoints import load_checkpoint
from helpers.classifier import classify, frechet_distance


@pytest.fixture(scope="module")
def classifier():
    return load_checkpoint("digit_classifier")


@pytest.fixture(scope="module")
def test_digits():
    return helpers.mnist_tensors(train=False, verbose=False)


def test_the_shipped_classifier_reaches_99_percent_on_the_test_digits(classifier, test_digits):
    images, labels = test_digits
    predicted, confidence = classify(images, classifier)
    accuracy = (predicted == labels).float().mean().item()
    assert accuracy >= 0.99
    assert accuracy == pytest.approx(classifier.manifest["metrics"]["test_accuracy"], abs=1e-3)
    assert confidence.min() > 0.1 and confidence.max() <= 1


def test_frechet_distance_separates_digits_from_noise_and_blur(classifier, test_digits):
    images, _ = test_digits
    train, _ = helpers.mnist_tensors(train=True, verbose=False)
    real_vs_real = frechet_distance(images[:500], train[:500], classifier)
    noise = torch.rand(500, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    blurred = helpers.gaussian_blur_denoise(images[:500], 9, 3.0)
    assert real_vs_real < frechet_distance(blurred, train[:500], classifier)
    assert 10 * real_vs_real < frechet_distance(noise, train[:500], classifier)
    same = frechet_distance(images[:500], images[:500], classifier)
    assert same == pytest.approx(0, abs=1e-3)


def test_edge_sharpness_falls_when_digits_are_blurred_or_faded(test_digits):
    from helpers.evaluation import edge_sharpness

    images = test_digits[0][:200]
    sharp = edge_sharpness(images)
    assert edge_sharpness(helpers.gaussian_blur_denoise(images, 5, 1.5)) < 0.7 * sharp
    assert edge_sharpness(0.5 * images) == pytest.approx(0.5 * sharp, rel=1e-5)
    assert edge_sharpness(torch.zeros(3, 1, 28, 28)) == 0


def test_real_vs_real_pairs_are_disjoint_shuffled_test_digits_with_a_narrow_range(
    classifier, test_digits
):
    from helpers.evaluation import real_vs_real, report, shuffled_test_digits

    shuffled = shuffled_test_digits()
    assert torch.equal(
        shuffled.sum((1, 2, 3)).sort().values, test_digits[0].sum((1, 2, 3)).sort().values
    )
    assert not torch.equal(shuffled[:500], test_digits[0][:500])
    spread = real_vs_real(500, classifier)
    assert spread["real_pairs"] == 5
    assert (
        spread["frechet_real_low"] <= spread["frechet_real_median"] <= spread["frechet_real_high"]
    )
    # in file order, blocks from the test file's two halves lie 4x further apart than within one
    assert spread["frechet_real_high"] < 2 * spread["frechet_real_low"]
    assert real_vs_real(4000, classifier)["real_pairs"] == 1
    for n in (0, 1, 6000):
        with pytest.raises(ValueError, match=rf"n must lie in \[2, 5000\] .* got {n}"):
            real_vs_real(n, classifier)
    # the reference for n samples is the first block of the first pair
    assert report(shuffled[:500], None, classifier)["frechet"] == pytest.approx(0, abs=1e-3)


def test_ink_and_class_share_catch_faint_digits_and_an_excess_of_ones(classifier, test_digits):
    from helpers.evaluation import report, shuffled_test_digits

    real = report(shuffled_test_digits()[500:1000], None, classifier)
    assert real["ink"] == pytest.approx(real["ink_real"], rel=0.05)
    assert sum(real["class_share"]) == pytest.approx(1, abs=1e-3)
    assert max(real["class_share"]) < 0.15
    images, labels = test_digits
    faint = report(0.5 * images[:500], None, classifier)
    assert faint["ink"] == pytest.approx(0.5 * images[:500].mean().item(), abs=1e-4)
    ones = torch.cat([images[labels == 1][:200], images[labels != 1][:300]])
    assert report(ones, None, classifier)["class_share"][1] >= 0.39


def test_the_second_judge_is_another_network_that_also_reads_digits(test_digits):
    from helpers.classifier import CheckClassifier

    check = load_checkpoint("digit_classifier_check")
    assert isinstance(check, CheckClassifier) and check.manifest["seed"] == 1
    images, labels = test_digits
    accuracy = (classify(images, check)[0] == labels).float().mean().item()
    assert accuracy >= 0.97
    assert accuracy == pytest.approx(check.manifest["metrics"]["test_accuracy"], abs=1e-3)


def test_the_bench_measures_every_sampler_in_one_run_with_the_real_band(tmp_path, monkeypatch):
    from tools import bench

    monkeypatch.setattr(bench, "EVALUATIONS", (1, 20, 300))
    rows = bench.samplers(10, 20, tmp_path)
    written = json.loads((tmp_path / "samplers_table.json").read_text())
    expected = {"DDPM-1", "DDPM-20", "flow-1", "flow, constant rate-20", "DDIM-20"}
    expected |= {"DPM-Solver++-20", "zero-SNR DDPM-300", "zero-SNR DPM-Solver++-10"}
    expected |= {"constant-rate flow DDPM-300", "constant-rate flow Euler-20"}
    assert expected <= set(written)
    n = {key: 20 if key.startswith(("zero-SNR", "constant-rate")) else 10 for key in written}
    assert all(r["n"] == n[key] and r["real_pairs"] == 5 for key, r in written.items())
    assert (tmp_path / "samplers.png").stat().st_size > 10_000
    assert len(rows) == len(written) and all("x its DDPM-300's" in r[2] for r in rows)
    # each model's rows are read against its own DDPM-300
    ratios = {name: ratio for name, _, ratio in rows}
    for model, sampler in (("zero-SNR", "DDIM-20"), ("constant-rate flow", "Euler-20")):
        ratio = written[f"{model} {sampler}"]["frechet"] / written[f"{model} DDPM-300"]["frechet"]
        assert ratios[f"sampling, {model} {sampler}"].startswith(f"FD {ratio:.2f}x")


@pytest.mark.parametrize("flag", ["--samples", "--zero-snr-samples"])
def test_the_bench_refuses_a_sample_count_it_cannot_judge_before_measuring(
    flag, monkeypatch, capsys
):
    import sys

    from tools import bench

    monkeypatch.setattr(sys, "argv", ["bench.py", flag, "6000"])
    with pytest.raises(SystemExit) as stopped:
        bench.main()
    assert stopped.value.code == 2
    assert f"{flag} must lie in [2, 5000]" in capsys.readouterr().err
