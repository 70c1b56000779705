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
# # T3. DDIM inversion, and merging two digits in noise space
#
# With $\eta = 0$ sampling is a deterministic map from $x_T$ to $x_0$, the discretisation of an
# ODE. Run backwards it *encodes* an image: from $x_t$ to the next, noisier $t_+$,
#
# $$x_{t_+} = \sqrt{\bar\alpha_{t_+}}\,\hat x_0(x_t) + \sqrt{1-\bar\alpha_{t_+}}\;\epsilon_\theta(x_t, t) \qquad \text{(DDIM Eq. 13, run forwards)}$$
#
# Decoding that $x_T$ with the same steps gives the image back, up to the error of reusing the
# estimate at $t$ for the step to $t_+$: it shrinks as the steps get smaller. The model is the
# class-conditioned UNet of B3, given each digit's true class and no guidance ($\gamma = 1$).

# %%
import matplotlib.pyplot as plt
import torch

from helpers import plots, sampling
from helpers.checkpoints import latest_course_model
from helpers.data import mnist_tensors
from helpers.notebook import by_profile, saver
from helpers.schedule import alphas_cumprod

SEED = 0
STEPS = by_profile(quick=[5, 20], default=[5, 10, 20, 50, 100], full=[5, 10, 20, 50, 100, 300])
N = by_profile(quick=4, default=16, full=100)  # held-out digits to invert
MERGE_STEPS = by_profile(quick=20, default=100, full=300)
WEIGHTS = [0.0, 0.25, 0.5, 0.75, 1.0]

model, config, epoch = latest_course_model("class")
abar = alphas_cumprod(config.betas())
save = saver(
    "T3_ddim_inversion",
    backend=f"MNIST 28x28, class-conditioned UNet (epoch {epoch})",
    seed=SEED,
    checkpoint=model.manifest["sha256"][:12],
)

# %% [markdown]
# ## 1. Invert, decode, compare
# `N` held-out test digits, each encoded to $x_T$ and decoded again with $S$ trailing steps, in
# float32. The error is the mean squared error in $[-1, 1]$ pixel units.

# %%
test_images, test_labels = mnist_tensors(train=False)
x0, c = test_images[:N], test_labels[:N]
eps_model = sampling.class_eps_model(model, config.T, c, gamma=1.0)

# %%
errors, latents, decoded = [], {}, {}
for steps in STEPS:
    timesteps = sampling.ddim_timesteps(config.T, steps, "trailing")
    latents[steps] = sampling.invert(eps_model, x0, timesteps, abar)
    decoded[steps], _ = sampling.sample(eps_model, latents[steps], timesteps, abar, eta=0.0)
    errors.append((2 * decoded[steps] - 2 * x0).pow(2).mean().item())  # [0,1] -> [-1,1] units
    print(f"S = {steps:3d}: reconstruction MSE {errors[-1]:.2e}")

# %% [markdown]
# The mean squared error between each digit and its reconstruction (invert to $x_T$, decode
# with $\eta = 0$), against the number of steps: it falls steadily as the steps shrink.

# %%
fig, ax = plt.subplots(figsize=(4.5, 3), layout="tight")
plots.plot_lines(
    ax,
    STEPS,
    {"reconstruction": errors},
    "inversion and decoding steps S",
    "reconstruction MSE ([-1, 1] units)",
    reference=("1e-3", 1e-3),
    log="xy",
)

# %%
save(
    fig,
    "T3_inversion_error",
    caption=f"DDIM inversion of {N} held-out digits: mean squared error between each digit and "
    "its reconstruction (invert to x_T, decode with eta = 0), against the number of steps. "
    "The error falls steadily as the steps shrink.",
    section="1. DDIM inversion",
    equation="x_t+ = sqrt(abar_t+) x0_hat(x_t) + sqrt(1 - abar_t+) eps_theta(x_t, t)",
)

# %% [markdown]
# Held-out digits (top), their DDIM latents $x_T$ (shown as $x_T / 3 + 0.5$), and their
# reconstructions with the fewest and the most steps. The latent is far from white noise: the
# digit's outline survives in a regular pattern (the schedule leaves $\sqrt{\bar\alpha_{299}}$
# of the image in $x_{299}$, and the model's noise estimate is structured), yet decoding it
# returns the digit.

