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
# # B3. A class-conditioned DDPM with classifier-free guidance
#
# The time-conditioned UNet of B2 also gets the digit's class $c$ as a one-hot vector, which
# scales the features at the 7x7 and 14x14 levels ($c_1 \cdot \text{unflatten} + t_1$,
# $c_2 \cdot \text{up}_1 + t_2$). During training the class is dropped (set to zeros) for 10% of
# the images, so one network learns both $\epsilon_\theta(x_t, t, c)$ and the unconditional
# $\epsilon_\theta(x_t, t, \varnothing)$ that guidance needs. The loss is still
#
# $$\mathcal{L} = \mathbb{E}_{x_0, c, t, \epsilon}\,\lVert \epsilon_\theta(\sqrt{\bar\alpha_t}\,x_0 + \sqrt{1-\bar\alpha_t}\,\epsilon,\ t/T,\ c) - \epsilon\rVert^2 \qquad \text{(course part B, Eq. B.8)}$$
#
# and sampling uses $\hat\epsilon = \epsilon_u + \gamma\,(\epsilon_c - \epsilon_u)$ with
# $\gamma = 5$, both estimates from one batched forward pass.

# %%
import matplotlib.pyplot as plt
import torch
from torchvision.utils import make_grid

from helpers import plots, sampling
from helpers.checkpoints import available, checkpoint_name, course_models, load_checkpoint
from helpers.evaluation import balanced_labels, report
from helpers.notebook import by_profile, saver
from helpers.training import train_recipe

RETRAIN = False  # True: train here instead, checkpoints in runs/class at the repository root
RETRAIN_EPOCHS = 20  # the course's 20 take 63 min on a 2-core CPU (minutes on a GPU); try 2
SEED = 0
GAMMA = 5.0
EPOCHS = [e for e in (5, 20) if checkpoint_name("class", e) in available()]  # shipped
STEPS = by_profile(quick=20, default=300)  # sampler steps (the course's DDPM: all 300)

# %%
if RETRAIN:  # prints its time after a few steps; interrupt to save, run again to resume
    models, config, history = train_recipe("class", RETRAIN_EPOCHS, show=(5, 20))
else:
    models, config, history = course_models("class", EPOCHS)
EPOCHS = list(models)
timesteps = sampling.ddim_timesteps(config.T, STEPS, "trailing")  # all T steps: 299, 298, ..., 0
final = models[max(EPOCHS)]
save = saver(
    "B3_class_conditioned_ddpm",
    backend="MNIST 28x28, course UNet D = 64",
    seed=SEED,
    checkpoint=None if RETRAIN else final.manifest["sha256"][:12],
)

# %% [markdown]
# ## 2.4 Training loss
# One point per batch of 128 over all epochs (469 batches each); the learning rate decays by 10x
# over training (ExponentialLR). It drops fast in the first epoch and keeps falling slowly as
# the learning rate decays.

# %%
fig = plots.plot_loss(
    history, f"class-conditioned UNet, epochs 1 to {max(EPOCHS)} of {config.epochs}"
)

# %%
save(
    fig,
    "B3_loss",
    caption="Training loss of the class-conditioned UNet (MSE between true and predicted noise, "
    "log scale), per batch and as a running mean. It drops fast in the first epoch and keeps "
    "falling slowly as the learning rate decays.",
    section="2.4 Adding class-conditioning to the UNet",
    equation="L = E ||eps_theta(x_t, t/T, c) - eps||^2, c dropped with p = 0.1",
)

# %% [markdown]
# ## 2.5 Samples after 5 and 20 epochs
# Four samples of every digit (columns 0 to 9), each with the course's DDPM sampler over all
# $T = 300$ steps (fewer in the quick profile) and guidance $\gamma = 5$. The same seed gives
# the same starting noise for both checkpoints, so the grids can be compared cell by cell.

