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

# %% [markdown]
# # A3. Denoising: a blur, one step, and many steps
#
# Three ways to recover $x_0$ from $x_t$: a classical Gaussian blur; one step of the pretrained
# denoiser, solving the forward process for $x_0$ with its noise estimate; and iterative
# denoising along `strided_timesteps`, which removes the noise a little at a time.
#
# $$\hat x_0 = \frac{x_t - \sqrt{1-\bar\alpha_t}\,\hat\epsilon}{\sqrt{\bar\alpha_t}} \qquad \text{(course Eq. A.2 solved for } x_0)$$

# %%
import os
from pathlib import Path

import torch

import helpers
from helpers import editing, plots
from helpers.denoiser import OfflineDigits, load_backend
from helpers.images import course_image

BACKEND = os.environ.get("KIT_BACKEND", "auto")  # "auto", "offline" or "deepfloyd"
FIGURES = Path(os.environ.get("KIT_FIGURES", "../figures"))
SEED = 0
NOISE_LEVELS = [250, 500, 750]
I_START = 10  # iterative denoising starts at strided_timesteps()[10] = 690
PROMPT = "a high quality photo"  # for the offline model: the unconditional branch

denoiser = load_backend(BACKEND)
BLUR = (3, 0.9) if isinstance(denoiser, OfflineDigits) else (5, 2.0)  # kernel, sigma at 28 / 64 px
abar = denoiser.alphas_cumprod
cond = denoiser.encode(PROMPT)
save = plots.saver(
    FIGURES,
    notebook="A3_denoising",
    backend=denoiser.name,
    seed=SEED,
    checkpoint=denoiser.checkpoint,
)
x0 = course_image(denoiser.image_shape)
g = torch.Generator().manual_seed(SEED)

# %% [markdown]
# ## 1.2 and 1.3: blur vs one-step denoising
# Rows: the noisy image, its Gaussian blur, and the one-step estimate $\hat x_0$.

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
save(
    fig,
    "A3_blur_vs_one_step",
    caption=f"Classical vs one-step denoising at t = {', '.join(map(str, NOISE_LEVELS))}: the noisy image, a "
    f"Gaussian blur (kernel {BLUR[0]}, sigma {BLUR[1]}) that smears noise and detail alike, and the "
    "pretrained model's one-step estimate x0_hat, which is sharp at low noise and blurry at high noise.",
    section="1.2 Classical denoising, 1.3 One-step denoising",
    equation="x0_hat = (x_t - sqrt(1 - abar_t) eps_hat) / sqrt(abar_t)",
)

# %% [markdown]
# ## 1.4 Iterative denoising
# From $t = 690$, take strided DDPM steps; every 5th step is shown, then the three results side by side.

# %%
t_start = helpers.strided_timesteps()[I_START]
x_t = helpers.forward(x0, t_start, abar, generator=g)
clean, frames = editing.iterative_denoise(
    denoiser, x_t, I_START, PROMPT, generator=g, frames_every=5
)
shown = helpers.strided_timesteps()[I_START::5][: len(frames)]
one_step_start = helpers.estimate_x0(
    x_t, denoiser.predict(x_t, t_start, [cond])[0][0], t_start, abar
)
images = torch.cat(frames + [clean, x0, one_step_start, helpers.gaussian_blur_denoise(x_t, *BLUR)])
titles = [f"t = {t}" for t in shown] + ["iterative", "original", "one-step", "blur"]
fig = plots.show_images(images, titles, ncols=len(frames) + 1, signed=True)
save(
    fig,
    "A3_iterative_denoising",
    caption=f"Iterative denoising from t = {t_start} (i_start = {I_START}), every 5th strided step shown "
    "(top row, ending with the result), then the original, the one-step estimate from the same x_t and a "
    "Gaussian blur. Many small steps recover far more detail than one big step.",
    section="1.4 Iterative denoising",
    equation="x_t' = sqrt(abar_t') beta_t / (1 - abar_t) x0_hat + sqrt(alpha_t)(1 - abar_t') / (1 - abar_t) x_t + v_sigma",
)
