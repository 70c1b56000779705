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
# # B2. A time-conditioned DDPM
#
# One UNet $\epsilon_\theta(x_t, t)$ predicts the noise in $x_t$ at every noise level, told the
# level by $t/T \in [0, 1]$ through two small fully connected blocks added at the 7x7 and 14x14
# levels ($\text{unflatten} + t_1$, $\text{up}_1 + t_2$). Training draws an image, a timestep
# and noise, and regresses the noise:
#
# $$\mathcal{L} = \mathbb{E}_{x_0, t, \epsilon}\,\lVert \epsilon_\theta(\sqrt{\bar\alpha_t}\,x_0 + \sqrt{1-\bar\alpha_t}\,\epsilon,\ t/T) - \epsilon\rVert^2 \qquad \text{(course part B, Eq. B.5)}$$
#
# with $T = 300$ and betas evenly spaced from $10^{-4}$ to $0.02$. Sampling runs the DDPM
# posterior from $t = 299$ down to 0.

# %%
import os
from pathlib import Path

import torch
from torchvision.utils import make_grid

from helpers import plots, sampling
from helpers.checkpoints import available, checkpoint_name, course_models, load_checkpoint
from helpers.evaluation import report
from helpers.training import train_recipe

PROFILE = os.environ.get("KIT_PROFILE", "default")
FIGURES = Path(os.environ.get("KIT_FIGURES", "../figures"))
RETRAIN = False  # True: train here instead, checkpoints in runs/time at the repository root
RETRAIN_EPOCHS = 20  # the course's 20 take 74 min on a 2-core CPU (minutes on a GPU); try 2
SEED = 0
EPOCHS = [e for e in (5, 20) if checkpoint_name("time", e) in available()]  # shipped
STEPS = {"quick": 20, "default": 300, "full": 300}[PROFILE]
N = {"quick": 40, "default": 100, "full": 1000}[PROFILE]  # samples scored by the classifier

if RETRAIN:  # prints its time after a few steps; interrupt to save, run again to resume
    models, config, history = train_recipe("time", RETRAIN_EPOCHS, show=(5, 20))
else:
    models, config, history = course_models("time", EPOCHS)
EPOCHS = list(models)
timesteps = sampling.ddim_timesteps(config.T, STEPS, "trailing")  # all T steps: 299, ..., 0
save = plots.saver(
    FIGURES,
    notebook="B2_time_conditioned_ddpm",
    backend="MNIST 28x28, course UNet D = 64",
    seed=SEED,
    checkpoint=None if RETRAIN else models[max(EPOCHS)].manifest["sha256"][:12],
)

# %% [markdown]
# ## 2.2 Training loss
# One point per batch of 128 (469 batches per epoch); the learning rate decays by 10x over the
# 20 epochs of the recipe (ExponentialLR).

# %%
fig = plots.plot_loss(
    history, f"time-conditioned UNet, epochs 1 to {max(EPOCHS)} of {config.epochs}"
)
save(
    fig,
    "B2_loss",
    caption="Training loss of the time-conditioned UNet (MSE between true and predicted noise, "
    "log scale), per batch of 128 and as a running mean.",
    section="2.2 Training the UNet",
    equation="L = E ||eps_theta(x_t, t/T) - eps||^2",
)

# %% [markdown]
# ## 2.3 Samples after 5 and 20 epochs
# Forty samples per checkpoint, from the same starting noise. Without a class the model picks the
# digit itself. The kit's MNIST classifier says how much the samples look like digits: its mean
# top probability over `N` samples (real test digits score about 0.99), and the Frechet distance
# of its features to test digits next to that of real training digits (the floor).

# %%
classifier = load_checkpoint("digit_classifier")
every = max(len(timesteps) // 30, 1)  # keep about 30 frames for the animation below
for epoch, model in models.items():  # in order of epochs: `frames` ends as the last model's
    digits, frames = sampling.sample_digits(
        model, config, torch.zeros(N), timesteps=timesteps, seed=SEED, frames_every=every
    )
    score = report(digits, None, classifier)
    print(f"epoch {epoch}: {score}")
    fig = plots.show_images(
        digits[:40],
        ncols=10,
        suptitle=f"after {epoch} epochs: classifier confidence {score['mean_confidence']:.2f}",
    )
    save(
        fig,
        f"B2_samples_epoch{epoch:02d}",
        caption=f"Samples of the time-conditioned UNet after {epoch} epochs, DDPM over "
        f"{len(timesteps)} steps. Mean top probability of the MNIST classifier on {N} samples: "
        f"{score['mean_confidence']:.2f}; Frechet distance {score['frechet']:.1f} (real vs real "
        f"{score['frechet_real_vs_real']:.1f}).",
        section="2.3 Sampling from the UNet",
        equation="x_t' from the DDPM posterior with eps_theta(x_t, t/T)",
        checkpoint=None if RETRAIN else model.manifest["sha256"][:12],
    )

# %% [markdown]
# ## Sampling animation
# The model's current estimate $\hat x_0$ for the first row of the last grid: noisy blobs at
# first (dividing by $\sqrt{\bar\alpha_t} \approx 0.2$ magnifies every error), the digit's
# shape settled about a third of the way down, the strokes cleaned up in the last steps.

# %%
grids = [make_grid(f[:10], nrow=10, padding=2, pad_value=1.0) for f in frames]
save(
    grids + grids[-1:] * 10,  # hold the result for a moment
    "B2_sampling",
    caption=f"Animation of DDPM sampling with the time-conditioned UNet: the model's estimate "
    f"of the clean digit x0_hat every {every} of the {len(timesteps)} steps, ten samples.",
    section="2.3 Sampling from the UNet",
    equation="x0_hat = (x_t - sqrt(1 - abar_t) eps_hat) / sqrt(abar_t)",
)
