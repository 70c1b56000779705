"""The given networks behind the shipped checkpoints (course part B, Fig. 1-4): never yours to edit.

Every model a notebook only loads (part A's offline digit model, the part B checkpoints the
notebooks sample from) is built here, so it runs before you have written `helpers/unet.py`.
These networks compute exactly what the course UNets compute and keep their parameter names
(conv_in, down1, down2, unflatten, up1, up2, conv_out, head, t_embed1/2, c_embed1/2), so one
safetensors file fits both; wherever the course has you train a UNet (a part B notebook with
RETRAIN = True, tools/train.py) the kit uses yours.
"""

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from helpers._checks import check_batch, check_labels

# kind -> (layer, kernel, stride, padding); each is followed by BatchNorm and GELU
LAYERS = {
    "keep": (nn.Conv2d, 3, 1, 1),  # same size
    "down": (nn.Conv2d, 3, 2, 1),  # halves the size
    "up": (nn.ConvTranspose2d, 4, 2, 1),  # doubles the size
    "unflatten": (nn.ConvTranspose2d, 7, 7, 0),  # 1x1 -> 7x7
}


def _layer(kind: str, c_in: int, c_out: int) -> nn.Sequential:
    layer, kernel, stride, padding = LAYERS[kind]
    return nn.Sequential(
        layer(c_in, c_out, kernel, stride, padding), nn.BatchNorm2d(c_out), nn.GELU()
    )


def _twice(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(_layer("keep", c_in, c_out), _layer("keep", c_out, c_out))


def _resize(kind: str, c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(_layer(kind, c_in, c_out), _twice(c_out, c_out))


def _embed(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(c_in, c_out), nn.GELU(), nn.Linear(c_out, c_out))


class PretrainedUNet(nn.Module):
    """The course UNet (part B, Fig. 1): x (B, C, 28, 28) -> (B, C, 28, 28), unconditional.

    D = num_hiddens channels at 28x28 and 14x14, 2D at 7x7 and 1x1; skip connections by
    concatenation. Subclasses add the time and class embeddings (scale and shift of u0, u1).
    """

    def __init__(self, in_channels: int = 1, num_hiddens: int = 128):
        super().__init__()
        D = num_hiddens
        self.conv_in, self.conv_out = _twice(in_channels, D), _twice(2 * D, D)
        self.down1, self.down2 = _resize("down", D, D), _resize("down", D, 2 * D)
        self.unflatten = _layer("unflatten", 2 * D, 2 * D)
        self.up1, self.up2 = _resize("up", 4 * D, D), _resize("up", 2 * D, D)
        self.head = nn.Conv2d(D, in_channels, 3, 1, 1)

    def trunk(self, x: Tensor, scale1=1.0, shift1=0.0, scale2=1.0, shift2=0.0) -> Tensor:
        """The UNet with u0 -> scale1 * u0 + shift1 and u1 -> scale2 * u1 + shift2."""
        if x.ndim != 4 or x.shape[-2:] != (28, 28):
            raise ValueError(f"expected images (B, C, 28, 28), got {tuple(x.shape)}")
        e0 = self.conv_in(x)  # (B, D, 28, 28)
        e1 = self.down1(e0)  # (B, D, 14, 14)
        e2 = self.down2(e1)  # (B, 2D, 7, 7)
        u0 = self.unflatten(F.gelu(F.avg_pool2d(e2, 7))) * scale1 + shift1  # (B, 2D, 7, 7)
        u1 = self.up1(torch.cat([u0, e2], 1)) * scale2 + shift2  # (B, D, 14, 14)
        u2 = self.up2(torch.cat([u1, e1], 1))  # (B, D, 28, 28)
        return self.head(self.conv_out(torch.cat([u2, e0], 1)))  # (B, C, 28, 28)

    def forward(self, x: Tensor) -> Tensor:
        return self.trunk(x)


class PretrainedTimeUNet(PretrainedUNet):
    """The time-conditioned course UNet (part B, Fig. 2): forward(x, t (B,) in [0, 1])."""

    def __init__(self, in_channels: int = 1, num_hiddens: int = 64):
        super().__init__(in_channels, num_hiddens)
        self.t_embed1, self.t_embed2 = _embed(1, 2 * num_hiddens), _embed(1, num_hiddens)

    def embed_time(self, x: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
        """(B, 2D, 1, 1) and (B, D, 1, 1) embeddings of t (B,)."""
        check_batch(x, "t", t)
        t = t.to(x.dtype).reshape(-1, 1)  # (B, 1)
        return self.t_embed1(t)[..., None, None], self.t_embed2(t)[..., None, None]

    def forward(self, x: Tensor, t: Tensor) -> Tensor:
        t1, t2 = self.embed_time(x, t)
        return self.trunk(x, shift1=t1, shift2=t2)


class PretrainedClassUNet(PretrainedTimeUNet):
    """The class-conditioned course UNet (part B, Fig. 4): forward(x, c, t, mask); mask 0 drops c.

    c (B,) integer labels, t (B,) in [0, 1], mask (B,) of 0/1 or None (keep every class).
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 10, num_hiddens: int = 64):
        super().__init__(in_channels, num_hiddens)
        self.num_classes = num_classes
        self.c_embed1 = _embed(num_classes, 2 * num_hiddens)
        self.c_embed2 = _embed(num_classes, num_hiddens)

    def forward(self, x: Tensor, c: Tensor, t: Tensor, mask: Tensor | None = None) -> Tensor:
        check_labels(x, c, self.num_classes)
        one_hot = F.one_hot(c, self.num_classes).to(x.dtype)  # (B, classes)
        if mask is not None:
            check_batch(x, "mask", mask)
            one_hot = one_hot * mask.to(x.dtype)[:, None]
        c1, c2 = self.c_embed1(one_hot)[..., None, None], self.c_embed2(one_hot)[..., None, None]
        t1, t2 = self.embed_time(x, t)
        return self.trunk(x, scale1=c1, shift1=t1, scale2=c2, shift2=t2)


def cosine_alphas_cumprod(T: int = 1000) -> Tensor:
    """abar_t of the cosine schedule (Nichol & Dhariwal 2021), as DeepFloyd IF's scheduler has it.

    abar(s) = cos^2((s + 0.008) / 1.008 * pi / 2), beta_t = min(1 - abar((t+1)/T) / abar(t/T),
    0.999), abar_t = prod(1 - beta): diffusers' "squaredcos_cap_v2", computed the same way
    (betas in float64, then float32, product in float32). Given, so that part A's offline model
    runs before the student's own `cosine_betas` does. float32, shape (T,).
    """

    def abar(s: float) -> float:
        return math.cos((s + 0.008) / 1.008 * math.pi / 2) ** 2

    betas = [min(1 - abar((t + 1) / T) / abar(t / T), 0.999) for t in range(T)]
    return torch.cumprod(1.0 - torch.tensor(betas, dtype=torch.float32), dim=0)


class PretrainedFlowTimeUNet(PretrainedTimeUNet):
    """The time-conditioned flow-matching UNet (course part B 2.1): forward(x, t).

    t (B,) in [0, 1] (0 noise, 1 data); the time embeddings scale u0 and u1 (t1 * u0, t2 * u1)
    where the DDPM network adds them. The class-conditioned flow model is PretrainedClassUNet.
    """

    def forward(self, x: Tensor, t: Tensor) -> Tensor:
        t1, t2 = self.embed_time(x, t)
        return self.trunk(x, scale1=t1, scale2=t2)
