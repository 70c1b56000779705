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
import torch
from torchvision.utils import make_grid

import helpers
from helpers import plots, sampling
from helpers.checkpoints import available, checkpoint_name, course_models, load_checkpoint
from helpers.evaluation import frechet_text, report
from helpers.notebook import by_profile, saver
from helpers.schedule import alphas_cumprod
from helpers.training import train_recipe

RETRAIN = False  # True: train here instead, checkpoints in runs/time at the repository root
RETRAIN_EPOCHS = 20  # the course's 20 take 74 min on a 2-core CPU (minutes on a GPU); try 2
SEED = 0
EPOCHS = [e for e in (5, 20) if checkpoint_name("time", e) in available()]  # shipped
STEPS = by_profile(quick=20, default=300)  # sampler steps (the course's DDPM: all 300)
N = by_profile(quick=40, default=100, full=1000)  # samples scored by the classifier

# %%
if RETRAIN:  # prints its time after a few steps; interrupt to save, run again to resume
    models, config, history = train_recipe("time", RETRAIN_EPOCHS, show=(5, 20))
else:
    models, config, history = course_models("time", EPOCHS)
EPOCHS = list(models)
final = models[max(EPOCHS)]
timesteps = sampling.ddim_timesteps(config.T, STEPS, "trailing")  # all T steps: 299, ..., 0
abar = alphas_cumprod(config.betas())  # (T,)
save = saver(
    "B2_time_conditioned_ddpm",
    backend="MNIST 28x28, course UNet D = 64",
    seed=SEED,
    checkpoint=None if RETRAIN else final.manifest["sha256"][:12],
)

# %% [markdown]
# ## 2.2 Training loss
# One point per batch of 128 (469 batches per epoch); the learning rate decays by 10x over the
# 20 epochs of the recipe (ExponentialLR).

# %%
fig = plots.plot_loss(
    history, f"time-conditioned UNet, epochs 1 to {max(EPOCHS)} of {config.epochs}"
)

# %%
save(
    fig,
    "B2_loss",
    caption="Training loss of the time-conditioned UNet (MSE between true and predicted noise, "
    f"log scale), per batch of {config.batch_size} and as a running mean.",
    section="2.2 Training the UNet",
    equation="L = E ||eps_theta(x_t, t/T) - eps||^2",
)

# %% [markdown]
# ## 2.3 The sampling loop (course Algorithm B.2)
# Start from pure noise $x_T$ and walk down the timesteps, one `ddpm_step` per pair $(t, t')$:
# the UNet's noise estimate $\epsilon_\theta(x_t, t/T)$ with $t$ normalised by $T$ as in
# training, the posterior's noise $v_\sigma = \sqrt{\tilde\beta}\,z$, and your `ddpm_step`
# (course Eq. A.3; $t' = t - 1$ with all $T$ steps). Last, the clean estimate $\hat x_0$ at the
# final timestep.

# %%
g = torch.Generator().manual_seed(SEED)  # draws x_T, then every step's z, as sample_digits does
device = next(final.parameters()).device  # the CPU, or a GPU after RETRAIN on one
ones = torch.ones(10, device=device)  # (10,): one t / T per digit

# %%
x_t = torch.randn(10, 1, 28, 28, generator=g).to(device)  # x_T: ten digits
with torch.no_grad():
    for t, t_prime in sampling.pairs(timesteps):  # (299, 298), ..., (1, 0) with all T steps
        eps_hat = final(x_t, t / config.T * ones)  # (10, 1, 28, 28), t normalised by T
        v_sigma = helpers.posterior_variance(t, t_prime, abar).sqrt() * torch.randn(
            x_t.shape, generator=g
        ).to(device)
        x_t = helpers.ddpm_step(x_t, eps_hat, t, t_prime, abar, v_sigma=v_sigma)
    eps_hat = final(x_t, timesteps[-1] / config.T * ones)
    x0_hat = helpers.estimate_x0(x_t, eps_hat, timesteps[-1], abar)  # at t = 0 with all T steps

# %% [markdown]
# `sampling.sample_digits` runs this loop (as DDIM with $\eta = 1$, the same posterior) from the
# same seed and gives the same digits, up to rounding: `ddpm_step` and `ddim_step` with
# $\eta = 1$ write the same posterior two ways. From here on the notebook uses it.

# %%
digits, _ = sampling.sample_digits(
    final, config, torch.zeros(10), timesteps=timesteps, seed=SEED, fast=False
)
# float32 rounding: 5e-5 at most over 300 steps on a CPU
torch.testing.assert_close(x0_hat.clamp(0, 1).cpu(), digits, atol=2e-4, rtol=0)
print("the unrolled loop and sampling.sample_digits agree")

# %% [markdown]
# ## 2.3 Samples after 5 and 20 epochs
# Forty samples per checkpoint, from the same starting noise. Without a class the model picks the
# digit itself. The kit's MNIST classifier says how much the samples look like digits: its mean
# top probability over `N` samples (real test digits score about 0.99), and the Frechet distance
# of its features to test digits next to real vs real: disjoint sets of test digits, the floor.

# %%
classifier = load_checkpoint("digit_classifier")
every = max(len(timesteps) // 30, 1)  # keep about 30 frames for the animation below
samples, scores = {}, {}
for epoch, model in models.items():  # in order of epochs: `frames` ends as the last model's
    samples[epoch], frames = sampling.sample_digits(
        model, config, torch.zeros(N), timesteps=timesteps, seed=SEED, frames_every=every
    )
    scores[epoch] = report(samples[epoch], None, classifier)
    print(f"epoch {epoch}: {scores[epoch]}")

# %%
figures = {
    epoch: plots.show_images(
        samples[epoch][:40],
        ncols=10,
        suptitle=f"after {epoch} epochs: classifier confidence {score['mean_confidence']:.2f}",
    )
    for epoch, score in scores.items()
}

# %%
for epoch, score in scores.items():
    save(
        figures[epoch],
        f"B2_samples_epoch{epoch:02d}",
        caption=f"Samples of the time-conditioned UNet after {epoch} epochs, DDPM over "
        f"{len(timesteps)} steps. Mean top probability of the MNIST classifier on {N} samples: "
        f"{score['mean_confidence']:.2f}; {frechet_text(score)}.",
        section="2.3 Sampling from the UNet",
        equation="x_t' from the DDPM posterior with eps_theta(x_t, t/T)",
        checkpoint=None if RETRAIN else models[epoch].manifest["sha256"][:12],
    )

# %% [markdown]
# ## Sampling animation
# The model's current estimate $\hat x_0$ for the first row of the last grid: noisy blobs at
# first (dividing by $\sqrt{\bar\alpha_t} \approx 0.2$ magnifies every error), the digit's
# shape settled about a third of the way down, the strokes cleaned up in the last steps.

# %%
grids = [make_grid(f[:10], nrow=10, padding=2, pad_value=1.0) for f in frames]
grids += grids[-1:] * 10  # hold the result for a moment

# %%
save(
    grids,
    "B2_sampling",
    caption=f"Animation of DDPM sampling with the time-conditioned UNet: the model's estimate "
    f"of the clean digit x0_hat every {every} of the {len(timesteps)} steps, ten samples.",
    section="2.3 Sampling from the UNet",
    equation="x0_hat = (x_t - sqrt(1 - abar_t) eps_hat) / sqrt(abar_t)",
)
