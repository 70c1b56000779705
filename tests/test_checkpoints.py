"""Checkpoints: a half-precision round trip, and clear errors for every way a file goes bad."""

import json

import pytest
import torch

from helpers import checkpoints
from helpers.data import mnist_tensors
from helpers.pretrained import PretrainedClassUNet
from helpers.unet import ClassConditionalUNet, TimeConditionalUNet


@pytest.fixture
def saved(tmp_path):
    torch.manual_seed(0)
    model = ClassConditionalUNet(1, 10, 8).eval()
    path = checkpoints.export_checkpoint(
        model, {"num_hiddens": 8}, tmp_path / "tiny", seed=0, epochs=1
    )
    return model, path


def test_round_trip_keeps_the_model_to_half_precision(saved):
    model, path = saved
    loaded = checkpoints.load_checkpoint(path)
    assert loaded.manifest["seed"] == 0 and loaded.manifest["dtype"] == "float16"
    x, c, t = torch.rand(2, 1, 28, 28), torch.tensor([3, 4]), torch.rand(2)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x, c, t), model(x, c, t), rtol=0.02, atol=0.02)


def test_a_changed_file_is_refused(saved):
    _, path = saved
    data = bytearray(path.read_bytes())
    data[-1] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="does not match the sha256"):
        checkpoints.load_checkpoint(path)


