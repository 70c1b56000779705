"""One reverse step x_t -> x_t' of DDPM and of DDIM, between any two timesteps T > t > t' >= 0.

Notation (code name = symbol):
    alpha_bar_t, alpha_bar_t_prime = alphas_cumprod[t], alphas_cumprod[t']
    alpha_t = alpha_bar_t / alpha_bar_t'     the alpha of the strided step t -> t'
    beta_t  = 1 - alpha_t                     its beta
    x0_hat  = estimate_x0(x_t, eps_hat, t)   the clean image the noise estimate implies
    sigma_t                                   the standard deviation of the noise the step adds
Loops call these with explicit pairs (t, t_prime) from a strictly decreasing list; t' is never
derived from a stride.
"""

import torch
from torch import Tensor

from helpers._checks import check_pair, check_same_shape, gather, randn_like
from helpers.forward_process import estimate_x0


def posterior_variance(t: int, t_prime: int, alphas_cumprod: Tensor) -> Tensor:
    """Variance beta_tilde of q(x_t' | x_t, x0) for the strided step t -> t' (DDPM Eq. 7).

    beta_tilde = (1 - alpha_bar_t') / (1 - alpha_bar_t) * (1 - alpha_bar_t / alpha_bar_t')
    Returns a 0-dim tensor in the dtype of alphas_cumprod.
    """
    check_pair(t, t_prime, len(alphas_cumprod))
    alpha_bar_t, alpha_bar_t_prime = alphas_cumprod[t], alphas_cumprod[t_prime]
    # BEGIN SOLUTION
    return (1 - alpha_bar_t_prime) / (1 - alpha_bar_t) * (1 - alpha_bar_t / alpha_bar_t_prime)
    # END SOLUTION


def ddpm_step(
    x_t: Tensor,
    eps_hat: Tensor,
    t: int,
    t_prime: int,
    alphas_cumprod: Tensor,
    v_sigma: Tensor | None = None,
) -> Tensor:
    """Strided DDPM step x_t -> x_t' (course Eq. A.3; DDPM Eq. 7 between t and t').

    x_t' = sqrt(alpha_bar_t') * beta_t / (1 - alpha_bar_t) * x0_hat
           + sqrt(alpha_t) * (1 - alpha_bar_t') / (1 - alpha_bar_t) * x_t  + v_sigma
    with alpha_t = alpha_bar_t / alpha_bar_t', beta_t = 1 - alpha_t. v_sigma is the random term,
    e.g. sqrt(posterior_variance(t, t_prime)) * z with z ~ N(0, I); None adds nothing.
    x_t, eps_hat, v_sigma: (B, C, H, W); T > t > t_prime >= 0. Returns x_t', shaped like x_t.
    """
    check_pair(t, t_prime, len(alphas_cumprod))
    check_same_shape(x_t=x_t, eps_hat=eps_hat)
    if v_sigma is not None:
        check_same_shape(x_t=x_t, v_sigma=v_sigma)
    alpha_bar_t = gather(alphas_cumprod, t, x_t)
    alpha_bar_t_prime = gather(alphas_cumprod, t_prime, x_t)
    x0_hat = estimate_x0(x_t, eps_hat, t, alphas_cumprod)
    # BEGIN SOLUTION
    alpha_t = alpha_bar_t / alpha_bar_t_prime
    beta_t = 1 - alpha_t
    # 1. posterior mean (DDPM Eq. 7): a blend of the clean estimate and the current sample
    mean = (alpha_bar_t_prime.sqrt() * beta_t / (1 - alpha_bar_t)) * x0_hat + (
        alpha_t.sqrt() * (1 - alpha_bar_t_prime) / (1 - alpha_bar_t)
    ) * x_t
    # 2. the random term
    return mean if v_sigma is None else mean + v_sigma
    # END SOLUTION


def ddim_step(
    x_t: Tensor,
    eps_hat: Tensor,
    t: int,
    t_prime: int,
    alphas_cumprod: Tensor,
    eta: float = 0.0,
    noise: Tensor | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """DDIM step x_t -> x_t' (DDIM Eq. 12, with sigma_t from Eq. 16).

    x_t' = sqrt(alpha_bar_t') * x0_hat + sqrt(1 - alpha_bar_t' - sigma_t^2) * eps_hat + sigma_t * z
    sigma_t = eta * sqrt(posterior_variance(t, t_prime)); eta = 0 is deterministic DDIM, eta = 1
    the DDPM posterior. z is `noise` or, when None and eta > 0, drawn from `generator`.
    x_t, eps_hat, noise: (B, C, H, W); T > t > t_prime >= 0; 0 <= eta <= 1. Returns x_t'.
    """
    check_pair(t, t_prime, len(alphas_cumprod))
    check_same_shape(x_t=x_t, eps_hat=eps_hat)
    if not 0.0 <= eta <= 1.0:
        raise ValueError(f"eta must lie in [0, 1] (0 = DDIM, 1 = DDPM), got {eta}")
    if noise is None and eta > 0:
        noise = randn_like(x_t, generator)
    if noise is not None:
        check_same_shape(x_t=x_t, noise=noise)
    alpha_bar_t_prime = gather(alphas_cumprod, t_prime, x_t)
    x0_hat = estimate_x0(x_t, eps_hat, t, alphas_cumprod)
    variance = posterior_variance(t, t_prime, alphas_cumprod).to(x_t)
    # BEGIN SOLUTION
    sigma_t = eta * variance.sqrt()
    # 1. "direction pointing to x_t" (DDIM Eq. 12, middle term)
    direction = (1 - alpha_bar_t_prime - sigma_t**2).clamp(min=0).sqrt() * eps_hat
    x_t_prime = alpha_bar_t_prime.sqrt() * x0_hat + direction
    # 2. the random term, absent for eta = 0
    return x_t_prime if eta == 0 else x_t_prime + sigma_t * noise
    # END SOLUTION
