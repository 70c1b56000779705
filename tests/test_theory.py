"""The math checked numerically: closed form vs Markov chain, DDIM's marginals, strided posterior.

Monte Carlo tolerances are 5 standard errors: for a mean, 5 sqrt(var / N); for a variance,
5 var sqrt(2 / N).
"""

import pytest
import torch

import helpers
from helpers import theory

N = 200_000
BETAS = helpers.linear_betas(300).double()
ABAR = helpers.alphas_cumprod(BETAS)


def _x0():
    return torch.tensor([-1.0, -0.3, 0.4, 1.0], dtype=torch.float64).expand(N, 4)  # (N, 4)


def _check_law(samples, mean, var):
    """Empirical mean and variance of samples (N, D) match mean (D,) and var (scalar)."""
    torch.testing.assert_close(samples.mean(0), mean, rtol=0, atol=5 * (var / N) ** 0.5)
    torch.testing.assert_close(
        samples.var(0), torch.full_like(mean, float(var)), rtol=0, atol=5 * var * (2 / N) ** 0.5
    )


@pytest.mark.parametrize("t", [0, 10, 100, 299])
def test_iterated_markov_chain_has_the_closed_form_marginal(t):
    x0 = _x0()
    x_t = theory.markov_chain_forward(x0, t, BETAS, torch.Generator().manual_seed(t))
    _check_law(x_t, ABAR[t].sqrt() * x0[0], 1 - ABAR[t])


@pytest.mark.parametrize("eta", [0.0, 0.5, 1.0])
@pytest.mark.parametrize("t, t_prime", [(299, 200), (150, 30), (10, 0)])
def test_ddim_posterior_preserves_the_marginals_for_any_sigma(t, t_prime, eta):
    g = torch.Generator().manual_seed(1)
    x0 = _x0()
    x_t = helpers.forward(x0, t, ABAR, generator=g)
    x_t_prime = theory.ddim_posterior_sample(x_t, x0, t, t_prime, ABAR, eta, generator=g)
    _check_law(x_t_prime, ABAR[t_prime].sqrt() * x0[0], 1 - ABAR[t_prime])


@pytest.mark.parametrize("t, t_prime", [(299, 270), (90, 0), (200, 13)])
def test_the_strided_ddpm_step_is_the_posterior_of_the_strided_chain(t, t_prime):
    g = torch.Generator().manual_seed(2)
    x0, x_t = (
        torch.randn(8, generator=g, dtype=torch.float64),
        torch.randn(8, generator=g, dtype=torch.float64),
    )
    mean, var = theory.gaussian_posterior(x_t, x0, t, t_prime, ABAR)
    eps = theory.exact_eps(x_t, x0, t, ABAR)
    torch.testing.assert_close(helpers.ddpm_step(x_t, eps, t, t_prime, ABAR), mean)
    torch.testing.assert_close(helpers.posterior_variance(t, t_prime, ABAR), var)


def test_ddim_inversion_reconstructs_held_out_digits_with_the_shipped_model():
    """Done-when of the theory issue: eta = 0, 50 steps, MSE below 1e-3 in [-1, 1] units."""
    from helpers import sampling
    from helpers.checkpoints import latest_course_model

    model, config, _ = latest_course_model("class")
    abar = helpers.alphas_cumprod(config.betas())
    images, labels = helpers.mnist_tensors(train=False, verbose=False)
    x0, c = images[-16:], labels[-16:]  # held out: the model never saw test digits
    eps_model = sampling.class_eps_model(model, config.T, c, gamma=1.0)
    timesteps = sampling.ddim_timesteps(config.T, 50, "trailing")
    x_T = sampling.invert(eps_model, x0, timesteps, abar, progress=False)
    back, _ = sampling.sample(eps_model, x_T, timesteps, abar, eta=0.0, progress=False)
    assert (2 * back - 2 * x0).pow(2).mean() < 1e-3
    assert (x_T - x0).pow(2).mean() > 0.1  # it went somewhere: x_T is far from the image
