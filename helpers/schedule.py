"""Noise schedules: the betas, their cumulative products, and the strided timestep list.

Notation (DDPM, Ho et al. 2020): beta_t is the variance added at step t, alpha_t = 1 - beta_t,
alpha_bar_t = prod_{s <= t} alpha_s (`alphas_cumprod`). Timesteps are 0-based: t = 0 .. T - 1.
"""

import math

import torch
from torch import Tensor


def linear_betas(T: int = 300, beta_start: float = 1e-4, beta_end: float = 0.02) -> Tensor:
    """Linear schedule (DDPM Sec. 4), the course's part B schedule.

    beta_t evenly spaced from beta_start to beta_end. Returns float32, shape (T,).
    """
    if T < 1 or not (0 <= beta_start < 1 and 0 <= beta_end < 1):
        raise ValueError(
            f"need T >= 1 steps and betas in [0, 1) (each is a variance added in one step), got "
            f"T = {T}, beta_start = {beta_start}, beta_end = {beta_end}"
        )
    # BEGIN SOLUTION
    return torch.linspace(beta_start, beta_end, T, dtype=torch.float32)
    # END SOLUTION


def cosine_betas(T: int = 1000, s: float = 0.008, max_beta: float = 0.999) -> Tensor:
    """Cosine schedule (Nichol & Dhariwal 2021, Eq. 17), diffusers' "squaredcos_cap_v2".

    f(u) = cos^2((u + s) / (1 + s) * pi / 2), beta_t = min(1 - f((t + 1) / T) / f(t / T), max_beta).
    DeepFloyd IF was trained with it. Returns float32, shape (T,).
    """
    if T < 1:
        raise ValueError(f"need T >= 1 steps, got T = {T}")
    # BEGIN SOLUTION
    u = torch.arange(T + 1, dtype=torch.float64) / T  # (T + 1,) in [0, 1]
    f = torch.cos((u + s) / (1 + s) * math.pi / 2) ** 2
    return (1 - f[1:] / f[:-1]).clamp(max=max_beta).float()
    # END SOLUTION


def zero_terminal_snr(betas: Tensor, last: float = 1e-6) -> Tensor:
    """Rescale a schedule so that its last step is (almost) pure noise (Lin et al. 2023, Alg. 1).

    sqrt(alpha_bar) is shifted and scaled to keep its first value and end at sqrt(last): the
    course's linear schedule ends at alpha_bar = 0.048 (22% of the image left in x_{T-1}), while
    samplers start from pure noise. last = 1e-6 (0.1% of the image) instead of Lin et al.'s 0
    keeps x0_hat computable in float32 by the eps-form steps; train such a schedule with
    v-prediction, where eps-prediction says nothing at the end. Given, not graded.
    """
    root = torch.cumprod(1 - betas.double(), dim=0).sqrt()  # (T,) sqrt(alpha_bar)
    first, end = root[0], root[-1]
    root = math.sqrt(last) + (root - end) * (first - math.sqrt(last)) / (first - end)
    abar = root**2
    return (1 - abar / torch.cat([abar.new_ones(1), abar[:-1]])).float()


def alphas_cumprod(betas: Tensor) -> Tensor:
    """Cumulative product alpha_bar_t (DDPM Eq. 4): prod over s <= t of (1 - beta_s).

    Same shape and dtype as betas.
    """
    if betas.ndim != 1 or len(betas) == 0:
        raise ValueError(f"betas must be a non-empty (T,) tensor, got shape {tuple(betas.shape)}")
    if betas.min() < 0 or betas.max() >= 1:
        raise ValueError(
            f"betas must be variances in [0, 1), got values from {betas.min():.3g} to "
            f"{betas.max():.3g}"
        )
    # BEGIN SOLUTION
    return torch.cumprod(1 - betas, dim=0)
    # END SOLUTION


def strided_timesteps(start: int = 990, stride: int = 30) -> list[int]:
    """The course's strided schedule [start, start - stride, ..., stride, 0] (34 by default).

    Strictly decreasing, ends at 0; `start` must be a multiple of `stride`.
    """
    if stride <= 0 or start < 0 or start % stride != 0:
        raise ValueError(
            f"start must be a non-negative multiple of a positive stride so the list ends at 0,"
            f" got start = {start}, stride = {stride}"
        )
    # BEGIN SOLUTION
    return list(range(start, -1, -stride))
    # END SOLUTION
