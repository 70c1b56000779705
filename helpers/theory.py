"""The math behind DDPM and DDIM, checked by experiment (theory notebook T4).

Each function is a direct, slow transcription of one definition, so that the fast closed forms
used everywhere else can be compared with it.
"""

import torch
from torch import Tensor

from helpers._checks import randn_like
from helpers.steps import ddim_step


def markov_chain_forward(
    x0: Tensor, t: int, betas: Tensor, generator: torch.Generator | None = None
) -> Tensor:
    """Iterate q(x_s | x_{s-1}) = N(sqrt(1 - beta_s) x_{s-1}, beta_s I) for s = 0 .. t (DDPM Eq. 2).

    With 0-based timesteps, x_t is x0 after t + 1 noising steps; its law should be the closed
    form q(x_t | x0) of `forward`. x0: (B, ...). Returns x_t, shaped like x0.
    """
    x = x0
    for s in range(t + 1):
        beta_s = betas[s].to(x0.dtype)
        x = (1 - beta_s).sqrt() * x + beta_s.sqrt() * randn_like(x0, generator)
    return x


def exact_eps(x_t: Tensor, x0: Tensor, t: int, alphas_cumprod: Tensor) -> Tensor:
    """The noise that takes x0 to x_t: (x_t - sqrt(abar_t) x0) / sqrt(1 - abar_t)."""
    alpha_bar_t = alphas_cumprod[t].to(x_t.dtype)
    return (x_t - alpha_bar_t.sqrt() * x0) / (1 - alpha_bar_t).sqrt()


def ddim_posterior_sample(
    x_t: Tensor,
    x0: Tensor,
    t: int,
    t_prime: int,
    alphas_cumprod: Tensor,
    eta: float,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Draw x_t' from DDIM's p_sigma(x_t' | x_t, x0) (DDIM Eq. 7), sigma = eta * sqrt(beta_tilde).

    That is ddim_step fed the exact noise that takes x0 to x_t.
    """
    eps = exact_eps(x_t, x0, t, alphas_cumprod)
    return ddim_step(x_t, eps, t, t_prime, alphas_cumprod, eta=eta, generator=generator)


def gaussian_posterior(
    x_t: Tensor, x0: Tensor, t: int, t_prime: int, alphas_cumprod: Tensor
) -> tuple[Tensor, Tensor]:
    """Mean and variance of q(x_t' | x_t, x0) of the strided chain x0 -> x_t' -> x_t (Bayes' rule).

    prior x_t' ~ N(sqrt(abar_t') x0, 1 - abar_t'), likelihood x_t | x_t' ~ N(sqrt(a) x_t', 1 - a)
    with a = abar_t / abar_t'. Product of Gaussians: precision adds, means weight by precision.
    """
    abar_t, abar_tp = alphas_cumprod[t].to(x_t.dtype), alphas_cumprod[t_prime].to(x_t.dtype)
    a = abar_t / abar_tp
    precision = 1 / (1 - abar_tp) + a / (1 - a)
    mean = (abar_tp.sqrt() * x0 / (1 - abar_tp) + a.sqrt() * x_t / (1 - a)) / precision
    return mean, 1 / precision
