"""helpers: the reusable math, models and plots of the diffusion course kit.

Modules by concept, imports running one way:
    schedule -> forward_process -> steps -> guidance  (the graded core math)
    sampling  (the reverse-process loops of part B and the theory: sample, invert;
               ddim_timesteps)
    denoiser  (the Denoiser protocol and UNetDenoiser, the one adapter from a network to them)
    part_a    (part A's loops: iterative_denoise, sdedit, inpaint, visual_anagram, hybrid_image)
    losses    (part B's training losses: denoiser_loss, ddpm_loss)
    flow      (part B's flow matching: interpolate, velocity_target, flow_loss, euler_step,
               flow_sample, guided_velocity; x_noise is the course's x_0, x_data its x_1)
    classifier (the MNIST digit classifier and the Frechet distance of its features)
    evaluation (measuring samples with it: accuracy, Frechet distance against real digits)
    data      (MNIST, bundled with the kit)
"""

from helpers.data import load_mnist, mnist_tensors
from helpers.flow import (
    euler_step,
    flow_loss,
    flow_sample,
    guided_velocity,
    interpolate,
    velocity_target,
)
from helpers.forward_process import estimate_x0, forward, gaussian_blur_denoise
from helpers.guidance import cfg
from helpers.losses import ddpm_loss, denoiser_loss
from helpers.part_a import hybrid_image, inpaint, iterative_denoise, visual_anagram
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
