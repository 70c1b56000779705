"""Sampling loops: the reverse process as one explicit loop over (t, t_prime) pairs.

DDPM and DDIM are the same loop with a parameter (DDIM Eq. 12 and 16): eta = 1 adds the DDPM
posterior noise, eta = 0 is deterministic DDIM. The model enters as `eps_model(x_t, t) -> eps_hat`,
so the loops know nothing about which network (or which guidance) produced the estimate.
"""

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import torch
from torch import Tensor
from tqdm import tqdm  # a text bar: a widget reads "Loading widget..." after a reconnect

from helpers import schedule
from helpers._checks import check_gamma, check_sample_labels
from helpers.denoiser import UNetDenoiser, guided_estimate
from helpers.forward_process import estimate_x0
from helpers.steps import ddim_step

if TYPE_CHECKING:  # training imports the course UNets, which the loops never need
    from helpers.training import TrainConfig

EpsModel = Callable[[Tensor, int], Tensor]


def pairs(timesteps: list[int]) -> list[tuple[int, int]]:
    """Consecutive (t, t_prime) pairs of a strictly decreasing timestep list."""
    if any(t <= t_prime for t, t_prime in zip(timesteps, timesteps[1:], strict=False)):
        raise ValueError(f"timesteps must be strictly decreasing, got {timesteps}")
    return list(zip(timesteps[:-1], timesteps[1:], strict=True))


SPACINGS = ("leading", "trailing", "linspace")


