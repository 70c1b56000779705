"""Training the part B models, with checkpoints every epoch and every few minutes, and exact resume.

One loop trains every part B model, DDPM and flow; `TrainConfig` holds the recipe. A run writes
<out_dir>/epoch_NNN.safetensors (model, optimiser, BatchNorm statistics and RNG states, all as
tensors) and epoch_NNN.json (config, learning-rate schedule, loss history) after every epoch,
and epoch_NNN_step_SSSSSS.* (the same plus the epoch's data order) every `save_every` seconds
and when interrupted (Ctrl-C, or the notebook's stop button): the run then stops with one line
that says what was saved. Calling `train` again with the same out_dir resumes from the newest
checkpoint and continues exactly as if never interrupted (the same per-step losses, bit for bit
on the same machine). Nothing is unpickled: safetensors holds only tensors, JSON the rest.
Runs live in runs/ at the repository root (`run_dir`), for the notebooks and tools/train.py alike.
"""

import contextlib
import copy
import dataclasses
import json
import math
import os
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from helpers import flow, losses
from helpers.data import mnist_tensors
from helpers.schedule import alphas_cumprod, cosine_betas, linear_betas, zero_terminal_snr
from helpers.unet import (
    ClassConditionalUNet,
    FlowTimeUNet,
    TimeConditionalUNet,
    UnconditionalUNet,
)


@dataclass
class TrainConfig:
    """A training recipe. The defaults are the course's time-conditioned DDPM (part B, 2)."""

    # "denoiser" (single-step, z = x + sigma eps), "time" or "class" (DDPM); "flow_time" or
    # "flow_class" (flow matching: t ~ U[0, 1], no schedule; T and schedule unused);
    # "noise_denoiser" (input pure noise, target the digit: learns the mean image)
    model: str = "time"
    num_hiddens: int = 64  # D: channels of the first UNet level
    batch_size: int = 128
    lr: float = 1e-3  # Adam
    epochs: int = 20
    lr_decay: bool = True  # ExponentialLR with gamma = 0.1 ** (1 / epochs), stepped per epoch
    # (flow recipes too); False: a constant rate
    sigma: float = 0.5  # noise level of the single-step denoiser
    T: int = 300  # diffusion steps (time and class models)
    # "linear" (part B), "cosine" (the offline part A model) or "linear_zero_snr" (the linear
    # schedule rescaled to end at pure noise, schedule.zero_terminal_snr)
    schedule: str = "linear"
    prediction: str = "eps"  # what a DDPM network predicts: "eps" (the course) or "v"
    ema: float = 0.0  # decay of a moving average of the weights, kept and loaded (0: none)
    p_uncond: float = 0.1  # probability of dropping the class (class model), for guidance
    signed: bool = False  # train on [-1, 1] images (part A) instead of the course's [0, 1]
    seed: int = 0
    # reflow (flow_class): start from this shipped checkpoint's weights and train on pairs of
    # noise and its Euler samples (reflow_steps steps, gamma 1; see reflow_data) instead of
    # independent noise and digits
    reflow_from: str = ""
    reflow_steps: int = 50
    # start from this shipped checkpoint's weights instead of a fresh initialisation (a run
    # trained on: Adam's state and the moving average start afresh from those weights)
    init_from: str = ""
    # DDPM: the share of each batch whose t is drawn from the low-noise half [0, T/2) instead of
    # [0, T) (0: uniform, the course); 0.5 puts three quarters of the training there
    low_t_share: float = 0.0

    def betas(self) -> Tensor:
        if self.schedule == "cosine":
            return cosine_betas(self.T)
        if self.schedule == "linear_zero_snr":
            return zero_terminal_snr(linear_betas(self.T))
        return linear_betas(self.T)


