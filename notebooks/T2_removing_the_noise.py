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
# # T2. Removing the random noise
#
# Each DDPM step draws $x_{t'}$ from a Gaussian: its mean plus fresh noise $\sigma_t z$. What if
# we keep only the mean, the most likely $x_{t'}$? With DDPM's $\sigma_t$ the step becomes
#
# $$x_{t'} = \sqrt{\bar\alpha_{t'}}\,\hat x_0 + \sqrt{1-\bar\alpha_{t'}-\sigma_t^2}\;\hat\epsilon \qquad (\text{DDIM Eq. 12 without } \sigma_t z)$$
#
# which shrinks the noise in $x_t$ a little at every step, so $x_t$ is no longer distributed as
# $q(x_t)$ and the model sees inputs unlike its training data. DDIM ($\eta = 0$) removes the
# noise *and* sets $\sigma_t = 0$ inside the direction term, which keeps the marginals right.
# Below: the same trained model and the same $x_T$, sampled three ways with equally many steps.

# %%
import torch

from helpers import plots, sampling
from helpers.checkpoints import latest_course_model, load_checkpoint
from helpers.data import mnist_tensors
from helpers.evaluation import balanced_labels, edge_sharpness, frechet_text, report
from helpers.notebook import by_profile, saver

SEED = 0
STEPS = by_profile(quick=10, default=100, full=300)
N = by_profile(quick=10, default=100, full=1000)  # samples per sampler for the numbers
SHOWN = 10

model, config, epoch = latest_course_model("class")
classifier = load_checkpoint("digit_classifier")
save = saver(
    "T2_removing_the_noise",
    backend=f"MNIST 28x28, class-conditioned UNet (epoch {epoch}), gamma = 1",
    seed=SEED,
    checkpoint=model.manifest["sha256"][:12],
)

# %% [markdown]
# ## Three samplers, one starting noise
# The numbers: Frechet distance to held-out digits (lower is better) and the mean gradient
# magnitude of the images, a measure of how crisp the strokes are (real digits set the mark).

# %%
SAMPLERS = {
    "DDPM": dict(eta=1.0),
    "DDPM,\nnoise removed": dict(eta=1.0, remove_noise=True),
    "DDIM\n(eta = 0)": dict(eta=0.0),
}
labels = balanced_labels(N)
timesteps = sampling.ddim_timesteps(config.T, STEPS, "trailing")
results, shown = {}, []
for name, kwargs in SAMPLERS.items():
    digits, _ = sampling.sample_digits(
        model, config, labels, timesteps=timesteps, gamma=1.0, seed=SEED, **kwargs
    )
    results[name] = report(digits, labels, classifier) | {"sharpness": edge_sharpness(digits)}
    shown.append(digits[:SHOWN])

# %%
real_sharpness = edge_sharpness(mnist_tensors(train=False, verbose=False)[0][:N])
for name, r in results.items():
    print(
        f"{name.replace(chr(10), ' '):22s} {frechet_text(r)}, "
        f"sharpness {r['sharpness']:.3f} (real digits {real_sharpness:.3f}), "
        f"classified as requested {100 * r['accuracy']:.0f}%"
    )

# %% [markdown]
# Rows: DDPM, DDPM with its random term $\sigma_t z$ dropped, and DDIM with $\eta = 0$, each
# labelled with its Frechet distance (FD) and edge sharpness. Dropping the noise alone leaves
# $x_t$ with too little variance for the model: its digits come out thin and broken. DDIM drops
# the noise too but sets $\sigma_t = 0$ inside the direction term, which then carries the
# variance the noise did and keeps the marginals.

# %%
ddpm, removed, ddim = results.values()
row_labels = [
    f"{name}\nFD {r['frechet']:.0f}\nsharp. {r['sharpness']:.2f}" for name, r in results.items()
]
fig = plots.show_images(torch.cat(shown), ncols=SHOWN, row_labels=row_labels, size=1.3)

# %%
save(
    fig,
    "T2_removing_the_noise",
    caption=f"The same model and starting noise x_T sampled with {STEPS} steps by DDPM (top), by "
    "DDPM with its random term sigma_t z dropped (middle) and by DDIM with eta = 0 (bottom). "
    "Dropping the noise alone leaves x_t with too little variance for the model: its digits "
    f"come out thin and broken (Frechet distance, FD, {removed['frechet']:.0f} against DDPM's "
    f"{ddpm['frechet']:.0f}; edge sharpness, the mean gradient magnitude, "
    f"{removed['sharpness']:.2f} against {ddpm['sharpness']:.2f}, real digits "
    f"{real_sharpness:.2f}). DDIM drops the noise too but sets sigma_t = 0 inside the "
    "direction term, which then carries the variance the noise did and keeps the marginals: "
    f"FD {ddim['frechet']:.0f}.",
    section="Removing the random noise",
    equation="x_t' = sqrt(abar_t') x0_hat + sqrt(1 - abar_t' - sigma_t^2) eps_hat (no sigma_t z)",
    samples=N,
)
