"""Classifier-free guidance (Ho & Salimans 2022)."""

from torch import Tensor

from helpers._checks import check_same_shape


def cfg(eps_cond: Tensor, eps_uncond: Tensor, gamma: float) -> Tensor:
    """Classifier-free guidance (course Eq. A.4).

    eps = eps_uncond + gamma * (eps_cond - eps_uncond)

    gamma = 1 gives the conditional estimate, gamma = 0 the unconditional one, gamma > 1 pushes
    past the condition (the course uses 7 for DeepFloyd IF, 5 for part B). Shapes must match.
    """
    check_same_shape(eps_cond=eps_cond, eps_uncond=eps_uncond)
    # BEGIN SOLUTION
    return eps_uncond + gamma * (eps_cond - eps_uncond)
    # END SOLUTION
