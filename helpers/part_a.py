"""Part A: sampling and editing with a pretrained denoiser, written once for every backend.

Each algorithm is a short explicit loop over consecutive (t, t_prime) pairs of
`strided_timesteps()` (990 -> 0 by 30) and works with any `helpers.denoiser.Denoiser`.
Images are (B, C, H, W) in [-1, 1]; `mask` is 1 where new content goes.
"""

import math

import torch
from torch import Tensor
from torchvision.transforms.functional import gaussian_blur
from tqdm import tqdm  # a text bar: a widget reads "Loading widget..." after a reconnect

from helpers._checks import (
    check_gamma,
    check_generator,
    check_int,
    check_prompt,
    check_signed_image,
    randn_like,
)
from helpers.denoiser import Denoiser, guided_estimate
from helpers.forward_process import forward
from helpers.sampling import pairs
from helpers.schedule import strided_timesteps
from helpers.steps import ddpm_step, posterior_variance


def step_std(
    t: int, t_prime: int, alphas_cumprod: Tensor, variance: Tensor | None = None
) -> Tensor:
    """Standard deviation of the noise a strided DDPM step adds (the course's add_variance).

    None: sqrt(beta_tilde), the fixed posterior variance. Otherwise `variance` holds a model's
    "learned range" channels v in [-1, 1] (improved DDPM, Eq. 15), taken at the step t -> t':
        frac = (v + 1) / 2,  log var = frac log beta + (1 - frac) log beta_tilde
    with beta = 1 - abar_t / abar_t' the step's beta and beta_tilde clamped at 1e-20.
    """
    beta_tilde = posterior_variance(t, t_prime, alphas_cumprod)
    if variance is None:
        return beta_tilde.sqrt()
    beta = 1 - alphas_cumprod[t] / alphas_cumprod[t_prime]
    frac = (variance.float() + 1) / 2
    log_var = frac * beta.log() + (1 - frac) * beta_tilde.clamp(min=1e-20).log()
    return (0.5 * log_var).exp().to(variance.dtype)


def reverse_step(x_t, eps_hat, variance, t, t_prime, alphas_cumprod, generator=None) -> Tensor:
    """Strided DDPM step x_t -> x_t' (course Eq. A.3) with v_sigma = step_std * z, z ~ N(0, I)."""
    v_sigma = step_std(t, t_prime, alphas_cumprod.to(x_t.device), variance) * randn_like(
        x_t, generator
    )
    return ddpm_step(x_t, eps_hat, t, t_prime, alphas_cumprod, v_sigma=v_sigma.to(x_t.dtype))


def check_image(denoiser: Denoiser, x: Tensor, name: str = "image", noisy: bool = False) -> None:
    """Raise ValueError unless x is a (B, C, H, W) batch of the backend's shape, in [-1, 1]
    (unless noisy); warn when it looks like a [0, 1] image (see _checks.check_signed_image)."""
    check_signed_image(x, name, noisy=True)
    if x.ndim != 4 or tuple(x.shape[1:]) != tuple(denoiser.image_shape):
        raise ValueError(
            f"{name} must have shape (B, {', '.join(map(str, denoiser.image_shape))})"
            f" for {denoiser.name},"
            f" got {tuple(x.shape)}; helpers.images.load_image resizes and converts a file"
        )
    check_signed_image(x, name, noisy)


def check_i_start(i_start: int, timesteps: list[int]) -> int:
    """i_start as an int index of timesteps that leaves at least one step to take."""
    i_start = check_int(i_start, "i_start")
    if not 0 <= i_start < len(timesteps) - 1:
        raise ValueError(
            f"i_start must be an index in [0, {len(timesteps) - 2}] of timesteps, got {i_start}"
        )
    return i_start


def check_guidance(gamma: float, generator: torch.Generator | None, **prompts) -> float:
    """Check the arguments every guided entry point shares; returns gamma as a float."""
    for name, prompt in prompts.items():
        check_prompt(prompt, name)
    check_generator(generator)
    return check_gamma(gamma)


