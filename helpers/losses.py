"""Part B's training losses (course Algorithms B.1 and B.3, part B 1.2), one batch each.

The caller draws every random number (noise, timesteps, which labels to drop) and passes it in,
so a loss is a plain function of its inputs: the trainer, the tests and the grader call it alike.
"""

from torch import Tensor, nn

from helpers.forward_process import forward


def denoiser_loss(model: nn.Module, x0: Tensor, eps: Tensor, sigma: float) -> Tensor:
    """The single-step denoiser's loss (course part B 1.2): mean of (D(x0 + sigma eps) - x0)^2.

    x0: clean digits (B, 1, 28, 28); eps: standard normal noise of the same shape.
    """
    # BEGIN SOLUTION
    z = x0 + sigma * eps
    return nn.functional.mse_loss(model(z), x0)
    # END SOLUTION


def v_loss(
    model: nn.Module,
    x0: Tensor,
    t: Tensor,
    eps: Tensor,
    alphas_cumprod: Tensor,
    c: Tensor | None = None,
    mask: Tensor | None = None,
) -> Tensor:
    """ddpm_loss with v-prediction (Salimans & Ho 2022): the network predicts
    v = sqrt(abar_t) eps - sqrt(1 - abar_t) x0 instead of eps, which stays informative where
    abar_t is near 0 (a zero-terminal-SNR schedule). Given, not graded; same arguments.
    """
    abar = alphas_cumprod[t].view(-1, 1, 1, 1)  # (B, 1, 1, 1)
    # x_t written out rather than forward(): given code runs before a student writes forward
    x_t = abar.sqrt() * x0 + (1 - abar).sqrt() * eps
    v = abar.sqrt() * eps - (1 - abar).sqrt() * x0
    t_in = t.float() / len(alphas_cumprod)
    v_hat = model(x_t, t_in) if c is None else model(x_t, c, t_in, mask)
    return nn.functional.mse_loss(v_hat, v)


def ddpm_loss(
    model: nn.Module,
    x0: Tensor,
    t: Tensor,
    eps: Tensor,
    alphas_cumprod: Tensor,
    c: Tensor | None = None,
    mask: Tensor | None = None,
) -> Tensor:
    """The DDPM loss (course Algorithms B.1 and B.3): mean of (eps_theta(x_t, t / T) - eps)^2.

    x0 (B, 1, 28, 28) clean; t (B,) integer timesteps in [0, T), T = len(alphas_cumprod);
    eps the noise that makes x_t = forward(x0, t, alphas_cumprod, eps). A time-conditioned
    model is called as model(x_t, t / T); with labels c (B,) and mask (B,) (0 drops the
    label, for classifier-free guidance) a class-conditioned one as model(x_t, c, t / T, mask).
    """
    # BEGIN SOLUTION
    x_t = forward(x0, t, alphas_cumprod, eps=eps)
    t_in = t.float() / len(alphas_cumprod)  # normalised to [0, 1)
    eps_hat = model(x_t, t_in) if c is None else model(x_t, c, t_in, mask)
    return nn.functional.mse_loss(eps_hat, eps)
    # END SOLUTION
