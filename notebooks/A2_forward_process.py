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
# # A2. The forward process: adding noise
#
# A diffusion model learns to undo a fixed noising process. Run that process forward on the
# test image: any timestep t of the T = 1000 cosine schedule (the one DeepFloyd IF was trained
# with, and the offline digit model too) is reached in one jump.
#
# $$x_t = \sqrt{\bar\alpha_t}\,x_0 + \sqrt{1 - \bar\alpha_t}\,\epsilon, \qquad \epsilon \sim \mathcal{N}(0, I) \qquad \text{(course Eq. A.2)}$$

# %%
import torch

import helpers
from helpers import plots
from helpers.denoiser import load_backend
from helpers.images import course_image
from helpers.notebook import backend, saver
from helpers.widgets import image_slider

SEED = 0
TIMESTEPS = [0, 100, 250, 500, 750, 999]

denoiser = load_backend(backend())  # KIT_BACKEND: "auto", "offline" or "deepfloyd"
save = saver("A2_forward_process", backend=denoiser.name, seed=SEED)

# %% [markdown]
# ## 1.1 Noise the test image at several timesteps
# The same noise $\epsilon$ at every t: only the two scales change. By t = 750 the image is
# barely visible; t = 999 is almost pure noise.

# %%
x0 = course_image(denoiser.image_shape)  # (1, C, H, W) in [-1, 1]
eps = torch.randn(x0.shape, generator=torch.Generator().manual_seed(SEED))
x_t = torch.cat([helpers.forward(x0, t, denoiser.alphas_cumprod, eps=eps) for t in TIMESTEPS])
fig = plots.show_images(x_t, [f"t = {t}" for t in TIMESTEPS], signed=True, size=1.6)

# %%
save(
    fig,
    "A2_forward_process",
    caption=f"The forward process on the test image: x_t for t = {', '.join(map(str, TIMESTEPS))} "
    f"of the cosine schedule (T = {len(denoiser.alphas_cumprod)}), with the same noise eps at "
    "every t. By t = 750 the image is barely visible; t = 999 is almost pure noise.",
    section="1.1 Implementing the forward process",
    equation="x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps  (course Eq. A.2)",
)

# %% [markdown]
# ## Try it: move t
# The slider re-runs `helpers.forward` with the same noise.

# %%
image_slider(
    lambda t: helpers.forward(x0, int(t), denoiser.alphas_cumprod, eps=eps)[0],
    "t",
    500,
    0,
    999,
    signed=True,
)
