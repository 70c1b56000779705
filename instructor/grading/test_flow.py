"""Graded: part B's flow matching (helpers/flow.py) and the time-conditioned flow UNet.

The math helpers are compared with the solution on inputs drawn here from a seed students never
see; the loops run in the sandbox on analytic models (runner.analytic_velocity, a closed-form
velocity field, and runner.analytic_net for the loss and guidance), so the solution's output on
the same model and inputs is the exact expected value. FlowTimeUNet is graded as the other
UNets are (test_unet.py): the solution's weights, matched by structure, on hidden inputs.
"""

import pytest
import torch

import helpers as solution
from instructor.grading.checks import close
from instructor.grading.test_unet import _check as _check_module
from instructor.grading.test_unet import _inputs
from instructor.runner import analytic_model

SEED = 141421
SHAPE = [1, 8, 8]


def _rand(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(SEED + seed))


def _pair(B=3, seed=0):
    """(x_noise, x_data): standard normal noise and 'digits' in [0, 1]."""
    return _rand(B, *SHAPE, seed=seed), _rand(B, *SHAPE, seed=seed + 1).sigmoid()


def _with_model(student, name: str, kind: str, *args, **kwargs) -> None:
    """The student's and the solution's `name` on the same analytic model and inputs."""
    spec = {"kind": kind, "image_shape": SHAPE, "alphas_cumprod": None}
    got = student.with_model(name, spec, *args, **kwargs)
    expected = getattr(solution, name)(analytic_model(spec), *args, **kwargs)
    close(got, expected, 1e-4, name)


@pytest.mark.points(1)
def test_interpolate(student):
    """interpolate: the straight path from noise (t = 0) to data (t = 1), one t per image"""
    x_noise, x_data = _pair(4, seed=1)
    for t in (
        torch.tensor([0.0, 0.31, 0.77, 1.0]),
        torch.rand(4, generator=torch.Generator().manual_seed(SEED)),
    ):
        got = student.interpolate(x_noise, x_data, t)
        close(got, solution.interpolate(x_noise, x_data, t), 1e-5, "interpolate")


@pytest.mark.points(1)
def test_velocity_target(student):
    """velocity_target: the path's velocity, data minus noise"""
    x_noise, x_data = _pair(seed=3)
    got = student.velocity_target(x_noise, x_data)
    close(got, solution.velocity_target(x_noise, x_data), 1e-5, "velocity_target")


@pytest.mark.points(2)
def test_flow_loss(student):
    """flow_loss: the velocity regression at x_t, with and without labels"""
    x_noise, x_data = _pair(4, seed=5)
    t = torch.tensor([0.05, 0.4, 0.66, 0.93])
    _with_model(student, "flow_loss", "net", x_data, x_noise, t)
    c, mask = torch.tensor([7, 2, 2, 5]), torch.tensor([1, 1, 0, 1])
    _with_model(student, "flow_loss", "net", x_data, x_noise, t, c, mask)


@pytest.mark.points(1)
def test_euler_step(student):
    """euler_step: one step forward in time along the velocity"""
    x_t, velocity = _pair(seed=7)
    for t, t_next in [(0.0, 0.02), (0.37, 0.61), (0.95, 1.0)]:
        got = student.euler_step(x_t, velocity, t, t_next)
        close(got, solution.euler_step(x_t, velocity, t, t_next), 1e-5, "euler_step")


@pytest.mark.points(2)
def test_flow_sample(student):
    """flow_sample: Euler from t_start to 1, from noise and from a shortened start"""
    x_noise, _ = _pair(2, seed=9)
    for num_ts, t_start in [(13, 0.0), (10, 0.35), (8, 0.5)]:
        kwargs = {"t_start": t_start, "progress": False}
        _with_model(student, "flow_sample", "velocity", x_noise, num_ts, **kwargs)


@pytest.mark.points(2)
def test_guided_velocity(student):
    """guided_velocity: classifier-free guidance of the velocity, unguided and guided"""
    x_t, _ = _pair(3, seed=11)
    t, c = torch.tensor([0.2, 0.5, 0.9]), torch.tensor([3, 0, 8])
    for gamma in (1.0, 5.0, 0.4):
        _with_model(student, "guided_velocity", "net", x_t, t, c, gamma)


@pytest.mark.points(2)
def test_flow_time_unet(student):
    """FlowTimeUNet: the time embedding scales the activations; output for given weights"""
    x, t, _ = _inputs()
    _check_module(student, "FlowTimeUNet", {"in_channels": 1, "num_hiddens": 8}, [x, t], True)
