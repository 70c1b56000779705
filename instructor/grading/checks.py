"""Checks for graded tests whose failure messages say what kind of mistake it is (shape, type,
non-finite, wrong value with its relative error) and never the hidden inputs or the expected
values."""

import pytest
import torch


def close(got, expected: torch.Tensor, tol: float = 1e-5, what: str = "result") -> None:
    """got matches expected within tol (relative to the expected values' size, and absolute)."""
    if not isinstance(got, torch.Tensor):
        pytest.fail(f"your {what} is a {type(got).__name__}, not a tensor", pytrace=False)
    if got.shape != expected.shape:
        pytest.fail(f"your {what} has the wrong shape {tuple(got.shape)}", pytrace=False)
    if not got.is_floating_point():
        pytest.fail(f"your {what} has dtype {got.dtype}, not a floating type", pytrace=False)
    if not bool(got.isfinite().all()):
        pytest.fail(f"your {what} holds NaN or infinity", pytrace=False)
    got = got.to(expected.dtype)
    if not torch.allclose(got, expected, rtol=tol, atol=tol):
        error = (got - expected).abs().max() / expected.abs().max().clamp_min(1e-12)
        pytest.fail(
            f"your {what} has wrong values: largest error {float(error):.1e} of the values' size",
            pytrace=False,
        )


def equal(got, expected: list, what: str) -> None:
    """got equals the list expected, element for element."""
    if not isinstance(got, (list, tuple)) or [int(x) for x in got] != expected:
        pytest.fail(f"wrong {what}", pytrace=False)