# the class recipe fixed for DDIM (T1 section 5; DDIM-20 1.27x DDPM-300 instead of 3.2x): a
# schedule that ends at pure noise, v-prediction, and a moving average of the weights (horizon
# ~1000 steps)
ZERO_SNR = TrainConfig("class", schedule="linear_zero_snr", prediction="v", ema=0.999)
# that model trained on from its shipped averaged weights at 1e-4 (where its run ended), decayed
# to 1e-5
ZERO_SNR_MORE = dataclasses.replace(ZERO_SNR, lr=1e-4, init_from="class_zero_snr_ddpm_epoch20")

RECIPES = {
    "denoiser": TrainConfig(
        "denoiser", num_hiddens=128, batch_size=256, lr=1e-4, epochs=5, lr_decay=False
    ),
    "time": TrainConfig("time"),
    "class": TrainConfig("class"),
    # part A's offline backend: IF's schedule (T = 1000, cosine) on [-1, 1] images
    "offline": TrainConfig("class", epochs=10, T=1000, schedule="cosine", signed=True),
    "class_zero_snr": ZERO_SNR,
    # that model trained 10 epochs more, from its averaged weights, at the rate its run ended at
    # (1e-4, decayed to 1e-5), on other batches (seed 1): T1 section 6's test of whether more
    # training shrinks DDIM's penalty (it does not: the run had converged)
    "class_zero_snr_long": dataclasses.replace(ZERO_SNR_MORE, epochs=10, seed=1),
    # the same, 5 epochs, with three quarters of its t in the low-noise half, where T1 section 7
    # finds the deterministic path loses: DDIM-20 6.0 instead of 6.3, DDPM-20 5.5 instead of 5.1
    # (2,500 samples); not shipped
    "class_zero_snr_low_t": dataclasses.replace(ZERO_SNR_MORE, epochs=5, seed=2, low_t_share=0.5),
    # the zero-SNR recipe at a quarter, half and twice the width (D = 16, 32, 128), 20 epochs from
    # scratch: T1 section 6's test of whether DDIM's penalty is the network's size; not shipped
    # (D = 128: 16 MB in float16, about 9 hours on one core)
    "class_zero_snr_d16": dataclasses.replace(ZERO_SNR, num_hiddens=16),
    "class_zero_snr_d32": dataclasses.replace(ZERO_SNR, num_hiddens=32),
    "class_zero_snr_d128": dataclasses.replace(ZERO_SNR, num_hiddens=128),
    # part B's flow matching (course since 2025): batch 64, Adam 1e-2 decayed to 1e-3, 10 epochs
    "flow_time": TrainConfig("flow_time", batch_size=64, lr=1e-2, epochs=10),
    "flow_class": TrainConfig("flow_class", batch_size=64, lr=1e-2, epochs=10),
    # the course's "no scheduler" question: a constant rate, lowered to compensate; 1e-3 is
    # about where the decayed schedule ends (1e-2 * 0.1 ** 0.9 = 1.3e-3 in its last epoch), so
    # the run can settle as the decayed one does, at the price of a slower start; a moving
    # average of the weights does what the decay's last epochs do, averaging out the steps'
    # noise (the run keeps both: load_run gives the average, load_run(..., raw=True) the last)
    "flow_class_constant_lr": TrainConfig(
        "flow_class", batch_size=64, lr=1e-3, epochs=10, lr_decay=False, ema=0.999
    ),
    # rectified flow, reflowed once: 10,000 pairs from the course model, 10 epochs at 1e-3
    # decayed to 1e-4 from its weights
    "flow_class_reflow": TrainConfig(
        "flow_class", batch_size=64, lr=1e-3, epochs=10, reflow_from="flow_class_epoch10"
    ),
    # the denoiser trained on pure noise: the single-step recipe at D = 64 and a tenfold rate
    # for 2 epochs instead of 5 (it only has to learn one image, the mean; 4 MB instead of 16 MB)
    "noise_denoiser": TrainConfig(
        "noise_denoiser", num_hiddens=64, batch_size=256, lr=1e-3, epochs=2, lr_decay=False
    ),
}


RUNS = Path(__file__).resolve().parent.parent / "runs"  # git-ignored


