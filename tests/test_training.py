"""Training: the loss falls, checkpoints resume exactly, sampling loops run on trained models."""

import json
import os
import re
import signal
import subprocess
from pathlib import Path

import pytest
import torch

import helpers
from helpers import sampling, training

REPO = Path(__file__).resolve().parent.parent
TINY = dict(num_hiddens=8, batch_size=32, epochs=3, lr=3e-3)


def _data(n=256):
    g = torch.Generator().manual_seed(0)
    return torch.rand(n, 1, 28, 28, generator=g), torch.randint(0, 10, (n,), generator=g)


class Killed(Exception):
    pass


def die():
    raise Killed  # as if the process died


def kill_at(epoch, step, action=die):
    """An on_step callback that calls `action()` after the given step."""

    def on_step(e, s, loss):
        if (e, s) == (epoch, step):
            action()

    return on_step


@pytest.mark.parametrize(
    "model", ["denoiser", "time", "class", "flow_time", "flow_class", "noise_denoiser"]
)
def test_killed_mid_epoch_and_resumed_matches_an_uninterrupted_run(model, tmp_path):
    config = training.TrainConfig(model, **TINY)
    images, labels = _data()
    _, reference = training.train(config, images, labels, tmp_path / "a", "cpu", progress=False)
    with pytest.raises(Killed):  # as if the process died in the middle of the second epoch
        training.train(
            config,
            images,
            labels,
            tmp_path / "b",
            "cpu",
            progress=False,
            on_step=kill_at(1, 3),
            save_every=float("inf"),  # no mid-epoch checkpoint: resumes after epoch 1
        )
    assert sorted(p.name for p in (tmp_path / "b").glob("*.json")) == ["epoch_001.json"]
    _, resumed = training.train(config, images, labels, tmp_path / "b", "cpu", progress=False)
    assert len(resumed) == len(reference) == 3 * 8
    torch.testing.assert_close(torch.tensor(resumed), torch.tensor(reference), rtol=0, atol=0)


def interrupt():
    os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C, or a notebook's stop button


def test_an_interrupt_saves_mid_epoch_and_resumes_to_the_same_losses(tmp_path, capsys):
    # Exactly equal (atol = 0), not to a tolerance: the resumed run repeats the same CPU
    # operations on the same batches from a state restored bit for bit (model, Adam moments,
    # learning-rate schedule, RNG states, the epoch's data order and position).
    config = training.TrainConfig("class", **TINY)  # the most randomness: class dropout too
    images, labels = _data()
    _, reference = training.train(config, images, labels, tmp_path / "a", "cpu", progress=False)
    with pytest.raises(training.TrainingInterrupted) as stop:
        training.train(
            config,
            images,
            labels,
            tmp_path / "b",
            "cpu",
            progress=False,
            on_step=kill_at(1, 3, interrupt),
        )
    message = stop.value._render_traceback_()  # what a notebook shows: one line, no traceback
    assert message == [
        f"Interrupted: saved {tmp_path / 'b' / 'epoch_001_step_000004'} (epoch 2 of 3, step 4 of"
        " 8). Run the same cell or command again to resume there."
    ]
    names = sorted(p.name for p in (tmp_path / "b").iterdir())
    assert names == [
        f"epoch_001{s}.{x}" for s in ("", "_step_000004") for x in ("json", "safetensors")
    ]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handed back
    _, resumed = training.train(config, images, labels, tmp_path / "b", "cpu", progress=False)
    assert "resuming" in capsys.readouterr().out
    assert len(resumed) == len(reference) == 3 * 8
    torch.testing.assert_close(torch.tensor(resumed), torch.tensor(reference), rtol=0, atol=0)
    assert not list((tmp_path / "b").glob("*_step_*"))  # superseded by the epoch checkpoints


def test_checkpoints_every_few_seconds_keep_the_newest_and_a_kill_resumes_there(tmp_path):
    config = training.TrainConfig("time", **TINY)
    images, labels = _data()
    _, reference = training.train(config, images, labels, tmp_path / "a", "cpu", progress=False)
    with pytest.raises(Killed):
        training.train(
            config,
            images,
            labels,
            tmp_path / "b",
            "cpu",
            progress=False,
            on_step=kill_at(2, 5),
            save_every=0,  # after every step
        )
    names = sorted(p.name for p in (tmp_path / "b").glob("*.json"))
    assert names == ["epoch_001.json", "epoch_002.json", "epoch_002_step_000005.json"]
    _, resumed = training.train(config, images, labels, tmp_path / "b", "cpu", progress=False)
    torch.testing.assert_close(torch.tensor(resumed), torch.tensor(reference), rtol=0, atol=0)


def test_progress_is_a_plain_text_line_with_an_estimate_first(tmp_path, capsys):
    config = training.TrainConfig("time", **{**TINY, "epochs": 2})
    training.train(config, *_data(), tmp_path, "cpu")
    out = capsys.readouterr().out
    estimate = re.search(r"\rabout \d+ (s|min) for 2 epochs here \(.* s a step, 16 steps\)", out)
    assert estimate, out  # after the first 10 steps: 2 left out, 8 timed
    assert re.search(r"\repoch 2/2 step 8/8 loss \d\.\d{4}.*\n$", out), out


def test_runs_go_to_the_git_ignored_runs_folder_at_the_root():
    assert training.run_dir("class") == REPO / "runs" / "class"
    assert training.run_dir("time", 2) == REPO / "runs" / "time_2ep"
    ignored = subprocess.run(["git", "check-ignore", "-q", "runs/class/x"], cwd=REPO)
    assert ignored.returncode == 0


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


