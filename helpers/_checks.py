"""Small shared pieces: input checks with teaching error messages, per-timestep gathering, noise.

Nothing here is graded; every graded helper calls these so that a wrong argument fails loudly
with a message that says what to do, instead of broadcasting into a silent wrong result.
"""

import torch
from torch import Tensor


def check_t(t: int | Tensor, T: int, name: str = "t") -> None:
    """Raise ValueError unless every timestep in t lies in [0, T - 1]."""
    t = torch.as_tensor(t)
    if t.is_floating_point():
        raise ValueError(f"{name} must be an integer timestep (or a tensor of them), got {t.dtype}")
    if t.numel() == 0 or t.min() < 0 or t.max() >= T:
        raise ValueError(
            f"{name} must lie in [0, {T - 1}] for a schedule of T = {T} steps, got {t.tolist()}"
        )


def check_pair(t: int, t_prime: int, T: int) -> None:
    """Raise ValueError unless T > t > t_prime >= 0, both plain integers (one step of a loop)."""
    for name, value in (("t", t), ("t_prime", t_prime)):
        if isinstance(value, Tensor):
            if value.numel() != 1:
                raise ValueError(f"{name} must be a single timestep, got a tensor of {value.shape}")
            value = value.item()
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    check_t(t, T)
    check_t(t_prime, T, "t_prime")
    if not int(t) > int(t_prime):
        raise ValueError(
            f"a step goes from t to an earlier t_prime < t,"
            f" got t = {int(t)}, t_prime = {int(t_prime)}"
            " (loop over pairs of a strictly decreasing timestep list)"
        )


def check_same_shape(**tensors: Tensor) -> None:
    """Raise ValueError unless every named tensor has the same shape."""
    shapes = {name: tuple(x.shape) for name, x in tensors.items()}
    if len(set(shapes.values())) > 1:
        listed = ", ".join(f"{name} {shape}" for name, shape in shapes.items())
        raise ValueError(f"shapes must match: {listed}")


def gather(values: Tensor, t: int | Tensor, like: Tensor) -> Tensor:
    """values[t] shaped to broadcast against `like` (B, ...), on its device and in its dtype.

    t is an int (one timestep for the whole batch) or a (B,) tensor (one per image).
    """
    check_t(t, len(values))
    t = torch.as_tensor(t, device=values.device)
    out = values[t].to(device=like.device, dtype=like.dtype)  # () or (B,)
    if out.ndim == 1:
        if out.shape[0] != like.shape[0]:
            raise ValueError(
                f"t has {out.shape[0]} entries but the batch has {like.shape[0]} images"
            )
        out = out.reshape(-1, *([1] * (like.ndim - 1)))  # (B, 1, 1, 1)
    return out


def randn_like(x: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Standard normal noise shaped like x, drawn from `generator` (on its device), moved to x's."""
    device = generator.device if generator is not None else x.device
    return torch.randn(x.shape, generator=generator, device=device, dtype=x.dtype).to(x.device)
