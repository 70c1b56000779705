"""Part B's training losses: zero for a perfect model, the right size for a known wrong one,
and the model called with the course's inputs."""

import pytest
import torch

import helpers

ABAR = helpers.alphas_cumprod(helpers.linear_betas(300))


def _batch(seed=0):
    g = torch.Generator().manual_seed(seed)
    x0 = torch.rand(6, 1, 28, 28, generator=g)
    return x0, torch.randn(x0.shape, generator=g), torch.randint(0, 300, (6,), generator=g)


def test_denoiser_loss_is_zero_for_a_perfect_denoiser_and_sigma2_for_the_identity():
    x0, eps, _ = _batch()
    sigma = 0.5

    def perfect(z):
        return z - sigma * eps  # knows the noise it was given

    assert helpers.denoiser_loss(perfect, x0, eps, sigma).item() == pytest.approx(0, abs=1e-10)
    identity_loss = helpers.denoiser_loss(lambda z: z, x0, eps, sigma)
    assert identity_loss.item() == pytest.approx(sigma**2 * eps.pow(2).mean().item(), rel=1e-5)


def test_ddpm_loss_is_zero_for_the_exact_noise_and_sees_t_over_T():
    x0, eps, t = _batch(1)
    seen = {}

    def exact(x_t, t_in):  # inverts the forward process with the clean image it knows
        seen["t_in"] = t_in
        abar = ABAR[(t_in * 300).round().long()].view(-1, 1, 1, 1)
        return (x_t - abar.sqrt() * x0) / (1 - abar).sqrt()

    loss = helpers.ddpm_loss(exact, x0, t, eps, ABAR)
    assert loss.item() == pytest.approx(0, abs=1e-8)
    torch.testing.assert_close(seen["t_in"], t.float() / 300)
    zero_loss = helpers.ddpm_loss(lambda x_t, t_in: torch.zeros_like(x_t), x0, t, eps, ABAR)
    assert zero_loss.item() == pytest.approx(eps.pow(2).mean().item(), rel=1e-5)


def test_class_ddpm_loss_passes_labels_time_and_mask_in_the_course_order():
    x0, eps, t = _batch(2)
    c, mask = torch.arange(6) % 10, torch.tensor([1, 0, 1, 1, 0, 1])
    seen = {}

    def model(x_t, c_in, t_in, mask_in):
        seen.update(c=c_in, t=t_in, mask=mask_in)
        return torch.zeros_like(x_t)

    loss = helpers.ddpm_loss(model, x0, t, eps, ABAR, c, mask)
    assert loss.item() == pytest.approx(eps.pow(2).mean().item(), rel=1e-5)
    assert torch.equal(seen["c"], c) and torch.equal(seen["mask"], mask)
    torch.testing.assert_close(seen["t"], t.float() / 300)
