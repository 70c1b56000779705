"""Small shared pieces: input checks with teaching error messages, per-timestep gathering, noise.

Nothing here is graded; every graded helper calls these so that a wrong argument fails loudly
with a message that says what to do, instead of broadcasting into a silent wrong result.
"""

import math
import numbers
import warnings

import torch
from torch import Tensor

GAMMA_RANGE = (0.0, 100.0)  # CFG scale: 1 = no guidance, the course uses 5 to 7


def check_t(t: int | Tensor, T: int, name: str = "t") -> None:
    """Raise ValueError unless every timestep in t lies in [0, T - 1]."""
    t = torch.as_tensor(t)
    if t.is_floating_point():
        raise ValueError(f"{name} must be an integer timestep (or a tensor of them), got {t.dtype}")
    if t.numel() == 0 or t.min() < 0 or t.max() >= T:
        raise ValueError(
            f"{name} must lie in [0, {T - 1}] for a schedule of T = {T} steps, got {t.tolist()}"
        )


def check_batch(x: Tensor, name: str, v: Tensor) -> None:
    """Raise ValueError unless v is a (B,) tensor, one value per image of the batch x (B, ...)."""
    if v.shape != (x.shape[0],):
        raise ValueError(
            f"{name} must have shape ({x.shape[0]},), one per image, got {tuple(v.shape)}"
        )


def check_labels(x: Tensor, c: Tensor, num_classes: int) -> None:
    """Raise ValueError unless c is a (B,) tensor of integer class labels in [0, num_classes)."""
    check_batch(x, "c", c)
    if c.dtype != torch.long or c.min() < 0 or c.max() >= num_classes:
        raise ValueError(
            f"c must hold int64 labels in [0, {num_classes - 1}] (.long() converts), got {c.dtype}"
            f" values from {c.min().item()} to {c.max().item()}"
        )


def check_sample_labels(
    labels, class_model: bool, start: Tensor | None = None, start_name: str = "x_T"
) -> None:
    """Raise ValueError unless labels is a non-empty (N,) tensor (for a class-conditioned model,
    of digits 0-9) and start, when given, is (N, 1, 28, 28): what part B's samplers take."""
    if not isinstance(labels, Tensor) or labels.ndim != 1 or len(labels) == 0:
        got = tuple(labels.shape) if isinstance(labels, Tensor) else type(labels).__name__
        raise ValueError(
            f"labels must be a non-empty (N,) tensor, one per digit to draw (for example"
            f" torch.arange(10)), got {got}"
        )
    if class_model and (labels.dtype != torch.long or labels.min() < 0 or labels.max() > 9):
        raise ValueError(
            f"labels must be int64 digits 0-9 for a class-conditioned model (.long() converts),"
            f" got {labels.dtype} values from {labels.min().item()} to {labels.max().item()}"
        )
    if start is not None and tuple(start.shape) != (len(labels), 1, 28, 28):
        raise ValueError(
            f"{start_name} must have shape ({len(labels)}, 1, 28, 28), one per label, got"
            f" {tuple(start.shape)}"
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


def check_int(value, name: str) -> int:
    """value as an int; refuse floats (5.0), strings ("7") and bools with a message."""
    if isinstance(value, Tensor) and value.numel() == 1 and not value.is_floating_point():
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(
            f"{name} must be an int, got {type(value).__name__} {value!r};"
            f" pass an index such as {name}=7 (int(...) converts a float or a string)"
        )
    return int(value)


def check_gamma(gamma, name: str = "gamma") -> float:
    """gamma as a float; refuse non-numbers, NaN, inf and values outside GAMMA_RANGE."""
    low, high = GAMMA_RANGE
    if isinstance(gamma, Tensor) and gamma.numel() == 1:
        gamma = gamma.item()
    if isinstance(gamma, bool) or not isinstance(gamma, numbers.Real):
        raise ValueError(
            f"{name} (the guidance scale) must be a number, got {type(gamma).__name__} {gamma!r}"
        )
    if not math.isfinite(gamma) or not low <= gamma <= high:
        raise ValueError(
            f"{name} (the guidance scale) must be a finite number in [{low:g}, {high:g}],"
            f" got {gamma!r}; 1 means no guidance; the course uses 7 in part A, 5 in part B"
        )
    return float(gamma)


def check_prompt(prompt, name: str = "prompt") -> None:
    """Raise ValueError unless prompt is a str (None is refused: "" is the unconditional one)."""
    if not isinstance(prompt, str):
        raise ValueError(
            f"{name} must be a string, got {type(prompt).__name__} {prompt!r};"
            ' use "" for the unconditional branch'
        )


def check_generator(generator) -> None:
    """Raise ValueError unless generator is None or a torch.Generator (not a seed)."""
    if generator is not None and not isinstance(generator, torch.Generator):
        raise ValueError(
            f"generator must be a torch.Generator or None, got {type(generator).__name__}"
            f" {generator!r}; for a seed s use torch.Generator().manual_seed(s)"
        )


def range_hint(low: float, high: float) -> str:
    """How to map an image whose values lie in [low, high] into [-1, 1]."""
    if low >= 0 and high <= 1:
        return "it looks like a [0, 1] image: map it with x * 2 - 1"
    if low >= 0 and high <= 255:
        return "it looks like a [0, 255] image: map it with x / 127.5 - 1"
    return "rescale it, e.g. (x - x.min()) / (x.max() - x.min()) * 2 - 1"


def check_signed_image(x, name: str = "image", noisy: bool = False) -> None:
    """Raise ValueError unless x is a finite tensor in [-1, 1] (any finite values if noisy).

    Warns when every value lies in [0, 1]: most likely a [0, 1] image that needs x * 2 - 1.
    """
    if not isinstance(x, Tensor):
        raise ValueError(
            f"{name} must be a torch.Tensor, got {type(x).__name__};"
            " torch.from_numpy(array) converts a NumPy array"
        )
    if x.numel() == 0 or not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} must be a non-empty tensor of finite values (no NaN or inf)")
    if noisy:
        return
    low, high = float(x.min()), float(x.max())
    if low < -1.001 or high > 1.001:
        raise ValueError(
            f"{name} must hold values in [-1, 1], got [{low:.2f}, {high:.2f}];"
            f" {range_hint(low, high)}"
        )
    if low >= 0:
        warnings.warn(
            f"{name} holds values in [{low:.2f}, {high:.2f}] and none below 0, but part A works"
            f" in [-1, 1]: {range_hint(low, high)} (ignore this if the image is meant to be"
            " this light)",
            UserWarning,
            stacklevel=3,
        )


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
