"""Graded: the core math. Expected values come from the kit's own helpers (the solution), run
here on the trusted side, on inputs drawn from a seed students never see; invariants too."""

import pytest
import torch

import helpers as solution
from instructor.grading.checks import close as _close
from instructor.grading.checks import equal

SEED = 271828  # students see neither this seed nor the shapes and timesteps below


def _rand(*shape, seed=0, dtype=torch.float32):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(SEED + seed), dtype=dtype)


@pytest.mark.points(1)
def test_linear_betas(student):
    """linear_betas: evenly spaced betas for unusual T and range"""
    for T, start, end in [(300, 1e-4, 0.02), (57, 3e-4, 0.05)]:
        _close(
            student.linear_betas(T, start, end),
            solution.linear_betas(T, start, end),
            what="linear_betas",
        )


@pytest.mark.points(1)
def test_cosine_betas(student):
    """cosine_betas: the squaredcos_cap_v2 schedule for T = 1000 and T = 123"""
    for T in (1000, 123):
        _close(student.cosine_betas(T), solution.cosine_betas(T), what="cosine_betas")


@pytest.mark.points(1)
def test_alphas_cumprod(student):
    """alphas_cumprod: the running product of 1 - beta"""
    betas = torch.rand(77, generator=torch.Generator().manual_seed(SEED)) * 0.05
    _close(student.alphas_cumprod(betas), solution.alphas_cumprod(betas), what="alphas_cumprod")


@pytest.mark.points(1)
def test_strided_timesteps(student):
    """strided_timesteps: the course list and other strides"""
    for i, (start, stride) in enumerate([(990, 30), (600, 40), (999, 333)]):
        got = student.strided_timesteps(start, stride)
        equal(got, solution.strided_timesteps(start, stride), f"timesteps in case {i + 1} of 3")


@pytest.mark.points(1)
def test_ddim_timesteps(student):
    """ddim_timesteps: the three spacings for unusual T and step counts"""
    for T, steps in [(300, 7), (1000, 33), (57, 57), (10, 1)]:
        for spacing in solution.sampling.SPACINGS:
            got = student.ddim_timesteps(T, steps, spacing)
            equal(got, solution.ddim_timesteps(T, steps, spacing), f"{spacing} timesteps")


ABAR = solution.alphas_cumprod(solution.cosine_betas(1000))


@pytest.mark.points(2)
def test_forward(student):
    """forward: per-image timesteps, given noise"""
    x0, eps = _rand(3, 2, 5, 7), _rand(3, 2, 5, 7, seed=1)
    t = torch.tensor([3, 517, 998])
    _close(
        student.forward(x0, t, ABAR, eps=eps),
        solution.forward(x0, t, ABAR, eps=eps),
        what="forward",
    )
    _close(
        student.forward(x0, 401, ABAR, eps=eps),
        solution.forward(x0, 401, ABAR, eps=eps),
        what="forward",
    )


@pytest.mark.points(1)
def test_estimate_x0(student):
    """estimate_x0: the one-step estimate inverts forward"""
    x0, eps = _rand(2, 3, 6, 6, dtype=torch.float64), _rand(2, 3, 6, 6, seed=1, dtype=torch.float64)
    x_t = solution.forward(x0, 733, ABAR.double(), eps=eps)
    _close(student.estimate_x0(x_t, eps, 733, ABAR.double()), x0, what="estimate_x0")


@pytest.mark.points(1)
def test_gaussian_blur_denoise(student):
    """gaussian_blur_denoise: matches torchvision's Gaussian blur"""
    x = _rand(2, 3, 19, 19)
    _close(
        student.gaussian_blur_denoise(x, 7, 1.7),
        solution.gaussian_blur_denoise(x, 7, 1.7),
        what="gaussian_blur_denoise",
    )


@pytest.mark.points(1)
def test_posterior_variance(student):
    """posterior_variance: beta-tilde of strided steps"""
    for t, t_prime in [(970, 910), (333, 0), (42, 41)]:
        _close(
            student.posterior_variance(t, t_prime, ABAR),
            solution.posterior_variance(t, t_prime, ABAR),
            what="posterior_variance",
        )


@pytest.mark.points(2)
def test_ddpm_step(student):
    """ddpm_step: the strided DDPM update, with and without v_sigma"""
    x_t, eps, v = _rand(2, 3, 8, 8), _rand(2, 3, 8, 8, seed=1), _rand(2, 3, 8, 8, seed=2)
    for t, t_prime in [(970, 910), (481, 97), (15, 0)]:
        _close(
            student.ddpm_step(x_t, eps, t, t_prime, ABAR),
            solution.ddpm_step(x_t, eps, t, t_prime, ABAR),
            1e-4,
            what="ddpm_step",
        )
        _close(
            student.ddpm_step(x_t, eps, t, t_prime, ABAR, v_sigma=v),
            solution.ddpm_step(x_t, eps, t, t_prime, ABAR, v_sigma=v),
            1e-4,
            what="ddpm_step",
        )


@pytest.mark.points(2)
def test_ddim_step(student):
    """ddim_step: deterministic and stochastic DDIM steps"""
    x_t, eps, z = _rand(2, 1, 8, 8), _rand(2, 1, 8, 8, seed=1), _rand(2, 1, 8, 8, seed=2)
    for t, t_prime, eta in [(970, 910, 0.0), (481, 97, 0.35), (15, 0, 1.0)]:
        _close(
            student.ddim_step(x_t, eps, t, t_prime, ABAR, eta=eta, noise=z),
            solution.ddim_step(x_t, eps, t, t_prime, ABAR, eta=eta, noise=z),
            1e-4,
            what="ddim_step",
        )


@pytest.mark.points(1)
def test_cfg(student):
    """cfg: classifier-free guidance, including gamma = 1"""
    eps_c, eps_u = _rand(2, 3, 4, 4), _rand(2, 3, 4, 4, seed=1)
    for gamma in (1.0, 0.0, 6.5):
        _close(student.cfg(eps_c, eps_u, gamma), solution.cfg(eps_c, eps_u, gamma), what="cfg")


@pytest.mark.points(1)
def test_forward_and_estimate_x0_per_image(student):
    """forward and estimate_x0: per-image timesteps, each checked on its own"""
    x0, eps = _rand(4, 1, 9, 9), _rand(4, 1, 9, 9, seed=3)
    t = torch.tensor([12, 250, 640, 901])
    x_t = solution.forward(x0, t, ABAR, eps=eps)
    _close(student.forward(x0, t, ABAR, eps=eps), x_t, 1e-4, "forward")
    for i in range(4):  # estimate_x0 sees x_t made here, not by your forward
        got = student.estimate_x0(x_t[i : i + 1], eps[i : i + 1], int(t[i]), ABAR)
        _close(got, x0[i : i + 1], 1e-3, "estimate_x0")
