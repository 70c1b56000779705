"""The small denoiser interface part A's algorithms are written against, and the offline backend.

A backend gives:
    alphas_cumprod    (T,) the schedule it was trained with
    image_shape       (C, H, W) of the images it denoises, in [-1, 1]
    encode(prompt)    a condition for a text prompt; "" is the unconditional one
    predict(x_t, t, conds) -> [(eps_hat, variance), ...] one pair per condition, all computed in
                      one batched pass; variance is the model's predicted variance channels
                      (DeepFloyd IF) or None (fixed posterior variance).
Two backends implement it: `OfflineDigits` here (a class-conditioned UNet on 28x28 MNIST, the
embedded default) and `helpers.deepfloyd.DeepFloydIF` (the only module that touches diffusers
pipelines).
"""

import re
from typing import Any, Protocol

import torch
from torch import Tensor, nn

from helpers.guidance import cfg
from helpers.pretrained import cosine_alphas_cumprod


class Denoiser(Protocol):
    alphas_cumprod: Tensor
    image_shape: tuple[int, int, int]
    name: str

    def encode(self, prompt: str) -> Any: ...

    def predict(
        self, x_t: Tensor, t: int, conds: list[Any]
    ) -> list[tuple[Tensor, Tensor | None]]: ...


OFFLINE_CHECKPOINT = "offline_digits_epoch06"
UNCONDITIONAL_PROMPTS = ("", "a handwritten digit", "a high quality photo")
DIGIT_PROMPT = re.compile(r"^(?:a handwritten |the digit |digit )?(\d)$")


class UNetDenoiser:
    """A course UNet seen as a Denoiser: the one adapter between the kit's networks and its loops.

    It feeds t / T, as in training, and computes every condition in one batched pass. A
    ClassConditionalUNet takes conds that are labels (an int for the whole batch or a (B,)
    tensor) or None (the unconditional branch: mask 0); a TimeConditionalUNet takes [None].
    """

    image_shape = (1, 28, 28)

    def __init__(
        self,
        unet: nn.Module,
        T: int,
        alphas_cumprod: Tensor | None = None,
        prediction: str = "eps",
    ):
        self.unet, self.T, self.alphas_cumprod = unet, T, alphas_cumprod  # part A's loops need it
        if prediction not in ("eps", "v"):
            raise ValueError(f"prediction must be 'eps' or 'v', got {prediction!r}")
        if prediction == "v" and alphas_cumprod is None:
            raise ValueError("a v-prediction UNet needs alphas_cumprod to give noise estimates")
        self.prediction = prediction

    @torch.no_grad()
    def predict(self, x_t: Tensor, t: int, conds: list) -> list[tuple[Tensor, None]]:
        """Noise estimates of x_t (B, C, H, W) at timestep t under each condition, one pass."""
        B, n, device = x_t.shape[0], len(conds), x_t.device
        t_in = torch.full((B * n,), t / self.T, device=device)
        x_in = x_t.repeat(n, 1, 1, 1)  # (n * B, C, H, W)
        if not hasattr(self.unet, "num_classes"):  # time-conditioned: no label to give
            if any(c is not None for c in conds):
                raise ValueError("a time-conditioned UNet takes no class label; use conds [None]")
            eps = self.unet(x_in, t_in)
        else:
            labels = torch.cat([_labels(c, B, device) for c in conds])  # (n * B,)
            mask = torch.cat([torch.full((B,), float(c is not None)) for c in conds])
            eps = self.unet(x_in, labels, t_in, mask.to(device))
        eps = eps.to(x_t.dtype)
        if self.prediction == "v":  # eps = sqrt(abar) v + sqrt(1 - abar) x_t
            abar = self.alphas_cumprod[t].to(x_t.dtype)
            eps = abar.sqrt() * eps + (1 - abar).sqrt() * x_in
        return [(e, None) for e in eps.chunk(n)]


def _labels(c, B: int, device) -> Tensor:
    if c is None:  # masked out: any label will do
        return torch.zeros(B, dtype=torch.long, device=device)
    if isinstance(c, Tensor):
        return c.to(device)
    return torch.full((B,), int(c), dtype=torch.long, device=device)


def guided_estimate(denoiser: Denoiser, x_t: Tensor, t: int, conds: tuple, gamma: float = 1.0):
    """(eps_hat, variance) for x_t at t. conds is (cond,): the conditional estimate; or
    (cond, uncond): classifier-free guidance with scale gamma (course Eq. A.4),

        eps_hat = eps_uncond + gamma (eps_cond - eps_uncond),

    both estimates from one batched pass; the variance channels come from the conditional
    branch, as in IF's own pipeline.
    """
    if len(conds) == 1:
        return denoiser.predict(x_t, t, list(conds))[0]
    (eps_cond, variance), (eps_uncond, _) = denoiser.predict(x_t, t, list(conds))
    return cfg(eps_cond, eps_uncond, gamma), variance


class OfflineDigits(UNetDenoiser):
    """The embedded default: a ClassConditionalUNet trained on MNIST with T = 1000, cosine schedule.

    Prompts are "a handwritten 7" (or "7"), one per digit; "", "a handwritten digit" and
    "a high quality photo" are the unconditional branch. Images are (B, 1, 28, 28) in [-1, 1].
    """

    name = "offline (MNIST 28x28, class-conditioned UNet)"

    def __init__(self, unet: nn.Module, T: int = 1000):
        # the schedule is given, like IF's: not the student's
        super().__init__(unet.eval(), T, cosine_alphas_cumprod(T))
        self.checkpoint = getattr(unet, "manifest", {}).get("sha256", "not a shipped checkpoint")

    @staticmethod
    def prompts() -> list[str]:
        return [f"a handwritten {d}" for d in range(10)] + list(UNCONDITIONAL_PROMPTS)

    def encode(self, prompt: str) -> int | None:
        """The class of a prompt (0..9), or None for the unconditional branch."""
        text = prompt.strip().lower()
        if text in UNCONDITIONAL_PROMPTS:
            return None
        match = DIGIT_PROMPT.match(text)
        if match is None:
            known = ", ".join(repr(p) for p in self.prompts())
            raise ValueError(
                f"the offline digit model does not know {prompt!r}; known prompts: {known}"
            )
        return int(match.group(1))


def load_backend(which: str = "auto", **deepfloyd_kwargs) -> Denoiser:
    """The part A denoiser: "offline", "deepfloyd" or "auto" (IF when it can run, else offline).

    "auto" tries DeepFloyd IF (needs a CUDA GPU and the weights) and, when it cannot be used,
    prints why and falls back to the shipped offline digit model.
    """
    if which not in ("auto", "offline", "deepfloyd"):
        raise ValueError(f'backend must be "auto", "offline" or "deepfloyd", got {which!r}')
    if which != "offline":
        from helpers.deepfloyd import DeepFloydUnavailable, load_deepfloyd

        try:
            return load_deepfloyd(**deepfloyd_kwargs)
        except DeepFloydUnavailable as error:
            if which == "deepfloyd":
                raise
            print(f"{error}\n-> using the offline digit model")
    from helpers.checkpoints import load_checkpoint

    unet = load_checkpoint(OFFLINE_CHECKPOINT)
    return OfflineDigits(unet, T=unet.manifest["recipe"]["T"])
