"""DDIM's sub-sequences, inversion, interpolation and noise removal (helpers.sampling).

Timestep spacings are checked against diffusers' DDIMScheduler, an independent implementation.
"""

import pytest
import torch
from diffusers import DDIMScheduler, DPMSolverMultistepScheduler

import helpers
from helpers import flow, sampling, training
from helpers.checkpoints import load_checkpoint
from helpers.theory import exact_eps
from helpers.training import TrainConfig

LINEAR = helpers.alphas_cumprod(helpers.linear_betas(300))


@pytest.mark.parametrize("spacing", sampling.SPACINGS)
@pytest.mark.parametrize("steps", [1, 10, 20, 50, 300])
def test_ddim_timesteps_match_diffusers_spacings(spacing, steps):
    scheduler = DDIMScheduler(num_train_timesteps=300, timestep_spacing=spacing)
    scheduler.set_timesteps(steps)
    assert sampling.ddim_timesteps(300, steps, spacing) == scheduler.timesteps.tolist()


@pytest.mark.parametrize("spacing", sampling.SPACINGS)
@pytest.mark.parametrize("steps", [1, 7, 33, 299])
def test_ddim_timesteps_are_valid_for_any_count(spacing, steps):
    # (diffusers' "trailing" yields an extra timestep -1 for counts like 7 that do not divide T)
    got = sampling.ddim_timesteps(300, steps, spacing)
    assert len(got) == steps and all(0 <= t < 300 for t in got)
    assert all(a > b for a, b in zip(got, got[1:], strict=False))


def test_ddim_timesteps_refuse_bad_arguments():
    with pytest.raises(ValueError, match="unknown spacing"):
        sampling.ddim_timesteps(300, 10, "uniform")
    with pytest.raises(ValueError, match="steps must lie in"):
        sampling.ddim_timesteps(300, 301)


def _point_mass_model(x0):
    """The perfect noise predictor for a data set holding only x0: deterministic DDIM is exact."""
    return lambda x_t, t: exact_eps(x_t, x0, t, LINEAR)


