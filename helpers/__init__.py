"""helpers: the reusable math, models and plots of the diffusion course kit.

Modules by concept, imports running one way:
    schedule  -> forward -> steps -> guidance  (the graded core math)
    sampling  (the reverse-process loops: sample, invert; ddim_timesteps)
    editing   (part A's loops: iterative_denoise, inpaint, visual_anagram, hybrid_image)
    losses    (part B's training losses: denoiser_loss, ddpm_loss)
    flow      (part B's flow matching: interpolate, velocity_target, flow_loss, euler_step,
               flow_sample, guided_velocity; x_noise is the course's x_0, x_data its x_1)
    data      (MNIST, bundled with the kit)
"""

from helpers.data import load_mnist, mnist_tensors
from helpers.editing import hybrid_image, inpaint, iterative_denoise, visual_anagram
from helpers.flow import (
    euler_step,
    flow_loss,
    flow_sample,
    guided_velocity,
    interpolate,
    velocity_target,
)
from helpers.forward import estimate_x0, forward, gaussian_blur_denoise
from helpers.guidance import cfg
from helpers.losses import ddpm_loss, denoiser_loss
from helpers.sampling import ddim_timesteps, invert, sample
from helpers.schedule import alphas_cumprod, cosine_betas, linear_betas, strided_timesteps
from helpers.steps import ddim_step, ddpm_step, posterior_variance

__all__ = [
    "alphas_cumprod",
    "cfg",
    "cosine_betas",
    "ddim_step",
    "ddim_timesteps",
    "ddpm_loss",
    "ddpm_step",
    "denoiser_loss",
    "estimate_x0",
    "euler_step",
    "flow_loss",
    "flow_sample",
    "forward",
    "gaussian_blur_denoise",
    "guided_velocity",
    "hybrid_image",
    "inpaint",
    "interpolate",
    "invert",
    "iterative_denoise",
    "linear_betas",
    "load_mnist",
    "mnist_tensors",
    "posterior_variance",
    "sample",
    "strided_timesteps",
    "velocity_target",
    "visual_anagram",
]
