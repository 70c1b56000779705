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


class OfflineDigits:
    """The embedded default: a ClassConditionalUNet trained on MNIST with T = 1000, cosine schedule.

    Prompts are "a handwritten 7" (or "7"), one per digit; "", "a handwritten digit" and
    "a high quality photo" are the unconditional branch. Images are (B, 1, 28, 28) in [-1, 1].
    """

    name = "offline (MNIST 28x28, class-conditioned UNet)"
    image_shape = (1, 28, 28)

    def __init__(self, unet: nn.Module, T: int = 1000):
        self.unet = unet.eval()
        self.checkpoint = getattr(unet, "manifest", {}).get("sha256", "not a shipped checkpoint")
        self.T = T
        self.alphas_cumprod = cosine_alphas_cumprod(T)  # given, like IF's: not the student's

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

    @torch.no_grad()
    def predict(self, x_t: Tensor, t: int, conds: list[int | None]) -> list[tuple[Tensor, None]]:
        """Noise estimates of x_t (B, 1, 28, 28) at timestep t under each condition, one pass."""
        B, device = x_t.shape[0], x_t.device
        labels = torch.tensor(
            [0 if c is None else c for c in conds], device=device
        ).repeat_interleave(B)
        mask = torch.tensor([c is not None for c in conds], device=device).repeat_interleave(B)
        t_in = torch.full((B * len(conds),), t / self.T, device=device)
        x_in = x_t.repeat(len(conds), 1, 1, 1)  # (len(conds) * B, 1, 28, 28)
        eps = self.unet(x_in.float(), labels, t_in, mask.float()).to(x_t.dtype)
        return [(e, None) for e in eps.chunk(len(conds))]


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