def test_a_corrupt_file_with_a_matching_hash_is_refused(saved):
    _, path = saved
    path.write_bytes(b"not a safetensors file")
    manifest = json.loads(path.with_suffix(".json").read_text())
    manifest["sha256"] = checkpoints._sha256(path)
    path.with_suffix(".json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match="not a readable safetensors"):
        checkpoints.load_checkpoint(path)


def test_a_mismatched_architecture_is_refused(saved):
    _, path = saved
    manifest = json.loads(path.with_suffix(".json").read_text())
    manifest["kwargs"] = {"num_hiddens": 16}
    path.with_suffix(".json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match="does not fit"):
        checkpoints.load_checkpoint(path)


def test_missing_checkpoints_and_manifests_are_named(saved):
    _, path = saved
    with pytest.raises(ValueError, match="shipped ones"):
        checkpoints.load_checkpoint("no-such-model")
    path.with_suffix(".json").unlink()
    with pytest.raises(ValueError, match="manifest"):
        checkpoints.load_checkpoint(path)


def test_course_models_come_from_the_shipped_checkpoints():
    from helpers.checkpoints import course_models, latest_epoch

    epoch = latest_epoch("class")
    models, config, history = course_models("class", [epoch])
    assert config.model == "class" and config.T == 300
    assert isinstance(models[epoch], PretrainedClassUNet) and not models[epoch].training
    assert len(history) == epoch * 469  # one loss per batch of 128 over 60,000 digits
    with pytest.raises(ValueError, match="no checkpoint .*denoiser_epoch99"):
        course_models("denoiser", [99])


def test_the_shipped_denoiser_reproduces_its_manifest():
    from helpers.checkpoints import latest_epoch
    from helpers.evaluation import denoise, denoiser_mse, noisy_test_digits

    epoch = latest_epoch("denoiser")
    model = checkpoints.load_checkpoint(checkpoints.checkpoint_name("denoiser", epoch))
    metrics = model.manifest["metrics"]
    sigma, recorded = metrics["sigma"], metrics["epochs"][str(epoch)]
    mse = denoiser_mse(model, sigma, metrics["test_digits"])
    assert mse == pytest.approx(recorded["test_mse"], rel=0.02)  # float16 weights, fp32 here
    assert mse < sigma**2 / 20  # far better than returning the noisy input
    _, z = noisy_test_digits(sigma, 8)
    panel = checkpoints.unpack_images(recorded["panel"])
    assert (denoise(model, z).clamp(0, 1) - panel).abs().max() < 0.02


def test_packed_images_come_back_to_8_bits():
    images = torch.rand(3, 1, 28, 28)
    packed = json.loads(json.dumps(checkpoints.pack_images(images)))  # as stored in a manifest
    back = checkpoints.unpack_images(packed)
    assert back.shape == images.shape
    assert (back - images).abs().max() <= 0.5 / 255 + 1e-6


def test_a_denoiser_export_records_every_epoch_on_the_panel(tmp_path, monkeypatch):
    from helpers import training
    from helpers.evaluation import denoise, noisy_test_digits
    from tools.checkpoints import export_run

    config = training.TrainConfig("denoiser", num_hiddens=4, batch_size=64, epochs=2, lr=3e-3)
    images, _ = mnist_tensors(train=True, verbose=False)
    training.train(config, images[:128], torch.zeros(128), tmp_path / "run", "cpu", False)
    argv = ["checkpoints.py", "export", "denoiser", "--run", str(tmp_path / "run"), "--epochs"]
    monkeypatch.setattr("sys.argv", [*argv, "2", "--samples", "16", "--out", str(tmp_path)])
    export_run("denoiser", tmp_path / "run", [2], n=16, out=tmp_path)
    model = checkpoints.load_checkpoint(tmp_path / "denoiser_epoch02.safetensors")
    assert model.manifest["command"] == (  # the machine's folders are left out
        "python tools/train.py denoiser && "
        "python tools/checkpoints.py export denoiser --epochs 2 --samples 16"
    )
    epochs = model.manifest["metrics"]["epochs"]
    assert sorted(epochs) == ["1", "2"] and epochs["2"]["test_mse"] < epochs["1"]["test_mse"]
    _, z = noisy_test_digits(config.sigma, 8)
    recorded = checkpoints.unpack_images(epochs["2"]["panel"])
    assert (recorded - denoise(model, z).clamp(0, 1)).abs().max() < 0.02  # float16 weights


def test_an_averaged_run_exports_the_average_and_measures_its_last_weights_too(tmp_path):
    from helpers import training
    from tools.checkpoints import export_run

    config = training.TrainConfig("class", num_hiddens=4, batch_size=32, epochs=1, T=20, ema=0.9)
    images, labels = mnist_tensors(train=True, verbose=False)
    training.train(config, images[:96], labels[:96], tmp_path / "run", "cpu", False)
    export_run("class", tmp_path / "run", [1], n=10, out=tmp_path)
    model = checkpoints.load_checkpoint(tmp_path / "class_ddpm_epoch01.safetensors")
    average, _ = training.load_run(tmp_path / "run", 1)
    for name, weight in average.state_dict().items():
        torch.testing.assert_close(model.state_dict()[name], weight, atol=1e-2, rtol=1e-2)
    metrics = model.manifest["metrics"]
    assert metrics["gamma_1"]["n"] == metrics["last_weights"]["n"] == 10
    assert metrics["gamma_1"]["frechet"] != metrics["last_weights"]["frechet"]
    # DDIM-20 against DDPM-20, for the average and for the last weights
    ddim, ddpm, last = metrics["ddim_20"], metrics["ddpm_20"], metrics["last_weights_ddim_20"]
    assert ddim["frechet"] != ddpm["frechet"] and ddim["frechet"] != last["frechet"]
    assert all(r["seconds_per_64"] > 0 for r in (ddim, ddpm, last))


def test_the_penalty_reads_ddim_against_ddpm_on_each_epoch_of_a_run(tmp_path, capsys):
    import re

    from helpers import training
    from helpers.evaluation import sampler_quality
    from tools.checkpoints import penalty

    config = training.TrainConfig("class", num_hiddens=4, batch_size=32, epochs=1, T=20, ema=0.9)
    images, labels = mnist_tensors(train=True, verbose=False)
    training.train(config, images[:96], labels[:96], tmp_path / "run", "cpu", False)
    penalty(tmp_path / "run", [1], 10)
    line = capsys.readouterr().out
    ddpm, ddim, ratio = map(
        float, re.findall(r"DDPM-20 Frechet ([\d.]+).*DDIM-20 ([\d.]+).*/ DDPM ([\d.]+)x", line)[0]
    )
    model, _ = training.load_run(tmp_path / "run", 1)
    deterministic = sampler_quality(
        model, config, 20, 0.0, 10, checkpoints.load_checkpoint("digit_classifier")
    )
    assert ddim == pytest.approx(deterministic["frechet"], rel=0.01)  # float16 rounding aside
    assert ddim != ddpm and ratio == pytest.approx(ddim / ddpm, abs=0.01)
    with pytest.raises(SystemExit, match=r"has no epoch 3; its saved epochs: \[1\]"):
        penalty(tmp_path / "run", [3], 10)


def test_measuring_again_rewrites_only_the_metrics(tmp_path):
    from dataclasses import asdict

    from helpers import training
    from tools.checkpoints import remeasure

    config = training.TrainConfig("time", num_hiddens=4, T=10)
    path = checkpoints.export_checkpoint(
        TimeConditionalUNet(1, 4),
        training.model_kwargs(config),
        tmp_path / "tiny",
        recipe=asdict(config),
        metrics={},
    )
    weights = path.read_bytes()
    remeasure(path, 10)
    again = checkpoints.load_checkpoint(path)  # the sha256 still matches the weights
    assert path.read_bytes() == weights
    metrics = again.manifest["metrics"]
    assert "10 steps" in metrics["sampler"] and 0.1 <= metrics["unguided"]["mean_confidence"] <= 1
    assert again.manifest["metrics_command"].startswith("python tools/checkpoints.py")


def test_shipped_checkpoints_keep_the_budget_and_each_has_a_measured_manifest():
    """assets/checkpoints holds half-precision weights under 80 MB in all, each beside a manifest
    that says how it was made and what it measured."""
    shipped = sorted(checkpoints.CHECKPOINTS.glob("*.safetensors"))
    assert sum(path.stat().st_size for path in shipped) < 80e6
    for path in shipped:
        manifest = json.loads(path.with_suffix(".json").read_text())
        assert manifest["dtype"] == "float16" and manifest["command"].startswith("python ")
        assert manifest["metrics"], f"{path.name}: no measured metrics"


def test_the_judge_reads_each_model_with_both_classifiers_beside_real_digits(tmp_path, capsys):
    from tools.checkpoints import judge

    judge(["flow_time_epoch10"], 10, tmp_path)
    result = json.loads((tmp_path / "judges.json").read_text())
    assert list(result) == ["test digits", "flow_time_epoch10"]
    for main, check in result.values():
        assert main["n"] == check["n"] == 10 and main["frechet"] != check["frechet"]
        assert main["ink_real"] == check["ink_real"] and len(main["class_share"]) == 10
    assert "flow_time_epoch10" in capsys.readouterr().out


@pytest.mark.parametrize(
    "what, words",
    [
        (["penalty", "runs/x", "--epochs", "10", "--samples", "0"], "--samples must lie in [2,"),
        (["measure", "class_ddpm_epoch05", "--samples", "6000"], "5000] (real vs real takes"),
        (["export", "class", "--epochs", "0", "20"], "--epochs must be at least 1, got [0, 20]"),
        (["classifier", "--epochs", "-1"], "--epochs must be at least 1, got -1"),
    ],
)
def test_the_tool_refuses_a_sample_count_or_epoch_it_cannot_use_before_any_work(
    what, words, monkeypatch, capsys
):
    import sys

    from tools.checkpoints import main

    monkeypatch.setattr(sys, "argv", ["checkpoints.py", *what])
    with pytest.raises(SystemExit) as stopped:
        main()
    assert stopped.value.code == 2 and words in capsys.readouterr().err


@pytest.mark.parametrize("what", [["measure", "class_ddpm_epoch2"], ["judge", "nope"]])
def test_the_tool_names_the_shipped_checkpoints_when_given_an_unknown_one(
    what, monkeypatch, capsys
):
    import sys

    from tools.checkpoints import main

    monkeypatch.setattr(sys, "argv", ["checkpoints.py", *what])
    with pytest.raises(SystemExit) as stopped:
        main()
    assert stopped.value.code == 2  # argparse's usage error, before anything is loaded
    assert f"no checkpoint {what[1]}; shipped ones: class_ddpm_epoch05" in capsys.readouterr().err