def run_dir(recipe: str, epochs: int | None = None) -> Path:
    """runs/<recipe> at the repository root; runs/<recipe>_<E>ep for a recipe cut to E epochs."""
    if epochs is None or epochs == RECIPES[recipe].epochs:
        return RUNS / recipe
    return RUNS / f"{recipe}_{epochs}ep"


def build_model(config: TrainConfig) -> nn.Module:
    """The course UNet the recipe trains, freshly initialised."""
    if config.model in ("denoiser", "noise_denoiser"):
        return UnconditionalUNet(1, config.num_hiddens)
    if config.model == "time":
        return TimeConditionalUNet(1, config.num_hiddens)
    if config.model == "flow_time":
        return FlowTimeUNet(1, config.num_hiddens)
    if config.model in ("class", "flow_class"):  # the course's class flow model is this one
        return ClassConditionalUNet(1, 10, config.num_hiddens)
    raise ValueError(f"model must be one of {MODELS}, got {config.model!r}")


MODELS = ("denoiser", "time", "class", "flow_time", "flow_class", "noise_denoiser")


def pick_device(device: str | None = None) -> torch.device:
    """The given device, else CUDA, then Apple MPS, then the CPU."""
    if device is not None:
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def autocast(device: torch.device):
    """bfloat16 mixed precision on CPU and CUDA (about 2.5x faster on a CPU with bf16 units)."""
    if device.type in ("cpu", "cuda"):
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def fast_sampling(model: nn.Module, x: Tensor, fast: bool):
    """(x, context) to sample in: with fast, channels-last memory (the model's weights too, in
    place: same values) and bfloat16 autocast; else x as it is and no context."""
    if not fast:
        return x, contextlib.nullcontext()
    model.to(memory_format=torch.channels_last)
    return x.contiguous(memory_format=torch.channels_last), autocast(x.device)


