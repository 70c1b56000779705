"""Schedules: exact values, and diffusers' DDPMScheduler as an independent reference."""

import pytest
import torch
from diffusers import DDPMScheduler

import helpers


def test_strided_timesteps_is_the_course_list():
    timesteps = helpers.strided_timesteps()
    assert timesteps == list(range(990, -1, -30))
    assert len(timesteps) == 34 and timesteps[0] == 990 and timesteps[-1] == 0
    assert all(t > t_prime for t, t_prime in zip(timesteps, timesteps[1:], strict=False))


@pytest.mark.parametrize("start, stride", [(100, 30), (990, 0), (-30, 30)])
def test_strided_timesteps_rejects_lists_that_miss_zero(start, stride):
    with pytest.raises(ValueError, match="multiple"):
        helpers.strided_timesteps(start, stride)


@pytest.mark.parametrize(
    "call, words",
    [
        (lambda: helpers.linear_betas(T=0), "need T >= 1 steps and betas in"),
        (lambda: helpers.linear_betas(beta_end=2.0), "beta_end = 2.0"),  # alpha_bar below 0
        (lambda: helpers.linear_betas(beta_start=-1e-4), "beta_start = -0.0001"),
        (lambda: helpers.cosine_betas(T=0), "need T >= 1 steps, got T = 0"),
        (lambda: helpers.alphas_cumprod(torch.tensor([0.1, 1.5])), "from 0.1 to 1.5"),
        (lambda: helpers.alphas_cumprod(torch.zeros(0)), r"non-empty \(T,\) tensor"),
        (lambda: helpers.alphas_cumprod(torch.full((2, 3), 0.1)), r"got shape \(2, 3\)"),
    ],
    ids=["T 0", "beta 2", "beta below 0", "cosine T 0", "beta 1.5", "no betas", "2-D betas"],
)
def test_schedules_refuse_what_would_give_an_empty_or_negative_alpha_bar(call, words):
    with pytest.raises(ValueError, match=words):
        call()


def test_linear_betas_are_evenly_spaced_float32():
    betas = helpers.linear_betas()
    assert betas.shape == (300,) and betas.dtype == torch.float32
    assert betas[0].item() == pytest.approx(1e-4) and betas[-1].item() == pytest.approx(0.02)
    torch.testing.assert_close(betas.diff(), torch.full((299,), (0.02 - 1e-4) / 299))


def test_alphas_cumprod_is_the_running_product():
    betas = torch.tensor([0.1, 0.2, 0.5])
    expected = torch.tensor([0.9, 0.9 * 0.8, 0.9 * 0.8 * 0.5])
    torch.testing.assert_close(helpers.alphas_cumprod(betas), expected)


@pytest.mark.parametrize(
    "betas, scheduler",
    [
        (
            lambda: helpers.linear_betas(300),
            lambda: DDPMScheduler(300, beta_start=1e-4, beta_end=0.02, beta_schedule="linear"),
        ),
        (
            lambda: helpers.cosine_betas(1000),
            lambda: DDPMScheduler(1000, beta_schedule="squaredcos_cap_v2"),
        ),
    ],
    ids=["linear-300", "cosine-1000"],
)
def test_schedules_match_diffusers(betas, scheduler):
    ours, reference = betas(), scheduler()
    assert ours.dtype == torch.float32
    torch.testing.assert_close(ours, reference.betas, rtol=0, atol=1e-6)
    torch.testing.assert_close(
        helpers.alphas_cumprod(ours), reference.alphas_cumprod, rtol=0, atol=1e-6
    )


def test_cosine_schedule_runs_from_almost_clean_to_almost_pure_noise():
    abar = helpers.alphas_cumprod(helpers.cosine_betas())
    assert abar[0] > 0.9999 and abar[-1] < 1e-4
    assert bool((abar.diff() < 0).all())
