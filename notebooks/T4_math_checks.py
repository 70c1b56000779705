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
import matplotlib.pyplot as plt
import torch

import helpers
from helpers import plots, theory
from helpers.notebook import by_profile, saver

SEED = 0
N = by_profile(quick=2_000, default=50_000, full=500_000)  # Monte Carlo samples
X0 = 0.8  # one pixel value of a clean image
betas = helpers.linear_betas(300).double()
alphas_cumprod = helpers.alphas_cumprod(betas)
g = torch.Generator().manual_seed(SEED)
save = saver("T4_math_checks", backend="none (Monte Carlo)", seed=SEED)

# %% [markdown]
# ## 1. Closed form vs the iterated chain
# For each t, run N chains of t + 1 noising steps from $x_0$ and compare the empirical mean and
# standard deviation of $x_t$ with $\sqrt{\bar\alpha_t}\,x_0$ and $\sqrt{1-\bar\alpha_t}$.

# %%
ts = list(range(0, 300, 23)) + [299]
x0 = torch.full((N,), X0, dtype=torch.float64)
chain = [theory.markov_chain_forward(x0, t, betas, g) for t in ts]
worst = max(
    abs(x.mean() - alphas_cumprod[t].sqrt() * X0).item() for t, x in zip(ts, chain, strict=True)
)
print(
    f"largest gap between chain mean and closed form: {worst:.4f} (standard error {1 / N**0.5:.4f})"
)

# %% [markdown]
# Lines are the closed forms $\sqrt{\bar\alpha_t}\,x_0$ and $\sqrt{1-\bar\alpha_t}$; markers
# are the mean and standard deviation of $x_t$ over the simulated chains.

# %%
fig, ax = plt.subplots(figsize=(6, 3.2), layout="tight")
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
ax.set_xlabel(f"timestep t (linear schedule, T = {len(betas)})")
ax.legend(fontsize=7)
ax.set_title("q(x_t | x0): iterated Markov chain vs closed form", fontsize=10)

# %%
save(
    fig,
    "T4_closed_form_vs_chain",
    caption=f"Closed-form forward process vs the iterated Markov chain for one pixel x0 = {X0}: "
    "lines are sqrt(abar_t) x0 and sqrt(1 - abar_t); markers are the mean and std of x_t over "
    f"{N:,} simulated chains.",
    section="1. Closed form vs the iterated chain",
    equation="q(x_t | x0) = N(sqrt(abar_t) x0, (1 - abar_t) I)  (DDPM Eq. 4)",
)

# %% [markdown]
# ## 2. DDIM keeps the marginals for any sigma
# Sample $x_t \sim q(x_t \mid x_0)$ at t = 200, then $x_{t'}$ at t' = 100 from DDIM's posterior with
# $\sigma_t = \eta\sqrt{\tilde\beta}$ for $\eta$ = 0 (DDIM), 0.5 and 1 (DDPM). Every histogram should
# match the closed-form density of $q(x_{t'} \mid x_0)$.

# %%
t, t_prime = 200, 100
ETAS = [0.0, 0.5, 1.0]
x_t = helpers.forward(x0[:, None], t, alphas_cumprod, generator=g)  # (N, 1)
x_tps = {  # eta -> x_t' drawn from p_sigma(x_t' | x_t, x0), shape (N,)
    eta: theory.ddim_posterior_sample(x_t, x0[:, None], t, t_prime, alphas_cumprod, eta, g)[:, 0]
    for eta in ETAS
}
mean, std = (
    (alphas_cumprod[t_prime].sqrt() * X0).item(),
    (1 - alphas_cumprod[t_prime]).sqrt().item(),
)

# %%
fig, axes = plt.subplots(1, len(ETAS), figsize=(9, 2.8), sharey=True, layout="tight")
for ax, (eta, x_tp) in zip(axes, x_tps.items(), strict=True):
    title = f"eta = {eta}: mean {x_tp.mean():.3f}, std {x_tp.std():.3f}"
    plots.histogram_vs_normal(ax, x_tp.numpy(), mean, std, "q(x_t' | x0)", title)
axes[0].legend(fontsize=7)
fig.suptitle(
    f"x_t' from DDIM's posterior (t = {t} -> t' = {t_prime}); closed form: mean {mean:.3f}, std {std:.3f}",
    fontsize=10,
)

# %%
save(
    fig,
    "T4_ddim_marginals",
    caption=f"DDIM's posterior preserves the marginal: x_t ~ q(x_t | x0) at t = {t}, then x_t' at "
    f"t' = {t_prime} drawn from p_sigma(x_t' | x_t, x0) with sigma = eta sqrt(beta_tilde). For "
    f"eta = {', '.join(f'{e:g}' for e in ETAS[:-1])} and {ETAS[-1]:g} the histogram matches the "
    "closed-form density of q(x_t' | x0).",
    section="2. DDIM keeps the marginals",
    equation="x_t' = sqrt(abar_t') x0 + sqrt(1 - abar_t' - sigma^2) eps_t + sigma z  (DDIM Eq. 7, 12)",
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
