"""Part A algorithms on the offline backend (a tiny random UNet): equivalences, invariants, errors,
and the learned-range variance pinned against diffusers' DDPMScheduler."""

import sys

import pytest
import torch
from diffusers import DDPMScheduler

import helpers
from helpers import part_a
from helpers.denoiser import OfflineDigits, load_backend
from helpers.unet import ClassConditionalUNet

FEW = [990, 660, 330, 90, 0]  # a short strided list keeps the loops fast


@pytest.fixture(scope="module")
def denoiser():
    torch.manual_seed(0)
    unet = ClassConditionalUNet(1, 10, 8)
    unet.train()  # a few batches in train mode give BatchNorm statistics that let the class matter
    with torch.no_grad():
        for _ in range(3):
            unet(torch.randn(64, 1, 28, 28), torch.randint(0, 10, (64,)), torch.rand(64))
    return OfflineDigits(unet)


def _digits(seed=0, B=2):
    return torch.rand(B, 1, 28, 28, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def _g(seed=1):
    return torch.Generator().manual_seed(seed)


class ExactDenoiser:
    """A backend that knows the clean image x0: eps(x_t, t) = (x_t - sqrt(abar_t) x0) /
    sqrt(1 - abar_t), the exact noise predictor, so every x0_hat is x0."""

    name, image_shape = "exact", (1, 28, 28)

    def __init__(self, x0):
        self.x0, self.alphas_cumprod = x0, helpers.alphas_cumprod(helpers.cosine_betas(1000))

    def encode(self, prompt):
        return prompt

    def predict(self, x_t, t, conds):
        abar = self.alphas_cumprod[t]
        eps = (x_t - abar.sqrt() * self.x0) / (1 - abar).sqrt()
        return [(eps, None) for _ in conds]


@pytest.mark.parametrize("i_start", [0, 10, 30])
def test_iterative_denoise_with_the_exact_noise_predictor_lands_on_x0(i_start):
    x0 = _digits(seed=5)
    x_t = helpers.forward(x0, 990 - 30 * i_start, ExactDenoiser(x0).alphas_cumprod, generator=_g())
    out, frames = helpers.iterative_denoise(
        ExactDenoiser(x0), x_t, i_start, generator=_g(2), frames_every=5, progress=False
    )
    # the last step adds noise of std sqrt(beta_tilde) at t = 30 -> 0 (6e-3 on the cosine schedule)
    torch.testing.assert_close(out, x0, atol=0.03, rtol=0)
    assert len(frames) == -(-(33 - i_start) // 5)  # x_t every 5th of the 33 - i_start steps


def test_learned_range_variance_matches_diffusers_at_the_step_t_to_t_prime():
    abar = helpers.alphas_cumprod(helpers.cosine_betas())
    reference = DDPMScheduler(
        1000, beta_schedule="squaredcos_cap_v2", variance_type="learned_range", clip_sample=False
    )
    timesteps = helpers.strided_timesteps()
    reference.set_timesteps(timesteps=timesteps)
    for i, (t, t_prime) in enumerate([(990, 960), (510, 480), (30, 0)]):
        x_t, eps, v = _digits(i, 2), _digits(10 + i, 2), _digits(20 + i, 2)  # v in [-1, 1]
        model_output = torch.cat([eps, v], dim=1)  # (B, 2, 28, 28): noise and variance channels
        expected = reference.step(model_output, t, x_t, generator=_g(i)).prev_sample
        ours = part_a.reverse_step(x_t, eps, v, t, t_prime, abar, generator=_g(i))
        torch.testing.assert_close(ours, expected, rtol=1e-5, atol=1e-5)


class Recorder:
    """A fake backend whose noise estimate is a known function of the condition."""

    alphas_cumprod = helpers.alphas_cumprod(helpers.cosine_betas())
    image_shape = (1, 4, 4)
    name = "fake"

    def encode(self, prompt):
        return None if prompt == "" else len(prompt)  # None is the unconditional branch

    def predict(self, x_t, t, conds):
        return [(torch.full_like(x_t, 0.0 if c is None else float(c)), None) for c in conds]


def test_guidance_uses_both_branches_even_when_the_unconditional_one_is_none():
    fake, x_t = Recorder(), torch.zeros(1, 1, 4, 4)
    eps, _ = part_a.guided_estimate(fake, x_t, 500, (fake.encode("abc"), fake.encode("")), 7.0)
    torch.testing.assert_close(eps, torch.full_like(x_t, 21.0))  # 0 + 7 * (3 - 0)
    eps, _ = part_a.guided_estimate(fake, x_t, 500, (fake.encode("abc"),), 7.0)
    torch.testing.assert_close(eps, torch.full_like(x_t, 3.0))


def test_guidance_scale_changes_offline_samples(denoiser):
    x_T = torch.randn(2, 1, 28, 28, generator=_g(5))
    a, _ = part_a.iterative_denoise_cfg(
        denoiser, x_T, 0, "a handwritten 3", 1.0, timesteps=FEW, generator=_g(), progress=False
    )
    b, _ = part_a.iterative_denoise_cfg(
        denoiser, x_T, 0, "a handwritten 3", 7.0, timesteps=FEW, generator=_g(), progress=False
    )
    assert (a - b).abs().max() > 1e-3


def test_fixed_variance_is_the_posterior_variance():
    abar = helpers.alphas_cumprod(helpers.cosine_betas())
    torch.testing.assert_close(
        part_a.step_std(990, 960, abar), helpers.posterior_variance(990, 960, abar).sqrt()
    )


def test_inpainting_with_an_all_ones_mask_is_plain_guided_denoising(denoiser):
    x_orig, x_T = _digits(0), torch.randn(2, 1, 28, 28, generator=_g(5))
    plain, _ = part_a.iterative_denoise_cfg(
        denoiser, x_T, 0, "a handwritten 3", timesteps=FEW, generator=_g(), progress=False
    )
    ones = torch.ones(1, 1, 28, 28)
    inpainted = part_a.inpaint(
        denoiser,
        x_orig,
        ones,
        "a handwritten 3",
        x_T=x_T,
        generator=_g(),
        timesteps=FEW,
        progress=False,
    )
    torch.testing.assert_close(inpainted, plain, rtol=0, atol=0)


def test_inpainting_keeps_the_unmasked_pixels_exactly(denoiser):
    x_orig = _digits(0)
    mask = torch.zeros(1, 1, 28, 28)
    mask[..., 8:20, 8:20] = 1
    out = part_a.inpaint(
        denoiser, x_orig, mask, "a handwritten 3", generator=_g(), timesteps=FEW, progress=False
    )
    keep = mask.expand_as(x_orig) == 0
    assert torch.equal(out[keep], x_orig[keep])
    assert not torch.allclose(out[~keep], x_orig[~keep])


def test_an_anagram_of_identity_views_and_equal_prompts_is_plain_cfg(denoiser, monkeypatch):
    monkeypatch.setattr(part_a, "strided_timesteps", lambda: FEW)
    x_T = torch.randn(2, 1, 28, 28, generator=_g(5))
    plain, _ = part_a.iterative_denoise_cfg(
        denoiser, x_T, 0, "a handwritten 6", generator=_g(), progress=False
    )
    anagram = part_a.visual_anagram(
        denoiser,
        "a handwritten 6",
        "a handwritten 6",
        "identity",
        x_T=x_T,
        generator=_g(),
        progress=False,
    )
    torch.testing.assert_close(anagram, plain, rtol=0, atol=0)


def test_a_hybrid_whose_lowpass_is_the_identity_follows_the_first_prompt(denoiser, monkeypatch):
    monkeypatch.setattr(part_a, "strided_timesteps", lambda: FEW)
    x_T = torch.randn(2, 1, 28, 28, generator=_g(5))
    plain, _ = part_a.iterative_denoise_cfg(
        denoiser, x_T, 0, "a handwritten 1", generator=_g(), progress=False
    )
    hybrid = part_a.hybrid_image(
        denoiser,
        "a handwritten 1",
        "a handwritten 8",
        lowpass=lambda x: x,
        x_T=x_T,
        generator=_g(),
        progress=False,
    )
    torch.testing.assert_close(hybrid, plain, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("view", ["flip", "rot180"])
def test_views_are_involutions(view):
    x = _digits(3)
    assert torch.equal(part_a.VIEWS[view](part_a.VIEWS[view](x)), x)
    assert not torch.equal(part_a.VIEWS[view](x), x)


def test_hybrid_filter_is_the_course_filter_at_64_px_and_scaled_at_28():
    assert part_a.hybrid_filter(64) == (33, 2.0)
    kernel, sigma = part_a.hybrid_filter(28)
    assert kernel % 2 == 1 and sigma == pytest.approx(0.875)


def test_hybrid_filter_with_a_sigma_spans_four_sigmas_within_the_image():
    assert part_a.hybrid_filter(28, 2.0) == (17, 2.0)
    assert part_a.hybrid_filter(28, 10.0) == (55, 10.0)  # reflection padding needs < 28


def test_read_rates_counts_each_reading_and_the_samples_right_in_all():
    from helpers.evaluation import read_rates

    class Reads:  # a classifier that reads the mean brightness: < 0.5 is a 0, else a 1
        def eval(self):
            return self

        def __call__(self, x):
            bright = x.mean((1, 2, 3))
            return torch.stack([0.5 - bright, bright - 0.5], -1) * 100

    x = torch.tensor([-1.0, 1.0, 1.0, -1.0]).view(4, 1, 1, 1).expand(4, 1, 28, 28)
    rates = read_rates({"a": (x, 1), "b": (-x, 0)}, Reads())
    assert rates == {"a": 0.5, "b": 0.5, "all": 0.5}
    rates = read_rates({"a": (x, 1), "b": (x, 0)}, Reads())
    assert rates == {"a": 0.5, "b": 0.5, "all": 0.0}


def test_sdedit_from_late_i_start_stays_close_and_from_early_wanders_off(denoiser):
    x_orig = _digits(0)
    late = part_a.sdedit(denoiser, x_orig, 32, "a handwritten 3", generator=_g(), progress=False)
    early = part_a.sdedit(denoiser, x_orig, 1, "a handwritten 3", generator=_g(), progress=False)
    assert (late - x_orig).abs().mean() < 0.1 < (early - x_orig).abs().mean()


def test_bad_inputs_get_clear_errors(denoiser):
    x = _digits(0)
    with pytest.raises(ValueError, match=r"shape \(B, 1, 28, 28\)"):
        part_a.sdedit(denoiser, torch.rand(1, 3, 64, 64), 10)
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        part_a.sdedit(denoiser, x * 3, 10)
    with pytest.raises(ValueError, match="i_start"):
        part_a.sdedit(denoiser, x, 33)
    with pytest.raises(ValueError, match=r"mask must have shape \(1 or 2, 1, 28, 28\), the image"):
        part_a.inpaint(denoiser, x, torch.ones(1, 1, 27, 28))
    with pytest.raises(ValueError, match="only 0"):
        part_a.inpaint(denoiser, x, torch.full((1, 1, 28, 28), 0.5))
    with pytest.raises(ValueError, match="known prompts: .*a handwritten 7"):
        part_a.sdedit(denoiser, x, 10, "a photo of a cat")
    with pytest.raises(ValueError, match="view"):
        part_a.visual_anagram(denoiser, "a handwritten 6", "a handwritten 9", view="mirror")


def test_offline_prompts_map_to_classes(denoiser):
    assert denoiser.encode("a handwritten 7") == 7 and denoiser.encode("7") == 7
    assert denoiser.encode("") is None and denoiser.encode("a high quality photo") is None


def test_without_a_gpu_deepfloyd_is_refused_before_importing_diffusers(monkeypatch):
    from helpers import deepfloyd

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setitem(sys.modules, "diffusers", None)  # any import of diffusers now fails
    with pytest.raises(deepfloyd.DeepFloydUnavailable, match="needs a CUDA GPU"):
        deepfloyd.load_deepfloyd()


def test_the_offline_fallback_needs_no_diffusers(monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setitem(sys.modules, "diffusers", None)  # the first cell never pays its import
    backend = load_backend("auto")
    assert isinstance(backend, OfflineDigits)
    assert "-> using the offline digit model" in capsys.readouterr().out


def test_an_ideal_hybrid_through_an_identity_lowpass_is_the_low_digit_itself():
    from helpers.evaluation import ideal_hybrids, real_digits

    ideal = ideal_hybrids(3, 5, lambda x: x)
    torch.testing.assert_close(ideal, real_digits(3)[: len(ideal)])
    assert ideal.min() >= -1 and len(ideal) == 500
