"""Training: the loss falls, checkpoints resume exactly, sampling loops run on trained models."""

import json

import pytest
import torch

import helpers
from helpers import sampling, training

TINY = dict(num_hiddens=8, batch_size=32, epochs=3, lr=3e-3)


def _data(n=256):
    g = torch.Generator().manual_seed(0)
    return torch.rand(n, 1, 28, 28, generator=g), torch.randint(0, 10, (n,), generator=g)


class Interrupt(Exception):
    pass


@pytest.mark.parametrize("model", ["denoiser", "time", "class"])
def test_killed_mid_epoch_and_resumed_matches_an_uninterrupted_run(model, tmp_path):
    config = training.TrainConfig(model, **TINY)
    images, labels = _data()
    _, reference = training.train(config, images, labels, tmp_path / "a", "cpu", progress=False)

    def kill(epoch, step, loss):
        if epoch == 1 and step == 3:
            raise Interrupt  # as if the process died in the middle of the second epoch

    with pytest.raises(Interrupt):
        training.train(config, images, labels, tmp_path / "b", "cpu", progress=False, on_step=kill)
    assert sorted(p.name for p in (tmp_path / "b").glob("*.json")) == ["epoch_001.json"]
    _, resumed = training.train(config, images, labels, tmp_path / "b", "cpu", progress=False)
    assert len(resumed) == len(reference) == 3 * 8
    torch.testing.assert_close(torch.tensor(resumed), torch.tensor(reference), rtol=0, atol=0)


def test_resume_refuses_a_folder_of_another_recipe(tmp_path):
    images, labels = _data(64)
    training.train(
        training.TrainConfig("time", **{**TINY, "epochs": 1}),
        images,
        labels,
        tmp_path,
        "cpu",
        False,
    )
    with pytest.raises(ValueError, match="another recipe"):
        training.train(
            training.TrainConfig("class", **{**TINY, "epochs": 1}),
            images,
            labels,
            tmp_path,
            "cpu",
            False,
        )


def test_the_loss_falls_and_the_history_is_saved(tmp_path):
    config = training.TrainConfig("time", **{**TINY, "epochs": 4})
    _, history = training.train(config, *_data(), tmp_path, "cpu", progress=False)
    first, last = sum(history[:4]) / 4, sum(history[-4:]) / 4
    assert last < 0.8 * first, (first, last)
    assert json.loads((tmp_path / "epoch_004.json").read_text())["loss_history"] == history


def test_sampling_loops_run_on_time_and_class_models():
    abar = helpers.alphas_cumprod(helpers.linear_betas(300))
    timesteps = [299, 200, 100, 0]
    g = torch.Generator().manual_seed(0)
    x_T = torch.randn(4, 1, 28, 28, generator=g)
    time_model = helpers.unet.TimeConditionalUNet(1, 8).eval()
    x0, frames = sampling.sample(
        sampling.time_eps_model(time_model, 300),
        x_T,
        timesteps,
        abar,
        generator=g,
        frames_every=1,
        progress=False,
    )
    assert x0.shape == x_T.shape and len(frames) == 4 and bool(x0.isfinite().all())
    class_model = helpers.unet.ClassConditionalUNet(1, 10, 8).eval()
    c = torch.tensor([0, 1, 2, 3])
    x0_a, _ = sampling.sample(
        sampling.class_eps_model(class_model, 300, c, 5.0),
        x_T,
        timesteps,
        abar,
        eta=0.0,
        progress=False,
    )
    x0_b, _ = sampling.sample(
        sampling.class_eps_model(class_model, 300, c, 5.0),
        x_T,
        timesteps,
        abar,
        eta=0.0,
        progress=False,
    )
    torch.testing.assert_close(x0_a, x0_b)  # eta = 0 is deterministic


def test_batched_guidance_equals_two_separate_passes():
    model = helpers.unet.ClassConditionalUNet(1, 10, 8).eval()
    x_t, c = torch.rand(3, 1, 28, 28), torch.tensor([4, 5, 6])
    t_in = torch.full((3,), 100 / 300)
    eps_cond = model(x_t, c, t_in, torch.ones(3))
    eps_uncond = model(x_t, c, t_in, torch.zeros(3))
    with torch.no_grad():
        batched = sampling.class_eps_model(model, 300, c, 5.0)(x_t, 100)
    torch.testing.assert_close(
        batched, helpers.cfg(eps_cond, eps_uncond, 5.0).detach(), rtol=1e-4, atol=1e-5
    )
