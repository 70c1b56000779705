"""Graded: the loops students write (part A 1.4-1.9, the part B losses and sampler, DDIM
inversion), run in the sandbox on an analytic model (runner.AnalyticDenoiser: a closed-form noise
estimate that depends on x_t, t, the prompt and the row; runner.analytic_net for the losses),
with noise from generators the trusted side seeds, so the solution's output on the same model is
the exact expected value."""

import pytest
import torch

import helpers as solution
from instructor.grading.checks import close
from instructor.runner import analytic_model

SEED = 161803
ABAR = solution.alphas_cumprod(solution.cosine_betas(1000))


def _rand(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(SEED + seed))


def _spec(kind: str) -> dict:
    return {"kind": kind, "alphas_cumprod": ABAR, "image_shape": [1, 8, 8]}


def _check(student, name: str, kind: str, args: list, seed: int | None, **kwargs) -> None:
    """The student's and the solution's `name` on the same model, inputs and noise."""

    def generator():
        return {} if seed is None else {"generator": torch.Generator().manual_seed(SEED + seed)}

    got = student.with_model(name, _spec(kind), *args, **kwargs, **generator())
    expected = getattr(solution, name)(analytic_model(_spec(kind)), *args, **kwargs, **generator())
    if isinstance(expected, tuple):  # (image, frames): the image is graded
        if not (isinstance(got, (list, tuple)) and len(got) == 2):
            pytest.fail(f"your {name} must return (image, frames)", pytrace=False)
        got, expected = got[0], expected[0]
    close(got, expected, 1e-3, name)


@pytest.mark.points(2)
def test_iterative_denoise(student):
    """iterative_denoise: the strided loop from i_start, plain and guided"""
    x_t = _rand(2, 1, 8, 8)
    for i_start, uncond, gamma in [(10, None, 1.0), (3, "", 4.0)]:
        kwargs = {"prompt": "a handwritten 3", "uncond_prompt": uncond, "gamma": gamma}
        kwargs["progress"] = False
        _check(student, "iterative_denoise", "denoiser", [x_t, i_start], 1, **kwargs)


@pytest.mark.points(2)
def test_inpaint(student):
    """inpaint: regenerate under the mask, keep the rest"""
    x_orig = _rand(2, 1, 8, 8, seed=2).clamp(-1, 1)
    mask = torch.zeros(1, 1, 8, 8)
    mask[..., :5, 2:] = 1
    kwargs = {"prompt": "a handwritten 5", "gamma": 3.0, "progress": False}
    _check(student, "inpaint", "denoiser", [x_orig, mask], 2, **kwargs)


@pytest.mark.points(2)
def test_visual_anagram(student):
    """visual_anagram: two prompts, one seen through a view"""
    x_T = _rand(1, 1, 8, 8, seed=3)
    for view in ("flip", "rot180"):
        kwargs = {"view": view, "gamma": 3.0, "x_T": x_T, "progress": False}
        _check(student, "visual_anagram", "denoiser", ["a 6", "a 9"], 3, **kwargs)


@pytest.mark.points(2)
def test_hybrid_image(student):
    """hybrid_image: low frequencies of one estimate, high of the other"""
    x_T = _rand(1, 1, 8, 8, seed=4)
    kwargs = {"gamma": 3.0, "x_T": x_T, "progress": False}
    _check(student, "hybrid_image", "denoiser", ["a handwritten 1", "a handwritten 0"], 4, **kwargs)


@pytest.mark.points(2)
def test_sample(student):
    """sample: the reverse process for eta = 1 (DDPM), 0 (DDIM) and between"""
    x_T = _rand(2, 1, 8, 8, seed=5)
    timesteps = solution.ddim_timesteps(1000, 9, "leading")
    for eta in (1.0, 0.0, 0.4):
        kwargs = {"eta": eta, "progress": False}
        _check(student, "sample", "eps", [x_T, timesteps, ABAR], 5, **kwargs)


@pytest.mark.points(1)
def test_invert(student):
    """invert: DDIM run forwards, x0 -> x_T"""
    x0 = _rand(2, 1, 8, 8, seed=6).clamp(-1, 1)
    timesteps = solution.ddim_timesteps(1000, 11, "leading")
    _check(student, "invert", "eps", [x0, timesteps, ABAR], None, progress=False)


@pytest.mark.points(1)
def test_denoiser_loss(student):
    """denoiser_loss: the single-step denoiser's L2 loss"""
    x0, eps = _rand(3, 1, 8, 8, seed=7).sigmoid(), _rand(3, 1, 8, 8, seed=8)
    _check(student, "denoiser_loss", "net", [x0, eps, 0.5], None)


@pytest.mark.points(2)
def test_ddpm_loss(student):
    """ddpm_loss: noise x0 to t, predict the noise from (x_t, t / T), with and without labels"""
    x0, eps = _rand(4, 1, 8, 8, seed=9).sigmoid(), _rand(4, 1, 8, 8, seed=10)
    t = torch.tensor([0, 17, 512, 999])
    _check(student, "ddpm_loss", "net", [x0, t, eps, ABAR], None)
    c, mask = torch.tensor([3, 1, 4, 1]), torch.tensor([1, 0, 1, 1])
    _check(student, "ddpm_loss", "net", [x0, t, eps, ABAR, c, mask], None)