def loss_on_batch(
    model: nn.Module, config: TrainConfig, x0: Tensor, c: Tensor, abar: Tensor, generator
) -> Tensor:
    """The training loss of one batch x0 (B, 1, 28, 28) with labels c (B,); noise from generator.

    Draws, in this order: the noise, then t (DDPM: integers in [0, T), then, with low_t_share,
    which of them move to [0, T/2); flow: U[0, 1]), then the class dropout. The DDPM recipes'
    order is fixed: shipped checkpoints were trained with it.
    """
    B = x0.shape[0]
    if config.reflow_from:  # the batch holds pairs: channel 0 the noise, 1 its flow's sample
        x0, eps = x0[:, 1:], x0[:, :1]
    else:
        eps = torch.randn(x0.shape, generator=generator).to(x0)  # (B, 1, 28, 28)
    if config.model == "denoiser":
        return losses.denoiser_loss(model, x0, eps, config.sigma)
    if config.model == "noise_denoiser":
        return flow.pure_noise_loss(model, x0, eps)
    if config.model in ("flow_time", "flow_class"):  # eps is x_noise, x0 is x_data
        t = torch.rand(B, generator=generator).to(x0.device)  # (B,) in [0, 1)
        if config.model == "flow_time":
            return flow.flow_loss(model, x0, eps, t)
        mask = (torch.rand(B, generator=generator) >= config.p_uncond).to(x0.device)  # 0 = drop
        return flow.flow_loss(model, x0, eps, t, c, mask)
    t = torch.randint(0, config.T, (B,), generator=generator)  # (B,)
    if config.low_t_share:
        low = torch.rand(B, generator=generator) < config.low_t_share
        t = torch.where(low, t % (config.T // 2), t)
    t = t.to(x0.device)
    loss = losses.v_loss if config.prediction == "v" else losses.ddpm_loss
    if config.model == "time":
        return loss(model, x0, t, eps, abar)
    mask = (torch.rand(B, generator=generator) >= config.p_uncond).to(x0.device)  # 0 = drop
    return loss(model, x0, t, eps, abar, c, mask)


@dataclass
class RunState:
    """What a run needs to continue: the objects that train and where in the data they are."""

    config: TrainConfig
    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    generator: torch.Generator  # batches, noise, t, class dropout
    history: list[float]  # the loss of every optimiser step so far
    epoch: int = 0  # complete epochs
    step: int = 0  # optimiser steps done in epoch `epoch` (counted from 0)
    order: Tensor | None = None  # (N,) this epoch's order of the images
    ema: nn.Module | None = None  # the moving average of the weights (config.ema > 0)


def new_state(config: TrainConfig, device: torch.device) -> RunState:
    """A fresh run of the recipe: initialised model, Adam, its learning-rate schedule, RNG."""
    torch.manual_seed(config.seed)  # parameter initialisation
    model = build_model(config)
    if config.reflow_from or config.init_from:  # helpers.checkpoints imports this module
        from helpers.checkpoints import checkpoint_path

        state = load_file(checkpoint_path(config.reflow_from or config.init_from))
        model.load_state_dict({k: v.float() for k, v in state.items()})
    model = model.to(device, memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    gamma = 0.1 ** (1 / config.epochs) if config.lr_decay else 1.0
    scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma)
    generator = torch.Generator().manual_seed(config.seed)
    ema = copy.deepcopy(model).requires_grad_(False) if config.ema else None
    return RunState(config, model, optimizer, scheduler, generator, [], ema=ema)


def train(
    config: TrainConfig,
    images: Tensor,
    labels: Tensor,
    out_dir: str | os.PathLike,
    device: str | None = None,
    progress: bool = True,
    on_step=None,
    save_every: float = 120.0,
) -> tuple[nn.Module, list[float]]:
    """Train (or resume) the recipe on images (N, 1, 28, 28) in [0, 1] with labels (N,).

    Checkpoints to out_dir after every epoch, every `save_every` seconds, and on an interrupt
    (then raises TrainingInterrupted, one line); resumes from the newest checkpoint found there.
    progress: a plain text line (no widget) and, after a few steps, the estimated time.
    on_step(epoch, step, loss), when given, is called after every optimiser step.
    Returns the model (in eval mode) and the per-step loss history.
    """
    device = pick_device(device)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    state = new_state(config, device)
    resume(out_dir, state)
    x_all = images * 2 - 1 if config.signed else images
    abar = alphas_cumprod(config.betas()).to(device)
    steps = math.ceil(len(images) / config.batch_size)  # per epoch
    meter = Progress(config.epochs, steps, len(state.history), progress)
    saved_at = time.monotonic()
    with DeferInterrupt() as interrupt:
        while state.epoch < config.epochs:
            epoch, step = state.epoch, state.step
            if step == 0:
                state.order = torch.randperm(len(images), generator=state.generator)
            idx = state.order[step * config.batch_size : (step + 1) * config.batch_size]
            x0 = x_all[idx].to(device).contiguous(memory_format=torch.channels_last)
            train_step(state, x0, labels[idx].to(device), abar)
            state.step += 1
            if state.step == steps:  # the epoch is complete
                state.scheduler.step()
                state.epoch, state.step = epoch + 1, 0
            meter.update(state)
            if on_step is not None:
                on_step(epoch, step, state.history[-1])
            if state.step == 0 or interrupt.requested or time.monotonic() - saved_at > save_every:
                saved = save_training_state(out_dir, state)
                saved_at = time.monotonic()
            if interrupt.requested:
                raise TrainingInterrupted(stopped_message(saved, state, steps))
    return state.model.eval(), state.history


def train_step(state: RunState, x0: Tensor, c: Tensor, abar: Tensor) -> None:
    """One optimiser step on the batch x0 (B, 1, 28, 28), labels c (B,); appends its loss."""
    state.model.train()
    with autocast(x0.device):
        loss = loss_on_batch(state.model, state.config, x0, c, abar, state.generator)
    state.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    state.optimizer.step()
    state.history.append(loss.item())
    if state.ema is not None:
        update_ema(state.ema, state.model, state.config.ema)


@torch.no_grad()
def update_ema(ema: nn.Module, model: nn.Module, decay: float) -> None:
    """ema <- decay * ema + (1 - decay) * model for the weights; buffers (BatchNorm's running
    statistics) copied as they are."""
    for averaged, current in zip(ema.parameters(), model.parameters(), strict=True):
        averaged.lerp_(current, 1 - decay)
    for averaged, current in zip(ema.buffers(), model.buffers(), strict=True):
        averaged.copy_(current)


class TrainingInterrupted(KeyboardInterrupt):
    """Training stopped on an interrupt after saving a checkpoint; the message says where."""

    def _render_traceback_(self) -> list[str]:  # IPython shows this instead of a traceback
        return [str(self)]


def stopped_message(saved: Path, state: RunState, steps: int) -> str:
    """The one line an interrupted run ends with: what was saved and how to resume."""
    return (
        f"Interrupted: saved {saved} (epoch {state.epoch + 1} of {state.config.epochs}, "
        f"step {state.step} of {steps}). Run the same cell or command again to resume there."
    )


class DeferInterrupt:
    """Within `with`, a first Ctrl-C (SIGINT) only sets `requested`: the loop saves and stops
    after the current step. A second one interrupts at once. Off the main thread, no effect."""

    def __enter__(self):
        self.requested, self.previous = False, None
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.getsignal(signal.SIGINT) or signal.default_int_handler
            signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)


class Progress:
    """A plain text progress line, rewritten with \\r at most once a second (no widget, so a
    notebook shows it after a reconnect too), and the time estimate after a few steps."""

    SKIP, TIMED = 2, 8  # the estimate times 8 steps after 2 slower first ones

    def __init__(self, epochs: int, steps: int, done: int, enabled: bool):
        self.epochs, self.steps, self.enabled = epochs, steps, enabled
        self.left = epochs * steps - done  # steps this call will run
        self.count, self.start, self.shown = 0, None, 0.0

    def update(self, state: RunState) -> None:
        self.count += 1
        now = time.monotonic()
        if not self.enabled:
            return
        if self.count == self.SKIP:
            self.start = now
        if self.count == self.SKIP + self.TIMED:
            print("\r" + self.estimate((now - self.start) / self.TIMED).ljust(79), flush=True)
        if now - self.shown >= 1 or state.step == 0:
            rate = (self.count - self.SKIP) / (now - self.start) if self.count > self.SKIP else 0
            end = "\n" if state.step == 0 else ""
            print("\r" + self.line(state, rate).ljust(79), end=end, flush=True)
            self.shown = now

    def estimate(self, seconds_a_step: float) -> str:
        total = seconds_a_step * self.left
        length = f"{total / 60:.0f} min" if total >= 90 else f"{total:.0f} s"
        what = f"{self.epochs} epoch" + ("s" if self.epochs > 1 else "")
        if self.left < self.epochs * self.steps:  # resumed
            what = f"the remaining {self.left / self.steps:.1f} of {what}"
        return (
            f"about {length} for {what} here ({seconds_a_step:.2f} s a step, {self.left} steps);"
            " interrupt to save and stop"
        )

    def line(self, state: RunState, rate: float) -> str:
        epoch, step = state.epoch + 1, state.step
        if step == 0:  # the end of an epoch
            epoch, step = state.epoch, self.steps
        text = f"epoch {epoch}/{self.epochs} step {step}/{self.steps} loss {state.history[-1]:.4f}"
        if rate > 0:
            minutes = (self.left - self.count) / rate / 60
            text += f"  {rate:.1f} steps/s, {minutes:.0f} min left"
        return text


def _stem(epoch: int, step: int) -> str:
    return f"epoch_{epoch:03d}" + (f"_step_{step:06d}" if step else "")


def _path(out_dir: Path, epoch: int, suffix: str, step: int = 0) -> Path:
    return out_dir / f"{_stem(epoch, step)}.{suffix}"


def save_training_state(out_dir: Path, state: RunState) -> Path:
    """Write <stem>.safetensors (tensors) then <stem>.json (the rest), each atomically, where the
    stem is epoch_NNN after an epoch and epoch_NNN_step_SSSSSS mid-epoch; keeps only the newest
    mid-epoch pair. Returns the path without suffix."""
    tensors = {f"model.{k}": v.contiguous() for k, v in state.model.state_dict().items()}
    if state.ema is not None:
        tensors |= {f"ema.{k}": v.contiguous() for k, v in state.ema.state_dict().items()}
    optim = state.optimizer.state_dict()
    for index, optim_state in optim["state"].items():
        for key, value in optim_state.items():
            tensors[f"optim.{index}.{key}"] = torch.as_tensor(value).contiguous()
    tensors["rng"] = state.generator.get_state()
    tensors["rng_torch"] = torch.get_rng_state()
    if state.step:
        tensors["order"] = state.order
    meta = {
        "epoch": state.epoch,
        "step": state.step,
        "config": dataclasses.asdict(state.config),
        "param_groups": optim["param_groups"],
        "scheduler": state.scheduler.state_dict(),
        "loss_history": state.history,
    }
    _write(_path(out_dir, state.epoch, "safetensors", state.step), tensors)
    _write(_path(out_dir, state.epoch, "json", state.step), meta)
    for old in out_dir.glob("epoch_*_step_*"):
        if old.name.split(".")[0] != _stem(state.epoch, state.step):
            old.unlink(missing_ok=True)
    return out_dir / _stem(state.epoch, state.step)


def _write(path: Path, content: dict) -> None:
    """Tensors as safetensors, anything else as JSON, through a temporary file."""
    tmp = path.with_name(path.name + ".tmp")
    if path.suffix == ".json":
        tmp.write_text(json.dumps(content))
    else:
        save_file({k: v.cpu() for k, v in content.items()}, tmp)
    tmp.replace(path)


def resume(out_dir: Path, state: RunState) -> None:
    """Load the newest checkpoint of out_dir into state, if there is one."""
    done = sorted(out_dir.glob("epoch_*.json"))  # the names sort in training order
    if not done:
        return
    meta = json.loads(done[-1].read_text())
    if TrainConfig(**meta["config"]) != state.config:  # fields added since: their defaults
        raise ValueError(
            f"{out_dir} holds a run with another recipe ({meta['config']}); use a new folder"
            " or delete the old checkpoints to start over"
        )
    state.epoch, state.step = meta["epoch"], meta.get("step", 0)
    tensors = load_file(_path(out_dir, state.epoch, "safetensors", state.step))
    state.model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    if state.ema is not None:
        state.ema.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("ema.")})
    optim: dict[int, dict[str, Tensor]] = {}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, index, name = key.split(".", 2)
            optim.setdefault(int(index), {})[name] = value
    state.optimizer.load_state_dict({"state": optim, "param_groups": meta["param_groups"]})
    state.scheduler.load_state_dict(meta["scheduler"])
    state.generator.set_state(tensors["rng"])
    if "rng_torch" in tensors:
        torch.set_rng_state(tensors["rng_torch"])
    state.order = tensors.get("order")
    state.history.extend(meta["loss_history"])
    print(f"resuming {out_dir} at epoch {state.epoch + 1}, step {state.step} ({done[-1].stem})")