def iterative_denoise(
    denoiser: Denoiser,
    x_t: Tensor,
    i_start: int,
    prompt: str = "a high quality photo",
    uncond_prompt: str | None = None,
    gamma: float = 1.0,
    timesteps: list[int] | None = None,
    generator: torch.Generator | None = None,
    frames_every: int = 0,
    project=None,
    progress: bool = True,
) -> tuple[Tensor, list[Tensor]]:
    """Denoise x_t from timesteps[i_start] down to timesteps[-1] (course part A 1.4).

    With uncond_prompt, every estimate is classifier-free guided with scale gamma (1.6).
    project(x_t', t'), when given, is applied after every step (inpainting uses it).
    Returns the final image and, when frames_every > 0, x_t every `frames_every` steps.
    """
    timesteps = timesteps or strided_timesteps()
    i_start = check_i_start(i_start, timesteps)
    check_image(denoiser, x_t, "x_t", noisy=True)
    gamma = check_guidance(gamma, generator, prompt=prompt)
    if uncond_prompt is not None:
        check_prompt(uncond_prompt, "uncond_prompt")
    elif gamma != 1.0:  # guidance needs an unconditional estimate to push away from
        raise ValueError(
            f"gamma = {gamma:g} needs an uncond_prompt (classifier-free guidance); pass"
            ' uncond_prompt="" or use iterative_denoise_cfg'
        )
    conds = (denoiser.encode(prompt),)
    if uncond_prompt is not None:
        conds += (denoiser.encode(uncond_prompt),)
    # BEGIN SOLUTION
    abar, frames = denoiser.alphas_cumprod, []
    for i, (t, t_prime) in enumerate(
        tqdm(pairs(timesteps[i_start:]), disable=not progress, leave=False)
    ):
        if frames_every and i % frames_every == 0:
            frames.append(x_t)
        eps_hat, variance = guided_estimate(denoiser, x_t, t, conds, gamma)
        x_t = reverse_step(x_t, eps_hat, variance, t, t_prime, abar, generator)
        if project is not None:
            x_t = project(x_t, t_prime)
    return x_t, frames
    # END SOLUTION


def iterative_denoise_cfg(
    denoiser, x_t, i_start, prompt="a high quality photo", gamma=7.0, **kwargs
):
    """iterative_denoise with classifier-free guidance against the empty prompt (course 1.6)."""
    return iterative_denoise(
        denoiser, x_t, i_start, prompt, uncond_prompt="", gamma=gamma, **kwargs
    )


def sdedit(
    denoiser, x_orig, i_start, prompt="a high quality photo", gamma=7.0, generator=None, **kwargs
):
    """SDEdit (course 1.7): noise x_orig to timesteps[i_start], then denoise it with CFG.

    Small i_start starts from heavy noise (a new image); large i_start stays close to x_orig.
    """
    timesteps = kwargs.get("timesteps") or strided_timesteps()
    i_start = check_i_start(i_start, timesteps)
    check_image(denoiser, x_orig, "x_orig")
    gamma = check_guidance(gamma, generator, prompt=prompt)
    x_t = forward(x_orig, timesteps[i_start], denoiser.alphas_cumprod, generator=generator)
    return iterative_denoise_cfg(
        denoiser, x_t, i_start, prompt, gamma, generator=generator, **kwargs
    )[0]


def sdedit_sweep(
    denoiser, x_orig, i_starts, prompt="a high quality photo", gamma=7.0, seed=0
) -> Tensor:
    """SDEdit of one image (1, C, H, W) at each i_start, each from the same seed, then the
    original: (len(i_starts) + 1, C, H, W), ready to show as a strip."""
    check_int(seed, "seed")
    edits = [
        sdedit(
            denoiser,
            x_orig,
            i,
            prompt,
            gamma,
            generator=torch.Generator().manual_seed(seed),
            progress=False,
        )
        for i in i_starts
    ]
    return torch.cat(edits + [x_orig])


