"""The forward process and its one-step inverse: invariants and input checks."""

import pytest
import torch

import helpers

ABAR = helpers.alphas_cumprod(helpers.cosine_betas())


def _x0(seed=0, shape=(4, 3, 8, 8)):
    return torch.rand(shape, generator=torch.Generator().manual_seed(seed)) * 2 - 1


@pytest.mark.parametrize("t", [0, 250, 690, 999])
def test_forward_without_noise_scales_by_sqrt_alpha_bar(t):
    x0 = _x0()
    x_t = helpers.forward(x0, t, ABAR, eps=torch.zeros_like(x0))
    torch.testing.assert_close(x_t, ABAR[t].sqrt() * x0)


def test_forward_with_only_noise_scales_eps_by_sqrt_one_minus_alpha_bar():
    eps = _x0(1)
    x_t = helpers.forward(torch.zeros_like(eps), 500, ABAR, eps=eps)
    torch.testing.assert_close(x_t, (1 - ABAR[500]).sqrt() * eps)


@pytest.mark.parametrize("t", [0, 30, 500, 990])
def test_estimate_x0_inverts_forward(t):
    x0, eps = _x0(0).double(), _x0(1).double()  # float64: at t = 990, 1/sqrt(abar) is ~ 50
    x_t = helpers.forward(x0, t, ABAR.double(), eps=eps)
    torch.testing.assert_close(helpers.estimate_x0(x_t, eps, t, ABAR.double()), x0)


def test_forward_takes_one_timestep_per_image():
    x0, eps = _x0(), _x0(1)
    t = torch.tensor([0, 10, 500, 999])
    x_t = helpers.forward(x0, t, ABAR, eps=eps)
    for i in range(4):
        torch.testing.assert_close(
            x_t[i], helpers.forward(x0[i : i + 1], int(t[i]), ABAR, eps=eps[i : i + 1])[0]
        )


def test_forward_draws_noise_from_the_generator():
    x0 = _x0()
    a = helpers.forward(x0, 500, ABAR, generator=torch.Generator().manual_seed(3))
    b = helpers.forward(x0, 500, ABAR, generator=torch.Generator().manual_seed(3))
    c = helpers.forward(x0, 500, ABAR, generator=torch.Generator().manual_seed(4))
    torch.testing.assert_close(a, b)
    assert not torch.allclose(a, c)
    # the noise really is the generator's standard normal draw
    eps = torch.randn(x0.shape, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(a, helpers.forward(x0, 500, ABAR, eps=eps))


def test_forward_keeps_dtype():
    x0 = _x0().double()
    assert (
        helpers.forward(x0, 10, ABAR, generator=torch.Generator().manual_seed(0)).dtype
        == torch.float64
    )
    assert (
        helpers.forward(x0.half(), 10, ABAR, eps=torch.zeros_like(x0).half()).dtype == torch.float16
    )


@pytest.mark.parametrize("t", [-1, 1000, torch.tensor([0, 1000, 1, 2]), 2.5])
def test_forward_rejects_timesteps_out_of_range(t):
    with pytest.raises(ValueError, match="t must"):
        helpers.forward(_x0(), t, ABAR, eps=_x0(1))


def test_forward_rejects_mismatched_noise_and_batch():
    with pytest.raises(ValueError, match="shapes must match"):
        helpers.forward(_x0(), 10, ABAR, eps=_x0(1, (4, 1, 8, 8)))
    with pytest.raises(ValueError, match="batch"):
        helpers.forward(_x0(), torch.tensor([1, 2]), ABAR, eps=_x0(1))
    with pytest.raises(ValueError, match="shapes must match"):
        helpers.estimate_x0(_x0(), _x0(1, (4, 3, 8, 7)), 10, ABAR)


def test_gaussian_blur_denoise_smooths_noise_and_keeps_constants():
    noise = torch.randn(1, 1, 64, 64, generator=torch.Generator().manual_seed(0))
    blurred = helpers.gaussian_blur_denoise(noise, 5, 2.0)
    assert blurred.shape == noise.shape
    assert blurred.std() < 0.5 * noise.std()
    constant = torch.full((2, 3, 16, 16), 0.3)
    torch.testing.assert_close(helpers.gaussian_blur_denoise(constant, 5, 2.0), constant)
    with pytest.raises(ValueError, match="odd"):
        helpers.gaussian_blur_denoise(noise, 4, 2.0)