def ddim_timesteps(T: int, steps: int, spacing: str = "trailing") -> list[int]:
    """DDIM's sub-sequence tau (Sec. 4.2): `steps` strictly decreasing timesteps in [0, T).

    One timestep per model evaluation, spaced one of three ways (diffusers' `timestep_spacing`):
    trailing: T - 1, T - 1 - T/steps, ... (starts at the noisiest step; may not reach 0);
    leading:  0, k, 2k, ... with k = T // steps (never reaches T - 1; ends at 0);
    linspace: evenly spaced from 0 to T - 1, both ends included.
    Trailing is the default: leading starts sampling at a timestep less noisy than the pure
    noise it is given (Lin et al. 2023), which costs quality at few steps.
    """
    if spacing not in SPACINGS:
        raise ValueError(f"unknown spacing {spacing!r}; use one of {SPACINGS}")
    if not 1 <= steps <= T:
        raise ValueError(f"steps must lie in 1 .. T = {T}, got {steps}")
    # BEGIN SOLUTION
    if spacing == "leading":
        ascending = [i * (T // steps) for i in range(steps)]
    elif spacing == "trailing":
        ascending = [round(T - i * T / steps) - 1 for i in range(steps - 1, -1, -1)]
    else:
        ascending = [round(i * (T - 1) / max(steps - 1, 1)) for i in range(steps)]
    return ascending[::-1]
    # END SOLUTION


@torch.no_grad()
def sample(
    eps_model: EpsModel,
    x_T: Tensor,
    timesteps: list[int],
    alphas_cumprod: Tensor,
    eta: float = 1.0,
    generator: torch.Generator | None = None,
    frames_every: int = 0,
    progress: bool = True,
    remove_noise: bool = False,
) -> tuple[Tensor, list[Tensor]]:
    """Run the reverse process from x_T at timesteps[0] down to timesteps[-1], then take x0_hat.

    Each step is ddim_step(x_t, eps_model(x_t, t), t, t_prime, eta); eta = 1 is DDPM, 0 DDIM.
    remove_noise: keep the step's mean but drop its random term sigma_t z ("removing the random
    noise"; with eta = 1 the DDPM posterior mean). x_T: (B, C, H, W) noise. Returns x0_hat
    (B, C, H, W) and, when frames_every > 0, the x0_hat estimates every `frames_every` steps (for
    animations; empty list otherwise).
    """
    # BEGIN SOLUTION
    x_t, frames = x_T, []
    for i, (t, t_prime) in enumerate(tqdm(pairs(timesteps), disable=not progress, leave=False)):
        eps_hat = eps_model(x_t, t)
        if frames_every and i % frames_every == 0:
            frames.append(estimate_x0(x_t, eps_hat, t, alphas_cumprod))
        noise = torch.zeros_like(x_t) if remove_noise else None
        x_t = ddim_step(
            x_t, eps_hat, t, t_prime, alphas_cumprod, eta=eta, noise=noise, generator=generator
        )
    x0_hat = estimate_x0(x_t, eps_model(x_t, timesteps[-1]), timesteps[-1], alphas_cumprod)
    return x0_hat, (frames + [x0_hat] if frames_every else [])
    # END SOLUTION


@torch.no_grad()
def invert(
    eps_model: EpsModel,
    x0: Tensor,
    timesteps: list[int],
    alphas_cumprod: Tensor,
    progress: bool = True,
) -> Tensor:
    """DDIM inversion: the deterministic (eta = 0) DDIM process run forwards, x0 -> x_T.

    The reverse of `sample(..., eta=0)` on the same timesteps: each step from t up to the next
    noisier t_next reuses the noise estimate at the current point,
    x_t_next = sqrt(abar_t_next) x0_hat + sqrt(1 - abar_t_next) eps_model(x_t, t),
    which is exact as the steps get small. x0: (B, C, H, W) clean images in the model's range.
    Returns x_T at timesteps[0], ready for `sample(eps_model, x_T, timesteps, abar, eta=0)`.
    """
    # BEGIN SOLUTION
    t_first = timesteps[-1]
    x_t = _renoise(x0, eps_model(x0, t_first), t_first, alphas_cumprod)
    for t_next, t in tqdm(pairs(timesteps)[::-1], disable=not progress, leave=False):
        eps_hat = eps_model(x_t, t)  # x_t is at t, the less noisy end of the pair
        x0_hat = estimate_x0(x_t, eps_hat, t, alphas_cumprod)
        x_t = _renoise(x0_hat, eps_hat, t_next, alphas_cumprod)
    return x_t
    # END SOLUTION


@torch.no_grad()
def sample_dpm_solver(
    eps_model: EpsModel,
    x_T: Tensor,
    timesteps: list[int],
    alphas_cumprod: Tensor,
    progress: bool = True,
) -> Tensor:
    """DPM-Solver++(2M) (Lu et al. 2022, Algorithm 2): deterministic like DDIM, but second order.

    DDIM is Euler's method in the log signal-to-noise ratio lambda = log(alpha / sigma), with
    alpha = sqrt(alpha_bar), sigma = sqrt(1 - alpha_bar): x_t' = sigma'/sigma x_t
    - alpha' (exp(-h) - 1) x0_hat, h = lambda' - lambda. The multistep solver keeps that step
    but replaces x0_hat by a linear extrapolation from this step's and the previous step's x0_hat,
    D = (1 + 1/(2r)) x0_hat - 1/(2r) x0_hat_previous with r = h_previous / h: one network
    evaluation per step, as DDIM, and the first step is DDIM's exactly. The last evaluation gives
    x0_hat at timesteps[-1], as in `sample`. Returns x0_hat (B, C, H, W).
    """
    abar = alphas_cumprod.double().cpu()
    alpha, sigma = abar.sqrt(), (1 - abar).sqrt()
    lam = (alpha / sigma).log()
    x_t, previous = x_T, None  # previous: (x0_hat, h) of the step before
    for t, t_prime in tqdm(pairs(timesteps), disable=not progress, leave=False):
        x0_hat = estimate_x0(x_t, eps_model(x_t, t), t, alphas_cumprod)
        h = (lam[t_prime] - lam[t]).item()
        d = x0_hat
        if previous is not None:
            x0_previous, h_previous = previous
            d = x0_hat + (x0_hat - x0_previous) * h / (2 * h_previous)
        ratio, jump = (sigma[t_prime] / sigma[t]).item(), (alpha[t_prime] * -math.expm1(-h)).item()
        x_t = ratio * x_t + jump * d
        previous = (x0_hat, h)
    return estimate_x0(x_t, eps_model(x_t, timesteps[-1]), timesteps[-1], alphas_cumprod)


def _renoise(x0_hat: Tensor, eps_hat: Tensor, t: int, alphas_cumprod: Tensor) -> Tensor:
    abar = alphas_cumprod[t].to(x0_hat.dtype)
    return abar.sqrt() * x0_hat + (1 - abar).sqrt() * eps_hat


def slerp(a: Tensor, b: Tensor, w: float) -> Tensor:
    """Spherical interpolation from a (w = 0) to b (w = 1), per sample over all other dims.

    Gaussian noise lives near a sphere; slerp stays there while the straight line between two
    noises passes closer to the origin (a mix with too little variance). a, b: (B, ...).
    """
    a_flat, b_flat = a.flatten(1), b.flatten(1)
    cos = (a_flat * b_flat).sum(1) / (a_flat.norm(dim=1) * b_flat.norm(dim=1))
    theta = cos.clamp(-1, 1).acos().view(-1, *[1] * (a.dim() - 1))  # (B, 1, ...)
    if (theta.abs() < 1e-4).all():
        return torch.lerp(a, b, w)
    return (torch.sin((1 - w) * theta) * a + torch.sin(w * theta) * b) / torch.sin(theta)


def clip_x0(eps_model: EpsModel, alphas_cumprod: Tensor, low: float, high: float) -> EpsModel:
    """eps_model whose estimate agrees with x0_hat clipped to the data range [low, high]:
    eps' = (x_t - sqrt(abar_t) clip(x0_hat)) / sqrt(1 - abar_t).

    What diffusers calls clip_sample (DeepFloyd IF samples with it). Needed where abar_t of the
    first timestep is tiny, as on the cosine schedule at t = T - 1 (abar 2e-9): x0_hat divides
    by sqrt(abar_t) there, and a deterministic step carries its error forward unchecked.
    """

    def clipped(x_t: Tensor, t: int) -> Tensor:
        eps_hat = eps_model(x_t, t).to(x_t.dtype)
        abar = alphas_cumprod[t].to(x_t.dtype)
        x0_hat = estimate_x0(x_t, eps_hat, t, alphas_cumprod).clamp(low, high)
        return (x_t - abar.sqrt() * x0_hat) / (1 - abar).sqrt()

    return clipped


def time_eps_model(unet: torch.nn.Module, T: int) -> EpsModel:
    """eps_model for a TimeConditionalUNet (through UNetDenoiser: t / T, as in training)."""
    return eps_model(unet, T, None)


def class_eps_model(unet: torch.nn.Module, T: int, c: Tensor, gamma: float = 5.0) -> EpsModel:
    """eps_model for a ClassConditionalUNet with classifier-free guidance (course Eq. A.4).

    The conditional and unconditional estimates come from one batched forward pass of 2B images.
    c: (B,) class labels; gamma = 1 is plain conditional sampling (one pass of B images).
    """
    return eps_model(unet, T, c, gamma)


def eps_model(
    unet: torch.nn.Module,
    T: int,
    c: Tensor | None,
    gamma: float = 1.0,
    alphas_cumprod: Tensor | None = None,
    prediction: str = "eps",
) -> EpsModel:
    """A part B UNet as eps_model(x_t, t), through the same adapter and guidance as part A's
    (a v-prediction UNet's estimate turned into eps with alphas_cumprod)."""
    denoiser = UNetDenoiser(unet, T, alphas_cumprod, prediction)
    conds = (None,) if c is None else (c,) if gamma == 1.0 else (c, None)
    return lambda x_t, t: guided_estimate(denoiser, x_t, t, conds, gamma)[0]


@torch.no_grad()
def sample_digits(
    model: torch.nn.Module,
    config: "TrainConfig",
    labels: Tensor,
    timesteps: list[int] | None = None,
    eta: float = 1.0,
    gamma: float = 5.0,
    seed: int = 0,
    frames_every: int = 0,
    remove_noise: bool = False,
    fast: bool = True,
    progress: bool = True,
    x_T: Tensor | None = None,
    clip: bool | None = None,
    second_order: bool = False,
) -> tuple[Tensor, list[Tensor]]:
    """Digits in [0, 1] from a part B model (time- or class-conditioned) and its TrainConfig.

    x_T: (N, 1, 28, 28) the start, by default pure noise drawn from seed. clip: compute each step
    from x0_hat clipped to the model's data range (`clip_x0`); by default only on the cosine
    schedule (part A's offline model), as DeepFloyd IF does. A model on [-1, 1] gives its
    digits mapped to [0, 1]. second_order: sample with DPM-Solver++(2M), deterministic (eta is
    ignored; no frames).

    labels: (N,) classes for a class-conditioned model (sampled with guidance `gamma`); for a
    time-conditioned model only their count matters. timesteps: default all T steps (the course's
    DDPM sampler with eta = 1). fast: bfloat16 autocast and channels-last (CPU or CUDA), about
    2.5x faster on a CPU; use fast=False where float32 accuracy matters (inversion). fast also
    moves the model's weights to channels-last memory, in place (same values, same results).
    Returns x0_hat (N, 1, 28, 28) and the animation frames (see `sample`).
    """
    from helpers.training import fast_sampling  # here, so that the loops import without the UNets

    device = next(model.parameters()).device
    abar = schedule.alphas_cumprod(config.betas()).to(device)
    timesteps = timesteps or list(range(config.T - 1, -1, -1))
    if config.model not in ("class", "time"):
        raise ValueError(f"sample_digits needs a time or class model, got {config.model!r}")
    check_sample_labels(labels, config.model == "class", x_T)
    gamma = check_gamma(gamma)
    c = labels.to(device) if config.model == "class" else None
    estimate = eps_model(model, config.T, c, gamma, abar, config.prediction)
    low = -1.0 if config.signed else 0.0
    if clip or (clip is None and config.schedule == "cosine"):
        estimate = clip_x0(estimate, abar, low, 1.0)
    g = torch.Generator().manual_seed(seed)
    noise = torch.randn(len(labels), 1, 28, 28, generator=g)  # drawn even with x_T given:
    # the steps' noise then comes out the same, so a run from x_T differs only in its start
    x_T = (noise if x_T is None else x_T).to(device)
    x_T, context = fast_sampling(model, x_T, fast)
    with context:
        if second_order:
            x0 = sample_dpm_solver(estimate, x_T, timesteps, abar, progress=progress)
            return to_unit(x0, low), []
        x0, frames = sample(
            estimate,
            x_T,
            timesteps,
            abar,
            eta=eta,
            generator=g,
            frames_every=frames_every,
            progress=progress,
            remove_noise=remove_noise,
        )
    return to_unit(x0, low), [to_unit(f, low) for f in frames]


def to_unit(x: Tensor, low: float) -> Tensor:
    """Digits from a model's data range [low, 1] to [0, 1], as float32 on the CPU."""
    return ((x.float() - low) / (1 - low)).clamp(0, 1).cpu()