def train_recipe(
    recipe: str, epochs: int | None = None, show: tuple[int, ...] = (5, 20)
) -> tuple[dict[int, nn.Module], TrainConfig, list[float]]:
    """Train a course recipe here on the bundled MNIST, cut to `epochs` if given (the learning
    rate then decays over those), in run_dir(recipe, epochs), resuming what is there.

    Returns the models after each epoch of `show` the run reaches and after its last, the
    TrainConfig and the per-step loss history (as checkpoints.course_models does).
    """
    config = RECIPES[recipe]
    if epochs is not None:
        config = dataclasses.replace(config, epochs=epochs)
    out_dir = run_dir(recipe, config.epochs)
    images, labels = mnist_tensors(train=True)
    _, history = train(config, images, labels, out_dir)
    keep = sorted({e for e in show if e < config.epochs} | {config.epochs})
    return {e: load_run(out_dir, e)[0] for e in keep}, config, history


def load_run(
    out_dir: str | os.PathLike, epoch: int, device: str = "cpu", raw: bool = False
) -> tuple[nn.Module, dict]:
    """The model of a training run after `epoch` (eval mode) and that epoch's JSON record: the
    moving average of its weights when the recipe keeps one (TrainConfig.ema), unless raw."""
    out_dir = Path(out_dir)
    meta = json.loads(_path(out_dir, epoch, "json").read_text())
    model = build_model(TrainConfig(**meta["config"]))
    tensors = load_file(_path(out_dir, epoch, "safetensors"))
    config = TrainConfig(**meta["config"])
    averaged = config.ema and not raw
    prefix = "ema." if averaged else "model."
    model.load_state_dict({k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)})
    if averaged:
        recompute_batch_norm(model, config)
    return model.to(device).eval(), meta