# %%
few, many = STEPS[0], STEPS[-1]
rows = torch.cat([x0[:8], (latents[many][:8] / 3 + 0.5), decoded[few][:8], decoded[many][:8]])
fig = plots.show_images(
    rows,
    ncols=min(8, N),
    row_labels=["test digit", f"x_T ({many} steps)", f"decoded, S = {few}", f"decoded, S = {many}"],
)

# %%
save(
    fig,
    "T3_inversion_examples",
    caption=f"Held-out digits (top), their DDIM latents x_T (shown as x_T / 3 + 0.5), and their "
    f"reconstructions with {few} and {many} steps. The latent is far from white noise: the "
    f"digit's outline survives in a regular pattern (the schedule leaves sqrt(abar_{config.T - 1})"
    f" = {abar[-1].sqrt():.2f} of the image in x_{config.T - 1}, and the model's noise estimate "
    "is structured), yet decoding it returns the digit.",
    section="1. DDIM inversion",
    equation="x_T = DDIM^-1(x_0); x_0 = DDIM(x_T)",
)

# %% [markdown]
# ## 2. Inversion-merge: mixing two digits in noise space
# Invert a 2 and a 5 (with the unconditional branch, so no class is imposed), mix their latents
# and decode the mix, against mixing the two images pixel by pixel. The straight-line mix of two
# Gaussian latents has too small a norm; spherical interpolation (slerp) keeps it.

# %%
two = test_images[test_labels == 2][:1]
five = test_images[test_labels == 5][:1]
pair = torch.cat([two, five])
uncond = sampling.class_eps_model(model, config.T, torch.zeros(1, dtype=torch.long), gamma=0.0)
timesteps = sampling.ddim_timesteps(config.T, MERGE_STEPS, "trailing")
z = sampling.invert(
    sampling.class_eps_model(model, config.T, torch.tensor([2, 5]), gamma=0.0),
    pair,
    timesteps,
    abar,
)

# %%
pixel, linear, spherical = [], [], []
for w in WEIGHTS:
    pixel.append(torch.lerp(two, five, w))
    for mixes, z_w in (
        (linear, torch.lerp(z[:1], z[1:], w)),
        (spherical, sampling.slerp(z[:1], z[1:], w)),
    ):
        out, _ = sampling.sample(uncond, z_w, timesteps, abar, eta=0.0)
        mixes.append(out.clamp(0, 1))

# %% [markdown]
# Top: the pixel-space mix $(1 - w)\,x_2 + w\,x_5$, a double exposure. Middle and bottom: the
# latents mixed linearly or spherically, and decoded. The ends reproduce the two digits. The
# spherical mix decodes to one solid shape at every $w$, moving from the 2 to the 5; the linear
# mix has too small a norm in the middle and decodes to thin, broken strokes, like sampling
# with the noise removed (T2).

# %%
fig = plots.show_images(
    torch.cat(pixel + linear + spherical),
    [f"w = {w:g}" for w in WEIGHTS],
    ncols=len(WEIGHTS),
    row_labels=["pixel mix", "latent mix\n(linear)", "latent mix\n(slerp)"],
)

# %%
save(
    fig,
    "T3_inversion_merge",
    caption="Merging a 2 and a 5. Top: pixel-space mix (1 - w) x_2 + w x_5, a double exposure. "
    f"Middle and bottom: both digits DDIM-inverted ({MERGE_STEPS} steps, unconditional), their "
    "latents mixed linearly or spherically, and decoded. The ends reproduce the two digits. "
    "The spherical mix decodes to one solid shape at every w, moving from the 2 to the 5; the "
    "linear mix has too small a norm in the middle and decodes to thin, broken strokes, like "
    "sampling with the noise removed (T2).",
    section="2. Inversion-merge",
    equation="z_w = slerp(DDIM^-1(x_2), DDIM^-1(x_5), w); x_w = DDIM(z_w)",
)
