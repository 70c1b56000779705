"""Graded: the course UNets. The student's network gets the solution's weights, matched by
structure (layer by layer in the order of calls, whatever the names), and must give the
solution's outputs on hidden inputs; the parameter count is computed here."""

import functools

import pytest
import torch

from helpers import unet as solution
from instructor.grading.checks import close
from instructor.runner import _leaves, signature

SEED = 314159
MASK = torch.tensor([1.0, 0.0, 1.0])  # the class kept, dropped, kept


@functools.cache
def _inputs(B=3, seed=0):
    g = torch.Generator().manual_seed(SEED + seed)
    return (
        torch.rand(B, 1, 28, 28, generator=g),
        torch.rand(B, generator=g),
        torch.randint(0, 10, (B,), generator=g),
    )


def _randomised(model: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Every weight and batch-norm statistic drawn at random, so no default value hides a bug."""
    g = torch.Generator().manual_seed(SEED + seed)
    with torch.no_grad():
        for name, value in model.state_dict().items():
            if value.is_floating_point():
                noise = torch.randn(value.shape, generator=g) * 0.3
                value.copy_(noise.abs() + 0.5 if name.endswith("running_var") else noise)
    return model


@functools.cache
def _reference(name: str, init: tuple, inputs: tuple, train: bool):
    """The solution's weights in call order, its output and parameter count (once a worker)."""
    model = _randomised(getattr(solution, name)(**dict(init)), len(inputs))
    model.train(train)
    weights = [[signature(m), m.state_dict()] for m in _leaves(model, inputs)]
    with torch.no_grad():
        expected = model(*inputs)
    return weights, expected, sum(p.numel() for p in model.parameters())


def _check(student, name: str, init: dict, inputs: list, train: bool) -> None:
    key = tuple(sorted(init.items()))
    weights, expected, parameters = _reference(name, key, tuple(inputs), train)
    got = student.module(name, init, inputs, train=train, weights=weights)
    count = sum(torch.Size(s).numel() for s in got["parameter_shapes"])
    if count != parameters:
        pytest.fail(f"your {name} has {count} parameters, not the course's number", pytrace=False)
    close(got["output"], expected, 1e-4, f"{name}'s output")


@pytest.mark.points(2)
@pytest.mark.parametrize("D", [6, 16])
def test_unconditional_unet(student, D):
    """UnconditionalUNet: the course network, output for given weights"""
    x, _, _ = _inputs()
    init = {"in_channels": 1, "num_hiddens": D}
    _check(student, "UnconditionalUNet", init, [x], train=False)


@pytest.mark.points(2)
def test_time_conditional_unet(student):
    """TimeConditionalUNet: the course network, output for given weights and times"""
    x, t, _ = _inputs()
    _check(student, "TimeConditionalUNet", {"in_channels": 1, "num_hiddens": 8}, [x, t], True)


@pytest.mark.points(2)
def test_class_conditional_unet(student):
    """ClassConditionalUNet: the course network, with classes kept and dropped"""
    x, t, c = _inputs()
    init = {"in_channels": 1, "num_classes": 10, "num_hiddens": 8}
    _check(student, "ClassConditionalUNet", init, [x, c, t, MASK], train=True)
