"""Reverse steps: an analytic oracle, identities between DDPM and DDIM, and diffusers' schedulers
as an independent reference (same inputs, same injected noise, float32, tolerance 1e-5)."""

import pytest
import torch
from diffusers import DDIMScheduler, DDPMScheduler

import helpers

COSINE = helpers.alphas_cumprod(helpers.cosine_betas(1000))
LINEAR = helpers.alphas_cumprod(helpers.linear_betas(300))


def _randn(seed, shape=(2, 3, 8, 8), dtype=torch.float32):
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def _pairs(timesteps):
    return list(zip(timesteps[:-1], timesteps[1:], strict=True))


def _exact_eps(x_t, t, x0, abar):
    """The perfect noise predictor for a data set holding the single image x0."""
    return (x_t - abar[t].sqrt() * x0) / (1 - abar[t]).sqrt()


# --- analytic oracle -------------------------------------------------------------------------


def test_ddpm_with_the_exact_predictor_keeps_x0_hat_equal_to_x0():
    abar = COSINE.double()
    x0 = _randn(0, dtype=torch.float64).clamp(-1, 1)
    x_t = helpers.forward(x0, 990, abar, eps=_randn(1, dtype=torch.float64))
    for t, t_prime in _pairs(helpers.strided_timesteps()):
        eps_hat = _exact_eps(x_t, t, x0, abar)
        torch.testing.assert_close(helpers.estimate_x0(x_t, eps_hat, t, abar), x0)
        x_t = helpers.ddpm_step(x_t, eps_hat, t, t_prime, abar)  # no added noise
    assert x_t.sub(x0).abs().max() < 0.02  # and it lands next to x0 (abar_0 is just below 1)


def test_ddim_eta0_with_the_exact_predictor_stays_on_the_closed_form_path():
    abar = COSINE.double()
    x0, eps = _randn(0, dtype=torch.float64), _randn(1, dtype=torch.float64)
    x_t = helpers.forward(x0, 990, abar, eps=eps)
    for t, t_prime in _pairs(helpers.strided_timesteps()):
        x_t = helpers.ddim_step(x_t, _exact_eps(x_t, t, x0, abar), t, t_prime, abar, eta=0.0)
        torch.testing.assert_close(x_t, helpers.forward(x0, t_prime, abar, eps=eps))


def test_posterior_variance_of_a_single_step_is_the_ddpm_beta_tilde():
    betas = helpers.linear_betas(300)
    abar = helpers.alphas_cumprod(betas)
    for t in [1, 2, 150, 299]:
        expected = (1 - abar[t - 1]) / (1 - abar[t]) * betas[t]
        torch.testing.assert_close(helpers.posterior_variance(t, t - 1, abar), expected)


def test_ddim_with_eta_one_is_the_ddpm_posterior_step():
    x_t, eps_hat, z = _randn(0), _randn(1), _randn(2)
    for t, t_prime in [(990, 960), (300, 30), (30, 0)]:
        v_sigma = helpers.posterior_variance(t, t_prime, COSINE).sqrt() * z
        torch.testing.assert_close(
            helpers.ddim_step(x_t, eps_hat, t, t_prime, COSINE, eta=1.0, noise=z),
            helpers.ddpm_step(x_t, eps_hat, t, t_prime, COSINE, v_sigma=v_sigma),
            rtol=1e-5,
            atol=1e-5,
        )


def test_ddim_draws_its_noise_from_the_generator_only_when_eta_is_positive():
    x_t, eps_hat = _randn(0), _randn(1)
    deterministic = helpers.ddim_step(x_t, eps_hat, 500, 470, COSINE)
    torch.testing.assert_close(
        deterministic, helpers.ddim_step(x_t, eps_hat, 500, 470, COSINE, noise=_randn(9))
    )
    a = helpers.ddim_step(
        x_t, eps_hat, 500, 470, COSINE, eta=0.5, generator=torch.Generator().manual_seed(7)
    )
    b = helpers.ddim_step(x_t, eps_hat, 500, 470, COSINE, eta=0.5, noise=_randn(7))
    torch.testing.assert_close(a, b)


# --- diffusers as the reference --------------------------------------------------------------


