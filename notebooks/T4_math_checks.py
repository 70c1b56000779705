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
# # T4. The math, checked by experiment
#
# Three facts the samplers rely on, each checked by Monte Carlo against its closed form
# (the test suite checks the same facts, in `tests/test_theory.py`):
#
# 1. Iterating the Markov chain $q(x_t \mid x_{t-1}) = \mathcal{N}(\sqrt{1-\beta_t}\,x_{t-1}, \beta_t I)$
#    gives the closed form $q(x_t \mid x_0) = \mathcal{N}(\sqrt{\bar\alpha_t}\,x_0, (1-\bar\alpha_t) I)$ (DDPM Eq. 4).
# 2. DDIM's posterior $p_\sigma(x_{t'} \mid x_t, x_0)$ keeps that marginal for *any* $\sigma_t$ (DDIM Lemma 1):
#    $x_{t'} = \sqrt{\bar\alpha_{t'}}\,x_0 + \sqrt{1-\bar\alpha_{t'}-\sigma_t^2}\,\epsilon_t + \sigma_t z$.
# 3. The strided DDPM step is the exact Gaussian posterior of the strided chain $x_0 \to x_{t'} \to x_t$.

# %%
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch

import helpers
from helpers import plots, theory

FIGURES = Path(os.environ.get("KIT_FIGURES", "../figures"))
PROFILE = os.environ.get("KIT_PROFILE", "default")
SEED = 0
N = {"quick": 2_000, "default": 50_000, "full": 500_000}[PROFILE]  # Monte Carlo samples
X0 = 0.8  # one pixel value of a clean image
betas = helpers.linear_betas(300).double()
alphas_cumprod = helpers.alphas_cumprod(betas)
g = torch.Generator().manual_seed(SEED)

# %% [markdown]
# ## 1. Closed form vs the iterated chain
# For each t, run N chains of t + 1 noising steps from $x_0$ and compare the empirical mean and
# standard deviation of $x_t$ with $\sqrt{\bar\alpha_t}\,x_0$ and $\sqrt{1-\bar\alpha_t}$.

# %%
ts = list(range(0, 300, 23)) + [299]
x0 = torch.full((N,), X0, dtype=torch.float64)
chain = [theory.markov_chain_forward(x0, t, betas, g) for t in ts]
fig, ax = plt.subplots(figsize=(6, 3.2))
ax.plot(alphas_cumprod.sqrt() * X0, color="tab:blue", label="closed form mean sqrt(abar_t) x0")
ax.plot((1 - alphas_cumprod).sqrt(), color="tab:orange", label="closed form std sqrt(1 - abar_t)")
ax.plot(
    ts,
    [x.mean() for x in chain],
    "o",
    color="tab:blue",
    mfc="none",
    label=f"chain mean ({N:,} runs)",
)
ax.plot(ts, [x.std() for x in chain], "s", color="tab:orange", mfc="none", label="chain std")
ax.set_xlabel("timestep t (linear schedule, T = 300)")
ax.legend(fontsize=7)
ax.set_title("q(x_t | x0): iterated Markov chain vs closed form", fontsize=10)
fig.tight_layout()
plots.save_figure(
    fig,
    FIGURES / "T4_closed_form_vs_chain",
    caption=f"Closed-form forward process vs the iterated Markov chain for one pixel x0 = {X0}: lines are "
    f"sqrt(abar_t) x0 and sqrt(1 - abar_t); markers are the mean and std of x_t over {N:,} simulated chains.",
    notebook="T4_math_checks",
    section="1. Closed form vs the iterated chain",
    equation="q(x_t | x0) = N(sqrt(abar_t) x0, (1 - abar_t) I)  (DDPM Eq. 4)",
    backend="none (Monte Carlo)",
    seed=SEED,
)
worst = max(
    abs(x.mean() - alphas_cumprod[t].sqrt() * X0).item() for t, x in zip(ts, chain, strict=True)
)
print(
    f"largest gap between chain mean and closed form: {worst:.4f} (standard error {1 / N**0.5:.4f})"
)

# %% [markdown]
# ## 2. DDIM keeps the marginals for any sigma
# Sample $x_t \sim q(x_t \mid x_0)$ at t = 200, then $x_{t'}$ at t' = 100 from DDIM's posterior with
# $\sigma_t = \eta\sqrt{\tilde\beta}$ for $\eta$ = 0 (DDIM), 0.5 and 1 (DDPM). Every histogram should
# match the closed-form density of $q(x_{t'} \mid x_0)$.

# %%
t, t_prime = 200, 100
x_t = helpers.forward(x0[:, None], t, alphas_cumprod, generator=g)  # (N, 1)
mean, std = (
    (alphas_cumprod[t_prime].sqrt() * X0).item(),
    (1 - alphas_cumprod[t_prime]).sqrt().item(),
)
grid = np.linspace(mean - 4 * std, mean + 4 * std, 200)
fig, axes = plt.subplots(1, 3, figsize=(9, 2.8), sharey=True)
for ax, eta in zip(axes, [0.0, 0.5, 1.0], strict=True):
    x_tp = theory.ddim_posterior_sample(x_t, x0[:, None], t, t_prime, alphas_cumprod, eta, g)[:, 0]
    ax.hist(x_tp.numpy(), bins=60, density=True, color="tab:gray", alpha=0.6, label="samples")
    ax.plot(
        grid,
        np.exp(-0.5 * ((grid - mean) / std) ** 2) / (std * np.sqrt(2 * np.pi)),
        "k",
        label="q(x_t' | x0)",
    )
    ax.set_title(f"eta = {eta}: mean {x_tp.mean():.3f}, std {x_tp.std():.3f}", fontsize=9)
axes[0].legend(fontsize=7)
fig.suptitle(
    f"x_t' from DDIM's posterior (t = {t} -> t' = {t_prime}); closed form: mean {mean:.3f}, std {std:.3f}",
    fontsize=10,
)
fig.tight_layout()
plots.save_figure(
    fig,
    FIGURES / "T4_ddim_marginals",
    caption="DDIM's posterior preserves the marginal: x_t ~ q(x_t | x0) at t = 200, then x_t' at t' = 100 "
    "drawn from p_sigma(x_t' | x_t, x0) with sigma = eta sqrt(beta_tilde). For eta = 0, 0.5 and 1 the "
    "histogram matches the closed-form density of q(x_t' | x0).",
    notebook="T4_math_checks",
    section="2. DDIM keeps the marginals",
    equation="x_t' = sqrt(abar_t') x0 + sqrt(1 - abar_t' - sigma^2) eps_t + sigma z  (DDIM Eq. 7, 12)",
    backend="none (Monte Carlo)",
    seed=SEED,
)

# %% [markdown]
# ## 3. The strided step is the posterior of the strided chain
# Bayes' rule for $x_0 \to x_{t'} \to x_t$ gives a Gaussian; `ddpm_step` with the exact noise and
# `posterior_variance` must equal its mean and variance.

# %%
for t, t_prime in [(299, 269), (200, 13), (30, 0)]:
    x_t = torch.randn(4, generator=g, dtype=torch.float64)
    mean, var = theory.gaussian_posterior(x_t, x0[:4], t, t_prime, alphas_cumprod)
    step = helpers.ddpm_step(
        x_t, theory.exact_eps(x_t, x0[:4], t, alphas_cumprod), t, t_prime, alphas_cumprod
    )
    gap = max(
        (step - mean).abs().max().item(),
        abs(helpers.posterior_variance(t, t_prime, alphas_cumprod) - var).item(),
    )
    print(f"t = {t:3d} -> t' = {t_prime:3d}: largest difference {gap:.1e}")