def inpaint(
    denoiser,
    x_orig,
    mask,
    prompt="a high quality photo",
    gamma=7.0,
    x_T=None,
    generator=None,
    known_generator=None,
    **kwargs,
):
    """Inpainting (course 1.7.2, RePaint): regenerate where mask = 1, keep x_orig elsewhere.

    From pure noise x_T, every step is followed by x_t' <- m x_t' + (1 - m) forward(x_orig, t').
    The kept region's noise comes from known_generator (default: seeded from generator's seed
    + 1), so the step noise is the same as plain CFG denoising from the same generator.
    """
    check_image(denoiser, x_orig, "x_orig")
    gamma = check_guidance(gamma, generator, prompt=prompt)
    B, _, H, W = x_orig.shape
    if not isinstance(mask, Tensor):
        raise ValueError(f"mask must be a torch.Tensor, got {type(mask).__name__}")
    if x_T is not None:
        check_image(denoiser, x_T, "x_T", noisy=True)
    if mask.ndim != 4 or mask.shape[0] not in (1, B) or tuple(mask.shape[1:]) != (1, H, W):
        batch = "1" if B == 1 else f"1 or {B}"  # one mask for every image, or one each
        raise ValueError(
            f"mask must have shape ({batch}, 1, {H}, {W}), the image's size, got "
            f"{tuple(mask.shape)}; F.interpolate(mask, ({H}, {W})) resizes one"
        )
    if not bool(((mask == 0) | (mask == 1)).all()):
        raise ValueError(
            "mask must hold only 0 (keep) and 1 (regenerate); use (mask > 0.5).float()"
        )
    if known_generator is None and generator is not None:
        known_generator = torch.Generator(generator.device).manual_seed(
            generator.initial_seed() + 1
        )
    mask = mask.to(x_orig)
    if x_T is None:
        x_T = randn_like(x_orig, generator)

    # BEGIN SOLUTION
    def project(x_t, t_prime):
        return mask * x_t + (1 - mask) * forward(
            x_orig, t_prime, denoiser.alphas_cumprod, generator=known_generator
        )

    x0, _ = iterative_denoise_cfg(
        denoiser, x_T, 0, prompt, gamma, generator=generator, project=project, **kwargs
    )
    return mask * x0 + (1 - mask) * x_orig  # the kept region exactly, whatever abar_0 is
    # END SOLUTION


VIEWS = {
    "identity": lambda x: x,
    "flip": lambda x: torch.flip(x, dims=[-2]),  # upside down (the course's anagram view)
    "rot180": lambda x: torch.flip(x, dims=[-2, -1]),  # rotated by 180 degrees
}


def visual_anagram(
    denoiser,
    prompt_1: str,
    prompt_2: str,
    view: str = "flip",
    gamma: float = 7.0,
    x_T: Tensor | None = None,
    generator: torch.Generator | None = None,
    batch: int = 1,
    progress: bool = True,
) -> Tensor:
    """Visual anagram (course 1.8): an image that shows prompt_1, and prompt_2 once viewed.

    eps = (eps_1(x_t) + view^-1(eps_2(view(x_t)))) / 2, each guided; views are involutions,
    so view^-1 = view. The variance channels are averaged the same way.
    """
    if view not in VIEWS:
        raise ValueError(f"view must be one of {sorted(VIEWS)}, got {view!r}")
    gamma = check_guidance(gamma, generator, prompt_1=prompt_1, prompt_2=prompt_2)
    v = VIEWS[view]
    c1, c2, uncond = denoiser.encode(prompt_1), denoiser.encode(prompt_2), denoiser.encode("")
    if x_T is not None:
        check_image(denoiser, x_T, "x_T", noisy=True)
    x_t = x_T if x_T is not None else _noise(denoiser, batch, generator)
    # BEGIN SOLUTION
    abar = denoiser.alphas_cumprod
    for t, t_prime in tqdm(pairs(strided_timesteps()), disable=not progress, leave=False):
        eps_1, var_1 = guided_estimate(denoiser, x_t, t, (c1, uncond), gamma)
        eps_2, var_2 = guided_estimate(denoiser, v(x_t), t, (c2, uncond), gamma)
        eps_hat = (eps_1 + v(eps_2)) / 2
        variance = None if var_1 is None else (var_1 + v(var_2)) / 2
        x_t = reverse_step(x_t, eps_hat, variance, t, t_prime, abar, generator)
    return x_t
    # END SOLUTION