@pytest.mark.parametrize(
    "abar, scheduler, timesteps",
    [
        (
            COSINE,
            lambda: DDPMScheduler(1000, beta_schedule="squaredcos_cap_v2"),
            helpers.strided_timesteps(),
        ),
        (
            LINEAR,
            lambda: DDPMScheduler(300, beta_start=1e-4, beta_end=0.02, beta_schedule="linear"),
            [299, 270, 200, 101, 50, 7, 1, 0],  # irregular strides on purpose
        ),
    ],
    ids=["cosine-strided", "linear-irregular"],
)
def test_ddpm_step_matches_diffusers(abar, scheduler, timesteps):
    reference = scheduler()
    reference.register_to_config(variance_type="fixed_small", clip_sample=False)
    reference.set_timesteps(timesteps=timesteps)
    for i, (t, t_prime) in enumerate(_pairs(timesteps)):
        x_t, eps_hat = _randn(10 + i), _randn(100 + i)
        expected = reference.step(
            eps_hat, t, x_t, generator=torch.Generator().manual_seed(i)
        ).prev_sample
        z = _randn(i)  # the same draw diffusers makes from that generator
        v_sigma = helpers.posterior_variance(t, t_prime, abar).sqrt() * z
        ours = helpers.ddpm_step(x_t, eps_hat, t, t_prime, abar, v_sigma=v_sigma)
        torch.testing.assert_close(ours, expected, rtol=1e-5, atol=1e-5, msg=f"t={t}, t'={t_prime}")


@pytest.mark.parametrize("num_inference_steps", [10, 50])
@pytest.mark.parametrize("eta", [0.0, 0.3, 1.0])
def test_ddim_step_matches_diffusers(num_inference_steps, eta):
    reference = DDIMScheduler(1000, beta_schedule="squaredcos_cap_v2", clip_sample=False)
    reference.set_timesteps(num_inference_steps)  # "leading": t' = t - 1000 // steps matches
    stride = 1000 // num_inference_steps
    for i, t in enumerate(int(t) for t in reference.timesteps[:-1]):
        x_t, eps_hat, z = _randn(10 + i), _randn(100 + i), _randn(i)
        expected = reference.step(eps_hat, t, x_t, eta=eta, variance_noise=z).prev_sample
        ours = helpers.ddim_step(x_t, eps_hat, t, t - stride, COSINE, eta=eta, noise=z)
        torch.testing.assert_close(ours, expected, rtol=1e-5, atol=1e-5, msg=f"t={t}")


# --- inputs that must be refused -------------------------------------------------------------


@pytest.mark.parametrize(
    "t, t_prime, match",
    [
        (30, 30, "earlier"),
        (30, 60, "earlier"),
        (1000, 990, "t must"),
        (30, -1, "t_prime must"),
        (30.0, 0, "int"),
    ],
)
@pytest.mark.parametrize("step", ["ddpm", "ddim", "variance"])
def test_steps_refuse_bad_timestep_pairs(step, t, t_prime, match):
    x = _randn(0)
    call = {
        "ddpm": lambda: helpers.ddpm_step(x, x, t, t_prime, COSINE),
        "ddim": lambda: helpers.ddim_step(x, x, t, t_prime, COSINE),
        "variance": lambda: helpers.posterior_variance(t, t_prime, COSINE),
    }[step]
    with pytest.raises(ValueError, match=match):
        call()


def test_steps_refuse_mismatched_shapes_and_bad_eta():
    x, wrong = _randn(0), _randn(1, (2, 6, 8, 8))  # e.g. IF's 6 channels passed unsplit
    with pytest.raises(ValueError, match="shapes must match"):
        helpers.ddpm_step(x, wrong, 60, 30, COSINE)
    with pytest.raises(ValueError, match="shapes must match"):
        helpers.ddpm_step(x, x, 60, 30, COSINE, v_sigma=wrong)
    with pytest.raises(ValueError, match="shapes must match"):
        helpers.ddim_step(x, wrong, 60, 30, COSINE)
    with pytest.raises(ValueError, match="eta"):
        helpers.ddim_step(x, x, 60, 30, COSINE, eta=1.5)


def test_steps_follow_the_dtype_of_their_inputs():
    x = _randn(0, dtype=torch.float64)
    assert helpers.ddpm_step(x, x, 60, 30, COSINE).dtype == torch.float64
    assert helpers.ddim_step(x, x, 60, 30, COSINE, eta=0.5, noise=x).dtype == torch.float64
