"""Sampling loops: the reverse process as one explicit loop over (t, t_prime) pairs.

DDPM and DDIM are the same loop with a parameter (DDIM Eq. 12 and 16): eta = 1 adds the DDPM
posterior noise, eta = 0 is deterministic DDIM. The model enters as `eps_model(x_t, t) -> eps_hat`,
so the loops know nothing about which network (or which guidance) produced the estimate.
"""

from collections.abc import Callable

import torch
from torch import Tensor
from tqdm.auto import tqdm

from helpers.forward import estimate_x0
from helpers.guidance import cfg
from helpers.steps import ddim_step

EpsModel = Callable[[Tensor, int], Tensor]


def pairs(timesteps: list[int]) -> list[tuple[int, int]]:
    """Consecutive (t, t_prime) pairs of a strictly decreasing timestep list."""
    if any(t <= t_prime for t, t_prime in zip(timesteps, timesteps[1:], strict=False)):
        raise ValueError(f"timesteps must be strictly decreasing, got {timesteps}")
    return list(zip(timesteps[:-1], timesteps[1:], strict=True))


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
) -> tuple[Tensor, list[Tensor]]:
    """Run the reverse process from x_T at timesteps[0] down to timesteps[-1], then take x0_hat.

    Each step is ddim_step(x_t, eps_model(x_t, t), t, t_prime, eta); eta = 1 is DDPM, 0 DDIM.
    x_T: (B, C, H, W) noise. Returns x0_hat (B, C, H, W) and, when frames_every > 0, the x0_hat
    estimates every `frames_every` steps (for animations; empty list otherwise).
    """
    x_t, frames = x_T, []
    for i, (t, t_prime) in enumerate(tqdm(pairs(timesteps), disable=not progress, leave=False)):
        eps_hat = eps_model(x_t, t)
        if frames_every and i % frames_every == 0:
            frames.append(estimate_x0(x_t, eps_hat, t, alphas_cumprod))
        x_t = ddim_step(x_t, eps_hat, t, t_prime, alphas_cumprod, eta=eta, generator=generator)
    x0_hat = estimate_x0(x_t, eps_model(x_t, timesteps[-1]), timesteps[-1], alphas_cumprod)
    return x0_hat, (frames + [x0_hat] if frames_every else [])


def time_eps_model(unet: torch.nn.Module, T: int) -> EpsModel:
    """eps_model for a TimeConditionalUNet: feeds t / T, as in training."""

    def eps_model(x_t: Tensor, t: int) -> Tensor:
        return unet(x_t, torch.full((x_t.shape[0],), t / T, device=x_t.device)).to(x_t.dtype)

    return eps_model


def class_eps_model(unet: torch.nn.Module, T: int, c: Tensor, gamma: float = 5.0) -> EpsModel:
    """eps_model for a ClassConditionalUNet with classifier-free guidance (course Eq. A.4).

    The conditional and unconditional estimates come from one batched forward pass of 2B images.
    c: (B,) class labels; gamma = 1 is plain conditional sampling.
    """

    def eps_model(x_t: Tensor, t: int) -> Tensor:
        B = x_t.shape[0]
        mask = torch.cat([torch.ones(B), torch.zeros(B)]).to(x_t.device)  # (2B,) 0 = unconditional
        t_in = torch.full((2 * B,), t / T, device=x_t.device)
        eps = unet(torch.cat([x_t, x_t]), torch.cat([c, c]), t_in, mask).to(x_t.dtype)
        eps_cond, eps_uncond = eps.chunk(2)  # (B, C, H, W) each
        return cfg(eps_cond, eps_uncond, gamma)

    return eps_model
