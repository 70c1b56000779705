"""Classifier-free guidance: its neutral and unconditional settings, and linearity in gamma."""

import pytest
import torch

import helpers


def _pair():
    g = torch.Generator().manual_seed(0)
    return torch.randn(2, 3, 8, 8, generator=g), torch.randn(2, 3, 8, 8, generator=g)


def test_gamma_one_gives_the_conditional_estimate_and_zero_the_unconditional():
    eps_cond, eps_uncond = _pair()
    torch.testing.assert_close(helpers.cfg(eps_cond, eps_uncond, 1.0), eps_cond)
    torch.testing.assert_close(helpers.cfg(eps_cond, eps_uncond, 0.0), eps_uncond)


def test_guidance_extrapolates_along_the_difference():
    eps_cond, eps_uncond = _pair()
    guided = helpers.cfg(eps_cond, eps_uncond, 7.0)
    torch.testing.assert_close(guided - eps_uncond, 7.0 * (eps_cond - eps_uncond))


def test_guidance_refuses_mismatched_estimates():
    eps_cond, _ = _pair()
    with pytest.raises(ValueError, match="shapes must match"):
        helpers.cfg(eps_cond, eps_cond[:1], 5.0)