def test_inversion_then_sampling_returns_the_image_with_a_perfect_model():
    x0 = torch.rand(3, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    timesteps = sampling.ddim_timesteps(300, 10, "trailing")
    x_T = sampling.invert(_point_mass_model(x0), x0, timesteps, LINEAR, progress=False)
    assert x_T.sub(x0).abs().mean() > 0.1  # x_T is noise-like, not the image
    back, _ = sampling.sample(
        _point_mass_model(x0), x_T, timesteps, LINEAR, eta=0.0, progress=False
    )
    torch.testing.assert_close(back, x0, atol=1e-4, rtol=0)


def test_inversion_error_falls_with_steps_on_an_untrained_model():
    """A model whose estimate depends on x_t makes inversion approximate; finer steps help."""
    torch.manual_seed(0)
    model = helpers.unet.TimeConditionalUNet(1, 8).eval()
    eps_model = sampling.time_eps_model(model, 300)
    x0 = torch.rand(2, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    errors = []
    for steps in (5, 20, 80):
        timesteps = sampling.ddim_timesteps(300, steps)
        x_T = sampling.invert(eps_model, x0, timesteps, LINEAR, progress=False)
        back, _ = sampling.sample(eps_model, x_T, timesteps, LINEAR, eta=0.0, progress=False)
        errors.append(back.sub(x0).pow(2).mean().item())
    assert errors[0] > errors[1] > errors[2]


def test_slerp_keeps_the_norm_and_hits_both_ends():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(4, 1, 28, 28, generator=g), torch.randn(4, 1, 28, 28, generator=g)
    torch.testing.assert_close(sampling.slerp(a, b, 0.0), a)
    torch.testing.assert_close(sampling.slerp(a, b, 1.0), b)
    mid_s, mid_l = sampling.slerp(a, b, 0.5), torch.lerp(a, b, 0.5)
    norms = a.flatten(1).norm(dim=1)
    assert (mid_s.flatten(1).norm(dim=1) / norms).sub(1).abs().max() < 0.05
    assert (mid_l.flatten(1).norm(dim=1) / norms).max() < 0.8  # the straight line shrinks it


def test_removing_the_noise_is_deterministic_and_differs_from_ddim():
    torch.manual_seed(0)
    model = helpers.unet.TimeConditionalUNet(1, 8).eval()
    eps_model = sampling.time_eps_model(model, 300)
    x_T = torch.randn(2, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    timesteps = sampling.ddim_timesteps(300, 10)
    runs = [
        sampling.sample(
            eps_model,
            x_T,
            timesteps,
            LINEAR,
            eta=1.0,
            generator=torch.Generator().manual_seed(seed),
            remove_noise=True,
            progress=False,
        )[0]
        for seed in (0, 1)
    ]
    torch.testing.assert_close(runs[0], runs[1])
    ddim, _ = sampling.sample(eps_model, x_T, timesteps, LINEAR, eta=0.0, progress=False)
    assert runs[0].sub(ddim).abs().max() > 1e-3


def _gaussian_model(variance: float):
    """The exact noise predictor when the data are N(0, variance): with that data the probability
    flow ODE is linear, x_t' = x_t * std_t' / std_t with std_t^2 = abar_t variance + 1 - abar_t."""
    return lambda x_t, t: (1 - LINEAR[t]).sqrt() * x_t / (LINEAR[t] * variance + 1 - LINEAR[t])


def test_dpm_solver_matches_diffusers_and_is_more_accurate_than_ddim():
    eps_model = _gaussian_model(0.25)
    x_T = torch.randn(256, 1, 4, 4, generator=torch.Generator().manual_seed(0))
    scheduler = DPMSolverMultistepScheduler(
        num_train_timesteps=300,
        trained_betas=helpers.linear_betas(300).numpy(),
        timestep_spacing="trailing",
        final_sigmas_type="zero",
    )
    scheduler.set_timesteps(10)
    timesteps = scheduler.timesteps.tolist()
    assert timesteps == sampling.ddim_timesteps(300, 10)
    x = x_T
    for t in timesteps:
        x = scheduler.step(eps_model(x, t), t, x).prev_sample
    ours = sampling.sample_dpm_solver(eps_model, x_T, timesteps, LINEAR, progress=False)
    torch.testing.assert_close(ours, x, atol=1e-4, rtol=1e-4)

    def std(t):
        return (LINEAR[t] * 0.25 + 1 - LINEAR[t]).sqrt()

    x_last = x_T * std(timesteps[-1]) / std(timesteps[0])  # the ODE's exact solution
    exact = helpers.estimate_x0(x_last, eps_model(x_last, timesteps[-1]), timesteps[-1], LINEAR)
    ddim, _ = sampling.sample(eps_model, x_T, timesteps, LINEAR, eta=0.0, progress=False)
    assert ours.sub(exact).abs().max() < ddim.sub(exact).abs().max() / 4


@pytest.mark.parametrize("model", ["time", "class"])
def test_sample_digits_gives_images_in_range_and_is_seeded(model):
    config = training.TrainConfig(model, num_hiddens=8, T=20)
    torch.manual_seed(0)
    unet = training.build_model(config).eval()
    labels = torch.tensor([1, 2, 3])
    a, frames = sampling.sample_digits(unet, config, labels, seed=3, frames_every=5, progress=False)
    b, _ = sampling.sample_digits(unet, config, labels, seed=3, progress=False)
    assert a.shape == (3, 1, 28, 28) and 0 <= a.min() and a.max() <= 1
    assert len(frames) == 5  # 19 steps: frames at 0, 5, 10, 15 and the result
    torch.testing.assert_close(a, b)


def test_sample_digits_refuses_the_single_step_denoiser():
    config = training.RECIPES["denoiser"]
    with pytest.raises(ValueError, match="time or class model"):
        sampling.sample_digits(training.build_model(config), config, torch.tensor([0]))


BAD_DRAWS = [  # (labels, keyword arguments, words of the error)
    ([1, 2], {}, "labels must be a non-empty \\(N,\\) tensor.*got list"),
    (torch.tensor([], dtype=torch.long), {}, "non-empty.*got \\(0,\\)"),
    (torch.tensor([[1, 2]]), {}, "got \\(1, 2\\)"),
    (torch.tensor([1.0, 2.0]), {}, "int64 digits 0-9.*torch.float32 values from 1.0 to 2.0"),
    (torch.tensor([1, 2], dtype=torch.int32), {}, "int64 digits 0-9.*torch.int32"),
    (torch.tensor([3, 12]), {}, "int64 digits 0-9.*from 3 to 12"),
    (torch.tensor([3, 4]), {"gamma": -3}, "guidance scale"),
]


@pytest.mark.parametrize("labels, kwargs, words", BAD_DRAWS)
def test_both_part_b_samplers_refuse_bad_labels_and_guidance(labels, kwargs, words):
    torch.manual_seed(0)
    config = training.TrainConfig("class", num_hiddens=4, T=20)
    unet = training.build_model(config).eval()
    with pytest.raises(ValueError, match=words):
        sampling.sample_digits(unet, config, labels, [19, 0], progress=False, **kwargs)
    with pytest.raises(ValueError, match=words):
        flow.flow_digits(unet, "flow_class", labels, 2, progress=False, **kwargs)


def test_part_b_samplers_refuse_a_start_of_the_wrong_shape_and_zero_steps():
    config = training.TrainConfig("class", num_hiddens=4, T=20)
    unet, labels = training.build_model(config).eval(), torch.tensor([1, 2])
    with pytest.raises(ValueError, match=r"x_T must have shape \(2, 1, 28, 28\), one per label"):
        sampling.sample_digits(unet, config, labels, [19, 0], x_T=torch.zeros(3, 1, 28, 28))
    with pytest.raises(ValueError, match=r"x_noise must have shape \(2, 1, 28, 28\)"):
        flow.flow_digits(unet, "flow_class", labels, 2, x_noise=torch.zeros(2, 28, 28))
    with pytest.raises(ValueError, match="num_ts .* at least 1, got 0"):
        flow.flow_digits(unet, "flow_class", labels, 0)
    time_unet = training.build_model(training.TrainConfig("flow_time", num_hiddens=4)).eval()
    digits = flow.flow_digits(time_unet, "flow_time", torch.zeros(2), 1, progress=False)
    assert digits.shape == (2, 1, 28, 28)  # a time model takes any labels: it only counts them


def test_trailing_is_the_default_spacing_and_is_safe_on_the_cosine_schedule():
    """Trailing DDIM starts the cosine model at t = 999 (abar 2e-9): unclipped, x0_hat blows up;
    sample_digits clips x0_hat to the data range there, as DeepFloyd IF does."""
    from helpers.classifier import classify

    assert sampling.ddim_timesteps(300, 10)[0] == 299
    model = load_checkpoint("offline_digits_epoch06")
    config = TrainConfig(**model.manifest["recipe"])
    labels = torch.arange(20) % 10
    timesteps = sampling.ddim_timesteps(config.T, 20)
    abar = helpers.alphas_cumprod(config.betas())
    x_T = torch.randn(20, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    eps_model = sampling.class_eps_model(model, config.T, labels, 1.0)
    raw, _ = sampling.sample(eps_model, x_T, timesteps, abar, eta=0.0, progress=False)
    assert raw.abs().max() > 100
    digits, _ = sampling.sample_digits(
        model, config, labels, timesteps, eta=0.0, gamma=1.0, progress=False
    )
    assert 0.05 < digits.mean() < 0.2  # real test digits: 0.13
    read, _ = classify(digits, load_checkpoint("digit_classifier"))
    assert (read == labels).float().mean() >= 0.8
