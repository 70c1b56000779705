"""helpers: the reusable math, models and plots of the diffusion course kit.

Modules by concept, imports running one way:
    schedule  -> forward -> steps -> guidance  (the graded core math)
    sampling  (the reverse-process loops; ddim_timesteps is graded too)
    data      (MNIST, bundled with the kit)
"""

from helpers.data import load_mnist, mnist_tensors
from helpers.forward import estimate_x0, forward, gaussian_blur_denoise
from helpers.guidance import cfg
from helpers.sampling import ddim_timesteps
from helpers.schedule import alphas_cumprod, cosine_betas, linear_betas, strided_timesteps
from helpers.steps import ddim_step, ddpm_step, posterior_variance

__all__ = [
    "alphas_cumprod",
    "cfg",
    "cosine_betas",
    "ddim_step",
    "ddim_timesteps",
    "ddpm_step",
    "estimate_x0",
    "forward",
    "gaussian_blur_denoise",
    "linear_betas",
    "load_mnist",
    "mnist_tensors",
    "posterior_variance",
    "strided_timesteps",
]
