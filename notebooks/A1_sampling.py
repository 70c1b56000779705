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
# # A1. Sampling from a pretrained diffusion model
#
# Start from pure noise $x_{990}$ and denoise it step by step along `strided_timesteps` with
# classifier-free guidance: the fewer the steps, the coarser the sample. The backend is DeepFloyd
# IF stage I when a GPU and its weights are available, otherwise the kit's offline digit model
# (a class-conditioned UNet on 28x28 MNIST with IF's schedule: same T = 1000, same timesteps).
#
# $$x_{t'} = \frac{\sqrt{\bar\alpha_{t'}}\,\beta_t}{1-\bar\alpha_t}\,\hat x_0 + \frac{\sqrt{\alpha_t}\,(1-\bar\alpha_{t'})}{1-\bar\alpha_t}\,x_t + v_\sigma \qquad \text{(course Eq. A.3)}$$

# %%
import torch

import helpers
from helpers import part_a, plots
from helpers.denoiser import OfflineDigits, load_backend
from helpers.notebook import backend, by_profile, saver

SEED = 0
GAMMA = 7.0
STRIDES = by_profile(quick=[330, 90], default=[330, 90, 30, 10])  # from t = 990

denoiser = load_backend(backend())  # KIT_BACKEND: "auto", "offline" or "deepfloyd"
OFFLINE = isinstance(denoiser, OfflineDigits)
PROMPTS = (
    ["a handwritten 0", "a handwritten 3", "a handwritten 5", "a handwritten 7", "a handwritten 9"]
    if OFFLINE
    else ["an oil painting of a snowy mountain village", "a man wearing a hat", "a rocket ship"]
)
save = saver("A1_sampling", backend=denoiser.name, seed=SEED, checkpoint=denoiser.checkpoint)

# %% [markdown]
# ## 0. Samples at several step counts
# Each row denoises the same starting noise with a different stride from $t = 990$, so with
# 990 / stride steps; each column is one prompt, with classifier-free guidance. More steps give
# cleaner, more detailed samples.

# %%
g = torch.Generator().manual_seed(SEED)
x_T = torch.randn(len(PROMPTS), *denoiser.image_shape, generator=g)
rows = []
for stride in STRIDES:
    timesteps = helpers.strided_timesteps(990, stride)
    for i, prompt in enumerate(PROMPTS):
        x0, _ = part_a.iterative_denoise_cfg(
            denoiser, x_T[i : i + 1], 0, prompt, GAMMA, timesteps=timesteps, generator=g
        )
        rows.append(x0)

# %%
steps = [len(helpers.strided_timesteps(990, stride)) - 1 for stride in STRIDES]
fig = plots.show_images(
    torch.cat(rows),
    [p.removeprefix("a handwritten ") for p in PROMPTS],  # titles on the first row
    ncols=len(PROMPTS),
    signed=True,
    row_labels=[f"{s} steps" for s in steps],
)

# %%
save(
    fig,
    "A1_sampling_steps",
    caption=f"Samples from pure noise with classifier-free guidance (gamma = {GAMMA}) at "
    f"{', '.join(map(str, steps))} denoising steps (rows; stride "
    f"{', '.join(map(str, STRIDES))} from t = 990). Columns are prompts; each column starts from "
    "the same noise. More steps give cleaner, more detailed samples.",
    section="0. Setup: sampling at several step counts",
    equation="x_t' = strided DDPM step of x_t with CFG noise estimate (course Eq. A.3, A.4)",
)
