"""Graded: the course UNets, by parameter count (the architecture, whatever the names), output
shapes, and the conditioning paths."""

import pytest
import torch

from helpers import unet as solution

SEED = 314159


def _inputs(B=3, seed=0):
    g = torch.Generator().manual_seed(SEED + seed)
    return (
        torch.rand(B, 1, 28, 28, generator=g),
        torch.rand(B, generator=g),
        torch.randint(0, 10, (B,), generator=g),
    )


def _count(model):
    return sum(p.numel() for p in model.parameters())


@pytest.mark.points(2)
@pytest.mark.parametrize("D", [6, 16])
def test_unconditional_unet(student, D):
    """UnconditionalUNet: the course architecture (parameter count) and shape"""
    x, _, _ = _inputs()
    got = student.module("UnconditionalUNet", {"in_channels": 1, "num_hiddens": D}, [x])
    assert got["num_parameters"] == _count(solution.UnconditionalUNet(1, D)), (
        "not the course architecture"
    )
    assert got["output"].shape == x.shape


@pytest.mark.points(2)
def test_time_conditional_unet(student):
    """TimeConditionalUNet: architecture, shape, and t changes the output"""
    x, t, _ = _inputs()
    init = {"in_channels": 1, "num_hiddens": 8}
    got = student.module("TimeConditionalUNet", init, [x, t], train=True)
    other = student.module("TimeConditionalUNet", init, [x, 1 - t], train=True)
    assert got["num_parameters"] == _count(solution.TimeConditionalUNet(1, 8)), (
        "not the course architecture"
    )
    assert got["output"].shape == x.shape and not torch.allclose(got["output"], other["output"])


@pytest.mark.points(2)
def test_class_conditional_unet(student):
    """ClassConditionalUNet: architecture, and mask = 0 drops the class"""
    x, t, c = _inputs()
    init = {"in_channels": 1, "num_classes": 10, "num_hiddens": 8}
    dropped = torch.zeros(3)
    a = student.module("ClassConditionalUNet", init, [x, c, t, dropped], train=True)
    b = student.module("ClassConditionalUNet", init, [x, (c + 1) % 10, t, dropped], train=True)
    kept = student.module("ClassConditionalUNet", init, [x, c, t, torch.ones(3)], train=True)
    assert a["num_parameters"] == _count(solution.ClassConditionalUNet(1, 10, 8)), (
        "not the course architecture"
    )
    torch.testing.assert_close(a["output"], b["output"])
    assert not torch.allclose(a["output"], kept["output"]), "the class has no effect"
