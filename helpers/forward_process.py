"""The forward (noising) process, its one-step inverse, and the classical blur baseline.

Notation: x0 a clean image, x_t its noisy version at timestep t, eps the unit Gaussian noise,
alpha_bar_t = alphas_cumprod[t]. Images are (B, C, H, W) in [-1, 1] for part A, [0, 1] for part B.
"""

import torch
from torch import Tensor
from torchvision.transforms.functional import gaussian_blur

from helpers._checks import check_same_shape, gather, randn_like


def forward(
    x0: Tensor,
    t: int | Tensor,
    alphas_cumprod: Tensor,
    eps: Tensor | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Noise x0 to timestep t in one jump (course Eq. A.2, DDPM Eq. 4).

    x_t = sqrt(alpha_bar_t) * x0 + sqrt(1 - alpha_bar_t) * eps,  eps ~ N(0, I)
    x0: (B, C, H, W); t: an int or a (B,) tensor of ints in [0, T - 1]; eps: like x0, or None to
    draw it from `generator`. Returns x_t, shaped like x0.
    """
    if eps is None:
        eps = randn_like(x0, generator)
    check_same_shape(x0=x0, eps=eps)
    alpha_bar_t = gather(alphas_cumprod, t, x0)  # () or (B, 1, 1, 1)
    # BEGIN SOLUTION
    return alpha_bar_t.sqrt() * x0 + (1 - alpha_bar_t).sqrt() * eps
    # END SOLUTION


def estimate_x0(x_t: Tensor, eps_hat: Tensor, t: int | Tensor, alphas_cumprod: Tensor) -> Tensor:
    """One-step denoising: solve course Eq. A.2 for x0 given a noise estimate (DDIM Eq. 9).

    x0_hat = (x_t - sqrt(1 - alpha_bar_t) * eps_hat) / sqrt(alpha_bar_t)
    x_t, eps_hat: (B, C, H, W); t: an int or a (B,) tensor. Returns x0_hat, shaped like x_t.
    """
    check_same_shape(x_t=x_t, eps_hat=eps_hat)
    alpha_bar_t = gather(alphas_cumprod, t, x_t)  # () or (B, 1, 1, 1)
    # BEGIN SOLUTION
    return (x_t - (1 - alpha_bar_t).sqrt() * eps_hat) / alpha_bar_t.sqrt()
    # END SOLUTION


def gaussian_blur_denoise(x_t: Tensor, kernel_size: int = 5, sigma: float = 2.0) -> Tensor:
    """Classical denoising baseline: a Gaussian low-pass filter (course part A, 1.2).

    x_t: (B, C, H, W) or (C, H, W); kernel_size odd and positive; sigma > 0. Returns x_t blurred.
    """
    if kernel_size <= 0 or kernel_size % 2 == 0 or sigma <= 0:
        raise ValueError(
            f"kernel_size must be odd and positive and sigma > 0, got {kernel_size}, {sigma}"
        )
    # BEGIN SOLUTION
    return gaussian_blur(x_t, [kernel_size, kernel_size], [sigma, sigma])
    # END SOLUTION