def hybrid_filter(image_size: int, sigma: float | None = None) -> tuple[int, float]:
    """(kernel_size, sigma) of the hybrid low-pass, a Gaussian blur.

    sigma None: the course's filter (33, 2 at 64 px), scaled to image_size. At 28 px that
    sigma (0.875 px) leaves a digit's whole shape in the low band, so the notebook passes a
    wider one; its kernel then spans +-4 sigma, at most 2 image_size - 1 (blur pads by reflection).
    """
    if sigma is None:
        sigma = 2.0 * image_size / 64
        kernel = int(round(33 * image_size / 64)) | 1  # odd
        return kernel, sigma
    kernel = 2 * math.ceil(4 * sigma) + 1
    return min(kernel, 2 * image_size - 1), float(sigma)


def hybrid_lowpass(image_size: int, sigma: float | None = None):
    """The hybrid low-pass as a function of images (B, C, S, S): hybrid_filter's Gaussian blur."""
    kernel, sigma = hybrid_filter(image_size, sigma)
    return lambda x: gaussian_blur(x, [kernel, kernel], [sigma, sigma])


def hybrid_image(
    denoiser,
    prompt_low: str,
    prompt_high: str,
    gamma: float = 7.0,
    lowpass=None,
    x_T: Tensor | None = None,
    generator: torch.Generator | None = None,
    batch: int = 1,
    progress: bool = True,
) -> Tensor:
    """Hybrid image (course 1.9): prompt_low seen from afar, prompt_high up close.

    eps = lowpass(eps_low) + highpass(eps_high), highpass(x) = x - lowpass(x); the default
    lowpass is a Gaussian blur (kernel 33, sigma 2 at 64 px, scaled to the image size).
    """
    gamma = check_guidance(gamma, generator, prompt_low=prompt_low, prompt_high=prompt_high)
    lowpass = lowpass or hybrid_lowpass(denoiser.image_shape[-1])
    c_low, c_high, uncond = (
        denoiser.encode(prompt_low),
        denoiser.encode(prompt_high),
        denoiser.encode(""),
    )
    if x_T is not None:
        check_image(denoiser, x_T, "x_T", noisy=True)
    x_t = x_T if x_T is not None else _noise(denoiser, batch, generator)
    # BEGIN SOLUTION
    abar = denoiser.alphas_cumprod
    for t, t_prime in tqdm(pairs(strided_timesteps()), disable=not progress, leave=False):
        eps_low, var_low = guided_estimate(denoiser, x_t, t, (c_low, uncond), gamma)
        eps_high, var_high = guided_estimate(denoiser, x_t, t, (c_high, uncond), gamma)
        eps_hat = lowpass(eps_low) + eps_high - lowpass(eps_high)
        variance = None if var_low is None else (var_low + var_high) / 2
        x_t = reverse_step(x_t, eps_hat, variance, t, t_prime, abar, generator)
    return x_t
    # END SOLUTION


def _noise(denoiser, batch, generator) -> Tensor:
    device = getattr(denoiser, "device", torch.device("cpu"))
    x = torch.empty(
        batch, *denoiser.image_shape, device=device, dtype=getattr(denoiser, "dtype", torch.float32)
    )
    return randn_like(x, generator)