def test_the_zero_terminal_snr_schedule_ends_at_pure_noise_and_keeps_its_start():
    from helpers.schedule import linear_betas, zero_terminal_snr

    linear = helpers.alphas_cumprod(linear_betas(300))
    rescaled = helpers.alphas_cumprod(zero_terminal_snr(linear_betas(300)))
    assert linear[-1] > 0.04 and rescaled[-1] == pytest.approx(1e-6, rel=1e-3)
    assert rescaled[0] == pytest.approx(linear[0].item(), rel=1e-6)
    assert (rescaled[1:] < rescaled[:-1]).all() and (rescaled <= linear + 1e-7).all()


def test_v_prediction_turns_into_the_right_noise_estimate():
    """A network that returns the true v gives back the true eps through the sampling adapter,
    and its v_loss is zero: the loss and the adapter use the same v."""
    from helpers import losses, sampling

    config = training.RECIPES["class_zero_snr"]
    abar = helpers.alphas_cumprod(config.betas())
    g = torch.Generator().manual_seed(0)
    x0, eps = torch.rand(4, 1, 28, 28, generator=g), torch.randn(4, 1, 28, 28, generator=g)
    t = 250
    x_t = helpers.forward(x0, t, abar, eps)

    def true_v(x, c, t_in, mask):  # the class UNet's signature
        return abar[t].sqrt() * eps - (1 - abar[t]).sqrt() * x0

    true_v.num_classes = 10
    estimate = sampling.eps_model(
        true_v, config.T, torch.zeros(4, dtype=torch.long), 1.0, abar, "v"
    )
    torch.testing.assert_close(estimate(x_t, t), eps, atol=1e-5, rtol=0)
    tt = torch.full((4,), t)
    mask = torch.ones(4)
    assert losses.v_loss(true_v, x0, tt, eps, abar, torch.zeros(4), mask) < 1e-10


def test_a_moving_average_of_the_weights_is_kept_saved_resumed_and_loaded(tmp_path):
    config = training.TrainConfig("class", num_hiddens=4, batch_size=32, epochs=1, T=10, ema=0.9)
    images, labels = helpers.mnist_tensors(train=True, verbose=False)
    model, _ = training.train(config, images[:96], labels[:96], tmp_path, "cpu", False)
    loaded, _ = training.load_run(tmp_path, 1)
    trained = dict(model.named_parameters())
    averaged = dict(loaded.named_parameters())
    assert all(name in trained for name in averaged)
    moved = [(averaged[k] - trained[k]).abs().max().item() for k in averaged]
    assert max(moved) > 0  # load_run gives the average, not the last weights
    raw, _ = training.load_run(tmp_path, 1, raw=True)
    for name, weight in raw.named_parameters():  # raw=True gives the last weights
        torch.testing.assert_close(weight, trained[name])


def test_averaged_weights_get_batch_norm_statistics_of_their_own():
    config = training.TrainConfig("time", num_hiddens=4, batch_size=64, T=10)
    model = training.build_model(config)
    norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    for norm in norms:  # statistics that belong to other weights
        norm.running_mean.fill_(100.0)
        norm.running_var.fill_(1e-4)
    training.recompute_batch_norm(model, config, batches=10)
    assert not model.training and all(norm.momentum == 0.1 for norm in norms)
    for norm in norms:  # the statistics of noised training batches through these weights
        assert norm.running_mean.abs().max() < 10 and (norm.running_var != 1e-4).all()
        assert norm.num_batches_tracked == 10


def test_a_run_can_start_from_a_shipped_checkpoint_and_its_average_too():
    from helpers.checkpoints import load_checkpoint

    config = training.RECIPES["class_zero_snr_long"]
    state = training.new_state(config, torch.device("cpu"))
    shipped = load_checkpoint(config.init_from).state_dict()
    for start in (state.model, state.ema):
        loaded = start.state_dict()
        assert loaded.keys() == shipped.keys()
        for name, tensor in shipped.items():
            torch.testing.assert_close(loaded[name], tensor.to(loaded[name].dtype))
    fresh = training.new_state(training.RECIPES["class_zero_snr"], torch.device("cpu"))
    name, weight = next(iter(fresh.model.named_parameters()))  # a fresh run starts elsewhere
    assert not torch.equal(weight, state.model.state_dict()[name])


def test_low_t_share_moves_that_share_of_the_draws_to_the_low_noise_half(monkeypatch):
    drawn = []
    monkeypatch.setattr(training.losses, "ddpm_loss", lambda model, x0, t, *rest: drawn.append(t))
    x0, c, abar = torch.zeros(4000, 1, 2, 2), torch.zeros(4000, dtype=torch.long), None
    for share in (0.0, 0.5):
        config = training.TrainConfig("class", T=300, low_t_share=share)
        training.loss_on_batch(None, config, x0, c, abar, torch.Generator().manual_seed(0))
    course, low = drawn
    g = torch.Generator().manual_seed(0)
    torch.randn(x0.shape, generator=g)  # the noise comes first
    assert torch.equal(course, torch.randint(0, 300, (4000,), generator=g))  # 0: the course's t
    assert 0 <= low.min() and low.max() < 300
    assert abs((course < 150).float().mean() - 0.5) < 0.03
    assert abs((low < 150).float().mean() - 0.75) < 0.03  # half of the batch, plus half the rest


@pytest.mark.parametrize("flag", ["--epochs", "--threads"])
def test_the_training_tool_refuses_zero_epochs_or_threads_before_any_work(
    flag, monkeypatch, capsys
):
    import sys

    from tools.train import main

    monkeypatch.setattr(sys, "argv", ["train.py", "class", flag, "0"])
    with pytest.raises(SystemExit) as stopped:  # --epochs 0 used to train the whole recipe
        main()
    assert stopped.value.code == 2
    assert f"{flag} must be at least 1, got 0" in capsys.readouterr().err
