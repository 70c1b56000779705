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
#
# $$\mathcal{L} = \mathbb{E}_{z, x}\,\lVert D_\theta(z) - x\rVert^2, \qquad z = x + \sigma\,\epsilon, \quad \epsilon \sim \mathcal{N}(0, I) \qquad \text{(course part B, Eqs. B.1, B.2)}$$
#
# with $\sigma = 0.5$, fresh noise for every batch of 256, hidden width $D = 128$, Adam at
# $10^{-4}$, five epochs.

# %%
import matplotlib.pyplot as plt
import torch

import helpers
from helpers import plots
from helpers.checkpoints import course_models, load_checkpoint, unpack_images
from helpers.evaluation import denoise, denoiser_mse, noisy_test_digits
from helpers.notebook import by_profile, saver
from helpers.training import train_recipe

RETRAIN = False  # True: train here instead, checkpoints in runs/denoiser at the repository root
RETRAIN_EPOCHS = 5  # the course's 5 take about an hour on a 2-core CPU; try 1
SEED = 0
SIGMAS = [0.0, 0.2, 0.4, 0.5, 0.6, 0.8, 1.0]
DIGITS = 4  # rows of the noising grid
N = by_profile(quick=100, default=1000, full=10000)  # test digits for the error curve

save = saver("B1_single_step_denoiser", backend="MNIST 28x28", seed=SEED)

# %% [markdown]
# ## 1.2 Noising grid
# Each row is a training digit, each column a noise level $\sigma$; values are clipped to [0, 1]
# for display only. The denoiser is trained at $\sigma = 0.5$, where the digits are still
# readable.

# %%
images, labels = helpers.mnist_tensors(train=True)
x = images[:DIGITS]  # (DIGITS, 1, 28, 28) in [0, 1]
g = torch.Generator().manual_seed(SEED)
eps = torch.randn(x.shape, generator=g)
grid = torch.stack([x + sigma * eps for sigma in SIGMAS], dim=1).flatten(0, 1)  # row per digit
titles = [f"sigma = {s}" for s in SIGMAS] + [""] * (len(grid) - len(SIGMAS))
fig = plots.show_images(grid, titles, ncols=len(SIGMAS))

# %%
save(
    fig,
    "B1_noising_grid",
    caption=f"Noising process z = x + sigma eps on {DIGITS} MNIST training digits for sigma = "
    f"{SIGMAS[0]:g} ... {SIGMAS[-1]:g} (columns). The denoiser is trained at sigma = 0.5, where the digits are still readable.",
    section="1.2 Using the UNet to train a denoiser",
    equation="z = x + sigma eps",
)

# %% [markdown]
# ## 1.2.1 Training
# The shipped checkpoint is the course recipe after five epochs; only its weights ship, so the
# panel after one epoch comes from its manifest, where the export recorded each epoch's outputs
# on the same eight noisy test digits. `RETRAIN = True` trains the recipe here instead.

# %%
if RETRAIN:  # prints its time after a few steps; interrupt to save, run again to resume
    models, config, history = train_recipe("denoiser", RETRAIN_EPOCHS, show=(1, 5))
else:
    models, config, history = course_models("denoiser", [5])
LAST = max(models)  # 5, the course's last epoch, unless RETRAIN_EPOCHS says otherwise
model = models[LAST]
CHECKPOINT = None if RETRAIN else model.manifest["sha256"][:12]

# %% [markdown]
# The loss per batch and its running mean, on a log scale. Doing nothing, $D(z) = z$, would
# score $\sigma^2 = 0.25$.

# %%
fig = plots.plot_loss(history, f"single-step denoiser, sigma = {config.sigma}")

# %%
save(
    fig,
    "B1_loss",
    caption=f"Training loss of the single-step denoiser (MSE between D(z) and the clean digit, "
    f"log scale) per batch of {config.batch_size} over {config.epochs} epochs, and its running "
    f"mean. Doing nothing, D(z) = z, would score sigma^2 = {config.sigma**2:.2f}.",
    section="1.2.1 Training",
    checkpoint=CHECKPOINT,
    equation="L = E ||D(z) - x||^2",
)

# %% [markdown]
# Eight held-out test digits, noised at the training level $\sigma = 0.5$ with a fixed seed, and
# the denoiser's outputs after the first and the fifth epoch.

# %%
x, z = noisy_test_digits(config.sigma, 8)  # noise seed 0, as the panel in the manifest
if RETRAIN:
    epoch1 = denoise(models[1], z).clamp(0, 1)
else:
    epoch1 = unpack_images(model.manifest["metrics"]["epochs"]["1"]["panel"])
last = denoise(model, z).clamp(0, 1)  # as the recorded panel
mse = {e: ((out - x) ** 2).mean().item() for e, out in ((1, epoch1), (LAST, last))}
print(f"MSE on these 8 digits: epoch 1 {mse[1]:.4f}, epoch {LAST} {mse[LAST]:.4f}")

