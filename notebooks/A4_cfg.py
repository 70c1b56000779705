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
# # A4. Classifier-free guidance
#
# A conditional model can also predict noise without its condition (the empty prompt). Guidance
# extrapolates from the unconditional estimate towards the conditional one: $\gamma = 1$ is plain
# conditional sampling, $\gamma > 1$ trades diversity for samples that match the prompt better.
#
# $$\hat\epsilon = \epsilon_u + \gamma\,(\epsilon_c - \epsilon_u) \qquad \text{(course Eq. A.4)}$$

# %%
import torch

from helpers import part_a, plots
from helpers.denoiser import OfflineDigits, load_backend
from helpers.notebook import backend, saver
from helpers.widgets import image_slider

SEED = 0
SAMPLES = 5
GAMMA = 7.0

denoiser = load_backend(backend())  # KIT_BACKEND: "auto", "offline" or "deepfloyd"
PROMPT = "a handwritten 4" if isinstance(denoiser, OfflineDigits) else "a high quality photo"
save = saver("A4_cfg", backend=denoiser.name, seed=SEED, checkpoint=denoiser.checkpoint)

# %% [markdown]
# ## 1.5 and 1.6: five samples without and five with guidance
# Both rows start from the same five noise images and draw the same step noise: the top row
# without guidance ($\gamma = 1$), the bottom row with $\gamma = 7$. Guidance gives cleaner,
# more prompt-like samples that look more alike.

# %%
g = torch.Generator().manual_seed(SEED)
x_T = torch.randn(SAMPLES, *denoiser.image_shape, generator=g)
plain, _ = part_a.iterative_denoise(
    denoiser, x_T, 0, PROMPT, generator=torch.Generator().manual_seed(SEED)
)
guided, _ = part_a.iterative_denoise_cfg(
    denoiser, x_T, 0, PROMPT, GAMMA, generator=torch.Generator().manual_seed(SEED)
)
fig = plots.show_images(
    torch.cat([plain, guided]),
    ncols=SAMPLES,
    signed=True,
    row_labels=["no guidance", f"CFG, gamma = {GAMMA:g}"],
)

# %%
save(
    fig,
    "A4_cfg",
    caption=f'{SAMPLES} samples for the prompt "{PROMPT}" without guidance (top, gamma = 1) and with '
    f"classifier-free guidance gamma = {GAMMA:g} (bottom), from the same starting noise and step noise. "
    "Guidance gives cleaner, more prompt-like samples that look more alike.",
    section="1.5 Diffusion model sampling, 1.6 Classifier-free guidance",
    equation="eps = eps_uncond + gamma (eps_cond - eps_uncond)  (course Eq. A.4)",
)

# %% [markdown]
# ## Try it: move gamma
# Each position re-samples the first image from the same noise with that guidance scale.

# %%
image_slider(
    lambda gamma: part_a.iterative_denoise_cfg(
        denoiser,
        x_T[:1],
        0,
        PROMPT,
        gamma,
        generator=torch.Generator().manual_seed(SEED),
        progress=False,
    )[0][0],
    "gamma",
    GAMMA,
    0.0,
    10.0,
    0.5,
    signed=True,
)
