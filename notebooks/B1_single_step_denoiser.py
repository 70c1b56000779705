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
# # B1. A single-step denoiser on MNIST
#
# Part B starts without any diffusion: a UNet $D_\theta$ is trained to map a noisy digit
# $z = x + \sigma\epsilon$ back to the clean digit $x$ in one step, by minimising
# $\mathbb{E}\,\lVert D_\theta(z) - x\rVert^2$. First, what the noise looks like.
#
# $$z = x + \sigma\,\epsilon, \qquad \epsilon \sim \mathcal{N}(0, I) \qquad \text{(course part B, Eq. B.2)}$$

# %%
import os
from pathlib import Path

import torch

import helpers
from helpers import plots

FIGURES = Path(os.environ.get("KIT_FIGURES", "../figures"))
SEED = 0
SIGMAS = [0.0, 0.2, 0.4, 0.5, 0.6, 0.8, 1.0]
DIGITS = 4  # rows of the noising grid

# %% [markdown]
# ## 1.2 Noising grid
# Each row is a training digit, each column a noise level $\sigma$; values are clipped to [0, 1]
# for display only.

# %%
images, labels = helpers.mnist_tensors(train=True)
x = images[:DIGITS]  # (DIGITS, 1, 28, 28) in [0, 1]
g = torch.Generator().manual_seed(SEED)
eps = torch.randn(x.shape, generator=g)
grid = torch.stack([x + sigma * eps for sigma in SIGMAS], dim=1).flatten(0, 1)  # row per digit
titles = [f"sigma = {s}" for s in SIGMAS] + [""] * (len(grid) - len(SIGMAS))
fig = plots.show_images(grid, titles, ncols=len(SIGMAS))
plots.save_figure(
    fig,
    FIGURES / "B1_noising_grid",
    caption="Noising process z = x + sigma eps on four MNIST training digits for sigma = 0 ... 1 "
    "(columns). The denoiser is trained at sigma = 0.5, where the digits are still readable.",
    notebook="B1_single_step_denoiser",
    section="1.2 Using the UNet to train a denoiser",
    equation="z = x + sigma eps",
    backend="MNIST 28x28",
    seed=SEED,
)