# %%
fig = plots.show_images(
    torch.cat([x, z, epoch1, last]),
    ncols=8,
    row_labels=[
        "clean x",
        f"noisy z, sigma {config.sigma}",
        "D(z), epoch 1",
        f"D(z), epoch {LAST}",
    ],
)

# %%
save(
    fig,
    "B1_results",
    caption=f"Single-step denoising of {len(x)} test digits at sigma = {config.sigma}: clean, "
    f"noisy, and the denoiser's output after 1 and {LAST} epochs (MSE on these digits "
    f"{mse[1]:.4f} and {mse[LAST]:.4f}).",
    section="1.2.1 Training",
    checkpoint=CHECKPOINT,
    equation="x_hat = D(x + sigma eps)",
)

# %% [markdown]
# ## 1.2.2 Out-of-distribution testing
# The denoiser only ever saw $\sigma = 0.5$. The same test digits with other noise levels: below
# it the outputs stay clean, a little above it they hold, and from $\sigma = 0.8$ the denoiser
# starts to draw strokes that are not there, as if the noise were part of the digit. Each noisy
# row $z$ is followed by its output $D(z)$.

# %%
x, _ = noisy_test_digits(0.0, 4, seed=SEED)
eps = torch.randn(x.shape, generator=torch.Generator().manual_seed(SEED))
noisy = torch.stack([x + s * eps for s in SIGMAS], dim=1).flatten(0, 1)  # row per digit
pairs = torch.stack([noisy, denoise(model, noisy)], dim=1).unflatten(0, (len(x), len(SIGMAS)))
grid = pairs.transpose(1, 2).flatten(0, 2)  # per digit: a row of z, then a row of D(z)
fig = plots.show_images(
    grid,
    [f"sigma = {s}" for s in SIGMAS] + [""] * (len(grid) - len(SIGMAS)),
    ncols=len(SIGMAS),
    row_labels=["z", "D(z)"] * len(x),
)

# %%
save(
    fig,
    "B1_out_of_distribution",
    caption=f"The denoiser trained at sigma = {config.sigma} applied to {len(x)} test digits at "
    "other noise levels (columns): each noisy row z is followed by its output D(z).",
    section="1.2.2 Out-of-distribution testing",
    checkpoint=CHECKPOINT,
    equation="x_hat = D(x + sigma eps), sigma != 0.5",
)

# %% [markdown]
# How far off it is, measured: the mean squared error over `N` test digits against $\sigma$,
# next to doing nothing ($D(z) = z$ has error $\sigma^2$). The error grows about fivefold from the
# training level to $\sigma = 1$, and even a clean input ($\sigma = 0$) is not returned
# unchanged: the network learned to redraw digits, not to copy them.

# %%
errors = [denoiser_mse(model, s, N, seed=SEED) for s in SIGMAS]
for s, error in zip(SIGMAS, errors, strict=True):
    print(f"sigma {s}: MSE {error:.4f}  (noisy input {s**2:.4f})")

# %%
fig, ax = plt.subplots(figsize=(5, 3))
ax.plot(SIGMAS, errors, "o-", label="denoiser D(z)")
ax.plot(SIGMAS[1:], [s**2 for s in SIGMAS[1:]], "s--", color="gray", label="noisy input z")
ax.axvline(config.sigma, color="tab:red", lw=0.8, ls=":", label="training sigma")
ax.set(xlabel="sigma", ylabel="MSE to the clean digit", yscale="log")
ax.legend(fontsize=8)
fig.tight_layout()

# %%
save(
    fig,
    "B1_out_of_distribution_error",
    caption=f"Mean squared error of the denoiser on {N} test digits against the noise level "
    f"(log scale), trained at sigma = {config.sigma} only, beside the error of the noisy input "
    "itself.",
    section="1.2.2 Out-of-distribution testing",
    checkpoint=CHECKPOINT,
    equation="E ||D(x + sigma eps) - x||^2",
)

# %% [markdown]
# ## 1.2.3 Denoising pure noise
# The course's last question on the one-step denoiser: train it with pure noise as its input.
# The input says nothing about the target, so the loss is lowest when it outputs the same image
# for every input: the mean of the training digits. That is what the model learned:

# %%
noise_denoiser = load_checkpoint("noise_denoiser_epoch02")
outputs = denoise(
    noise_denoiser, torch.randn(7, 1, 28, 28, generator=torch.Generator().manual_seed(SEED))
)
mean_image = images.mean(0, keepdim=True)  # (1, 1, 28, 28): the mean training digit
gap = (outputs - mean_image).abs().max().item()
panel = torch.cat([outputs, mean_image])
fig = plots.show_images(panel, [f"noise {i + 1}" for i in range(7)] + ["mean digit"], ncols=8)
save(
    fig,
    "B1_pure_noise_denoiser",
    caption="Outputs of a denoiser trained on pure-noise inputs for 7 new noise images, and the "
    f"mean of the 60,000 training digits (right): they differ by at most {gap:.3f} per pixel.",
    section="1.2.3 Denoising pure noise",
    checkpoint=noise_denoiser.manifest["sha256"][:12],
    equation="argmin_D E ||D(eps) - x||^2 = E[x]",
)
