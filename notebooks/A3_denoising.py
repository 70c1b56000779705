# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: -all
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %%

# %% [markdown]
# # A3. Denoising: a blur, one step, and many steps
#
# Three ways to recover $x_0$ from $x_t$: a classical Gaussian blur; one step of the pretrained
# denoiser, solving the forward process for $x_0$ with its noise estimate; and iterative
# denoising along `strided_timesteps`, which removes the noise a little at a time.
#
# $$\hat x_0 = \frac{x_t - \sqrt{1-\bar\alpha_t}\,\hat\epsilon}{\sqrt{\bar\alpha_t}} \qquad \text{(course Eq. A.2 solved for } x_0)$$

# %%
import torch

import helpers
from helpers import part_a, plots
from helpers.denoiser import OfflineDigits, load_backend
from helpers.images import course_image
from helpers.notebook import backend, saver
from helpers.sampling import pairs

SEED = 0
NOISE_LEVELS = [250, 500, 750]
I_START = 10  # iterative denoising starts at strided_timesteps()[10] = 690
FRAMES_EVERY = 5  # show every 5th step of the iterative denoising
PROMPT = "a high quality photo"  # for the offline model: the unconditional branch

denoiser = load_backend(backend())  # KIT_BACKEND: "auto", "offline" or "deepfloyd"
BLUR = (3, 0.9) if isinstance(denoiser, OfflineDigits) else (5, 2.0)  # kernel, sigma at 28 / 64 px
save = saver("A3_denoising", backend=denoiser.name, seed=SEED, checkpoint=denoiser.checkpoint)

# %%
abar = denoiser.alphas_cumprod
cond = denoiser.encode(PROMPT)
x0 = course_image(denoiser.image_shape)  # (1, C, H, W) in [-1, 1]
g = torch.Generator().manual_seed(SEED)

# %% [markdown]
# ## 1.2 and 1.3: blur vs one-step denoising
# Rows: the noisy image, its Gaussian blur, and the one-step estimate $\hat x_0$ from the
# pretrained model's noise estimate. The blur smears noise and detail alike; the one-step
# estimate is sharp at low noise and blurry at high noise.

# %%
noisy = torch.cat([helpers.forward(x0, t, abar, generator=g) for t in NOISE_LEVELS])
blurred = helpers.gaussian_blur_denoise(noisy, *BLUR)
one_step = torch.cat(
    [
        helpers.estimate_x0(x, denoiser.predict(x, t, [cond])[0][0], t, abar)
        for x, t in zip(noisy.split(1), NOISE_LEVELS, strict=True)
    ]
)
fig = plots.show_images(
    torch.cat([noisy, blurred, one_step]),
    [f"t = {t}" for t in NOISE_LEVELS] + [""] * 6,
    ncols=len(NOISE_LEVELS),
    signed=True,
    row_labels=["noisy x_t", "Gaussian blur", "one-step x0_hat"],
)

# %%
save(
    fig,
    "A3_blur_vs_one_step",
    caption=f"Classical vs one-step denoising at t = {', '.join(map(str, NOISE_LEVELS))}: the "
    f"noisy image, a Gaussian blur (kernel {BLUR[0]}, sigma {BLUR[1]}) that smears noise and "
    "detail alike, and the pretrained model's one-step estimate x0_hat, which is sharp at low "
    "noise and blurry at high noise.",
    section="1.2 Classical denoising, 1.3 One-step denoising",
    equation="x0_hat = (x_t - sqrt(1 - abar_t) eps_hat) / sqrt(abar_t)",
)

# %% [markdown]
# ## 1.4 Iterative denoising, one step at a time
# Noise the test image to $t = 690$, then walk down the strided timesteps, one `ddpm_step` per
# pair $(t, t')$: the model's noise estimate $\hat\epsilon$ (and, for DeepFloyd, its variance
# channels), the step's noise $v_\sigma$ = `step_std` $\cdot\, z$, and your `ddpm_step`
# (course Eq. A.3).

# %%
timesteps = helpers.strided_timesteps()[I_START:]  # 690, 660, ..., 0
x_start = helpers.forward(x0, timesteps[0], abar, generator=g)
x_t, step_noise = x_start, torch.Generator().manual_seed(SEED)
for t, t_prime in pairs(timesteps):  # consecutive (t, t_prime), strictly decreasing
    eps_hat, variance = denoiser.predict(x_t, t, [cond])[0]
    z = torch.randn(x_t.shape, generator=step_noise, dtype=x_t.dtype).to(x_t.device)
    v_sigma = (part_a.step_std(t, t_prime, abar.to(x_t.device), variance) * z).to(x_t.dtype)
    x_t = helpers.ddpm_step(x_t, eps_hat, t, t_prime, abar, v_sigma=v_sigma)

# %% [markdown]
# `part_a.iterative_denoise` is this loop (plus guidance, progress and frames). With the same
# seed for the step noise it gives the same image; from here on the notebook uses it.

# %%
clean, frames = part_a.iterative_denoise(
    denoiser,
    x_start,
    I_START,
    PROMPT,
    generator=torch.Generator().manual_seed(SEED),
    frames_every=FRAMES_EVERY,
)
torch.testing.assert_close(clean, x_t)
print("the unrolled loop and part_a.iterative_denoise agree")

# %% [markdown]
# Every 5th strided step (top row, ending with the result), then the original, the one-step
# estimate from the same $x_t$ and a Gaussian blur. Many small steps recover far more detail
# than one big step.

# %%
one_step_start = helpers.estimate_x0(
    x_start, denoiser.predict(x_start, timesteps[0], [cond])[0][0], timesteps[0], abar
)
blur_start = helpers.gaussian_blur_denoise(x_start, *BLUR)
images = torch.cat(frames + [clean, x0, one_step_start, blur_start])
titles = [f"t = {t}" for t in timesteps[::FRAMES_EVERY][: len(frames)]]
titles += ["iterative", "original", "one-step", "blur"]
fig = plots.show_images(images, titles, ncols=len(frames) + 1, signed=True)

# %%
save(
    fig,
    "A3_iterative_denoising",
    caption=f"Iterative denoising from t = {timesteps[0]} (i_start = {I_START}), every "
    f"{FRAMES_EVERY}th strided step shown (top row, ending with the result), then the original, "
    "the one-step estimate from the same x_t and a Gaussian blur. Many small steps recover far "
    "more detail than one big step.",
    section="1.4 Iterative denoising",
    equation="x_t' = sqrt(abar_t') beta_t / (1 - abar_t) x0_hat "
    "+ sqrt(alpha_t)(1 - abar_t') / (1 - abar_t) x_t + v_sigma",
)