@torch.no_grad()
def recompute_batch_norm(model: nn.Module, config: TrainConfig, batches: int = 100) -> None:
    """Set the BatchNorm statistics of averaged weights from `batches` training batches, noised
    as the recipe trains (seed 0). The running statistics a run keeps belong to its last
    weights; with the averaged ones they make faint, wrong samples (measured on
    flow_class_constant_lr, 200 samples, 50 Euler steps: Frechet 81.5 with them, 57.8 after
    this, 60.9 for the last weights; real vs real 53.2)."""
    images, labels = mnist_tensors(train=True, verbose=False)
    images = images * 2 - 1 if config.signed else images
    abar = alphas_cumprod(config.betas())
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # a plain average over the batches
    model.train()
    generator = torch.Generator().manual_seed(0)
    for _ in range(batches):
        idx = torch.randint(0, len(images), (config.batch_size,), generator=generator)
        loss_on_batch(model, config, images[idx], labels[idx], abar, generator)
    for norm in norms:
        norm.momentum = 0.1  # PyTorch's default, as built
    model.eval()


def model_kwargs(config: TrainConfig) -> dict:
    """The constructor arguments of the recipe's model (for a checkpoint manifest)."""
    kwargs = {"in_channels": 1, "num_hiddens": config.num_hiddens}
    return {**kwargs, "num_classes": 10} if config.model in ("class", "flow_class") else kwargs


REFLOW_PAIRS = 10_000


def reflow_data(config: TrainConfig, out_dir: str | os.PathLike, chunk: int = 1000):
    """The pairs a reflow recipe trains on, (REFLOW_PAIRS, 2, 28, 28) with their labels (N,):
    made once from config.reflow_from, chunk by chunk into out_dir/pairs (a killed run keeps
    the chunks it finished), then read from there."""
    from helpers.checkpoints import load_checkpoint  # it imports this module

    folder = Path(out_dir) / "pairs"
    folder.mkdir(parents=True, exist_ok=True)
    labels = torch.arange(REFLOW_PAIRS) % 10
    model = None
    for start in range(0, REFLOW_PAIRS, chunk):
        path = folder / f"{start:05d}.safetensors"
        if not path.exists():
            model = model or load_checkpoint(config.reflow_from)
            wanted = labels[start : start + chunk]
            pairs = flow.reflow_pairs(model, wanted, config.reflow_steps, seed=start)
            save_file({"pairs": pairs.contiguous()}, path)
            print(f"reflow pairs {start + chunk} of {REFLOW_PAIRS} made", flush=True)
    pairs = [load_file(p)["pairs"] for p in sorted(folder.glob("*.safetensors"))]
    return torch.cat(pairs), labels