# %%
labels = torch.arange(10).repeat(4)  # (40,) four rows of 0..9
every = max(len(timesteps) // 30, 1)  # keep about 30 frames for the animation below
figures = {}
for epoch, model in models.items():  # in order of epochs: `frames` ends as the last model's
    digits, frames = sampling.sample_digits(
        model, config, labels, timesteps=timesteps, gamma=GAMMA, seed=SEED, frames_every=every
    )
    figures[epoch] = plots.show_images(
        digits, [str(d) for d in range(10)], ncols=10, suptitle=f"after {epoch} epochs"
    )

# %%
for epoch, fig in figures.items():
    save(
        fig,
        f"B3_samples_epoch{epoch:02d}",
        caption=f"Class-conditioned samples after {epoch} epochs: {len(labels) // 10} per digit "
        f"(columns), DDPM over {len(timesteps)} steps with classifier-free guidance "
        f"gamma = {GAMMA:g}.",
        section="2.5 Sampling from the class-conditioned UNet",
        equation="eps_hat = eps_u + gamma (eps_c - eps_u); x_{t-1} from the DDPM posterior",
        checkpoint=None if RETRAIN else models[epoch].manifest["sha256"][:12],
    )

# %% [markdown]
# ## Sampling animation
# The current estimate $\hat x_0$ every 10th step for the first row of the last grid, one
# sample of each digit: the class is decided early, the strokes are refined late.

# %%
grids = [make_grid(f[:10], nrow=10, padding=2, pad_value=1.0) for f in frames]
grids += grids[-1:] * 10  # hold the result for a moment

# %%
save(
    grids,
    "B3_sampling",
    caption=f"Animation of DDPM sampling with guidance gamma = {GAMMA:g}: the model's estimate "
    f"of the clean digit x0_hat every {every} of the {len(timesteps)} steps, one sample per "
    "digit.",
    section="2.5 Sampling from the class-conditioned UNet",
    equation="x0_hat = (x_t - sqrt(1 - abar_t) eps_hat) / sqrt(abar_t)",
)

# %% [markdown]
# ## Guidance sweep: what $\gamma$ buys and what it costs
# For each $\gamma$, `SWEEP_N` samples (equally many of each digit) are scored by the kit's MNIST
# classifier: the share classified as the requested digit, and the Frechet distance of their
# classifier features to held-out test digits, next to the distance between disjoint sets of
# test digits at the same count (real vs real, the floor). $\gamma = 0$ is the unconditional model.

# %%
SWEEP_N = by_profile(quick=10, default=100, full=1000)  # samples per gamma
SWEEP_STEPS = by_profile(quick=10, default=50, full=300)
GAMMAS = [0.0, 1.0, 2.0, 3.0, 5.0, 8.0]
classifier = load_checkpoint("digit_classifier")
sweep_labels = balanced_labels(SWEEP_N)
sweep_steps = sampling.ddim_timesteps(config.T, SWEEP_STEPS, "trailing")

# %%
rows, examples = [], []
for gamma in GAMMAS:
    digits, _ = sampling.sample_digits(
        final, config, sweep_labels, timesteps=sweep_steps, gamma=gamma, seed=SEED
    )
    rows.append(report(digits, sweep_labels, classifier))
    examples.append(digits[sweep_labels == 4][:8])
    print(f"gamma {gamma:g}: {rows[-1]}")

# %% [markdown]
# Left: the share of samples the classifier assigns to the requested digit. Right: the Frechet
# distance of their classifier features to test digits (gray: real vs real, disjoint sets of test digits).
# Guidance makes the class unmistakable; beyond a small $\gamma$ the distance grows again as
# samples become uniform, thick, prototypical digits.

# %%
fig, (ax_acc, ax_fd) = plt.subplots(1, 2, figsize=(9, 3.2), layout="tight")
ax_acc.plot(GAMMAS, [100 * r["accuracy"] for r in rows], "o-")
ax_acc.set(xlabel="guidance scale gamma", ylabel="classified as requested (%)")
ax_fd.plot(GAMMAS, [r["frechet"] for r in rows], "o-", label="samples vs test digits")
plots.real_band(ax_fd, rows[0])
ax_fd.set(xlabel="guidance scale gamma", ylabel="Frechet distance")
ax_fd.legend(fontsize=8)
fig.suptitle(f"{SWEEP_N} samples per gamma, {len(sweep_steps)}-step DDPM", fontsize=10)

# %%
save(
    fig,
    "B3_guidance_sweep",
    caption=f"Guidance sweep with the epoch-{max(EPOCHS)} model: share of {SWEEP_N} samples the "
    "MNIST classifier assigns to the requested digit (left) and Frechet distance of their "
    "classifier features to test digits (right; gray: real vs real, disjoint sets of test digits). "
    "Guidance makes the class unmistakable; beyond a small gamma the distance grows again as "
    "samples become uniform, thick, prototypical digits.",
    section="2.5 Sampling from the class-conditioned UNet",
    equation="eps_hat = eps_u + gamma (eps_c - eps_u)",
    sampler=f"DDPM (eta = 1), {len(sweep_steps)} trailing timesteps",
)

# %% [markdown]
# Samples of the digit 4 at each guidance scale (rows), from the same noise. Without guidance
# ($\gamma = 0$) the model ignores the class; as $\gamma$ grows the 4s become cleaner and more
# alike.

# %%
fig = plots.show_images(
    torch.cat(examples),
    ncols=len(examples[0]),
    row_labels=[f"gamma {g:g}" for g in GAMMAS],
    size=1.0,
)

# %%
save(
    fig,
    "B3_guidance_samples",
    caption="Samples of the digit 4 at each guidance scale (rows), from the same noise. "
    "Without guidance (gamma 0) the model ignores the class; as gamma grows the 4s become "
    "cleaner and more alike.",
    section="2.5 Sampling from the class-conditioned UNet",
    equation="eps_hat = eps_u + gamma (eps_c - eps_u)",
)
