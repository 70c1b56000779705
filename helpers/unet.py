"""The course's UNets for 28x28 digits (part B): unconditional, time- and class-conditioned.

Graph, with D = num_hiddens (shapes for a (B, 1, 28, 28) input), and the attribute names:
    conv_in    ConvBlock(1 -> D)        e0 (B, D, 28, 28)
    down1      DownBlock(D -> D)        e1 (B, D, 14, 14)
    down2      DownBlock(D -> 2D)       e2 (B, 2D, 7, 7)
    flatten    Flatten                     (B, 2D, 1, 1)
    unflatten  Unflatten                u0 (B, 2D, 7, 7)    <- c1 * u0 + t1   (level 7x7)
    up1        UpBlock(4D -> D)  on [u0, e2]  u1 (B, D, 14, 14)  <- c2 * u1 + t2   (14x14)
    up2        UpBlock(2D -> D)  on [u1, e1]  u2 (B, D, 28, 28)
    conv_out   ConvBlock(2D -> D) on [u2, e0]
    head       a bare Conv 3x3 (D -> 1), no BatchNorm or GELU
    t_embed1, t_embed2 (FCBlock: t -> t1, t2), c_embed1, c_embed2 (FCBlock: class -> c1, c2)
The notebooks and tools/train.py train these classes. Keep the names and the order of layers
inside each block: a checkpoint you export (tools/checkpoints.py) is loaded by parameter name
into the given networks of helpers/pretrained.py, as the shipped ones are.
"""

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from helpers._checks import check_batch, check_labels


class Conv(nn.Sequential):
    """Conv 3x3, stride 1, padding 1, + BatchNorm + GELU; keeps the size."""

    def __init__(self, in_channels: int, out_channels: int):
        # BEGIN SOLUTION
        super().__init__(
            nn.Conv2d(in_channels, out_channels, 3, 1, 1),
            nn.BatchNorm2d(out_channels),
            nn.GELU(),
        )
        # END SOLUTION


class DownConv(nn.Sequential):
    """Conv 3x3, stride 2, padding 1, + BatchNorm + GELU; halves the size."""

    def __init__(self, in_channels: int, out_channels: int):
        # BEGIN SOLUTION
        super().__init__(
            nn.Conv2d(in_channels, out_channels, 3, 2, 1),
            nn.BatchNorm2d(out_channels),
            nn.GELU(),
        )
        # END SOLUTION


class UpConv(nn.Sequential):
    """ConvTranspose 4x4, stride 2, padding 1, + BatchNorm + GELU; doubles the size."""

    def __init__(self, in_channels: int, out_channels: int):
        # BEGIN SOLUTION
        super().__init__(
            nn.ConvTranspose2d(in_channels, out_channels, 4, 2, 1),
            nn.BatchNorm2d(out_channels),
            nn.GELU(),
        )
        # END SOLUTION


class Flatten(nn.Sequential):
    """AvgPool 7x7 + GELU: (B, C, 7, 7) -> (B, C, 1, 1)."""

    def __init__(self):
        # BEGIN SOLUTION
        super().__init__(nn.AvgPool2d(7), nn.GELU())
        # END SOLUTION


class Unflatten(nn.Sequential):
    """ConvTranspose 7x7, stride 7, + BatchNorm + GELU: (B, C, 1, 1) -> (B, C, 7, 7)."""

    def __init__(self, in_channels: int):
        # BEGIN SOLUTION
        super().__init__(
            nn.ConvTranspose2d(in_channels, in_channels, 7, 7, 0),
            nn.BatchNorm2d(in_channels),
            nn.GELU(),
        )
        # END SOLUTION


class ConvBlock(nn.Sequential):
    """Conv, Conv: two size-keeping convolutions."""

    def __init__(self, in_channels: int, out_channels: int):
        # BEGIN SOLUTION
        super().__init__(Conv(in_channels, out_channels), Conv(out_channels, out_channels))
        # END SOLUTION


class DownBlock(nn.Sequential):
    """DownConv, ConvBlock: halves the size."""

    def __init__(self, in_channels: int, out_channels: int):
        # BEGIN SOLUTION
        super().__init__(DownConv(in_channels, out_channels), ConvBlock(out_channels, out_channels))
        # END SOLUTION


class UpBlock(nn.Sequential):
    """UpConv, ConvBlock: doubles the size."""

    def __init__(self, in_channels: int, out_channels: int):
        # BEGIN SOLUTION
        super().__init__(UpConv(in_channels, out_channels), ConvBlock(out_channels, out_channels))
        # END SOLUTION


class FCBlock(nn.Sequential):
    """Linear + GELU + Linear: embeds a conditioning vector (B, in) -> (B, out, 1, 1)."""

    def __init__(self, in_features: int, out_features: int):
        # BEGIN SOLUTION
        super().__init__(
            nn.Linear(in_features, out_features),
            nn.GELU(),
            nn.Linear(out_features, out_features),
            nn.Unflatten(1, (out_features, 1, 1)),
        )
        # END SOLUTION


class UnconditionalUNet(nn.Module):
    """The course's UNet: (B, in_channels, 28, 28) -> (B, in_channels, 28, 28)."""

    def __init__(self, in_channels: int = 1, num_hiddens: int = 128):
        super().__init__()
        D = num_hiddens
        self.in_channels = in_channels
        # BEGIN SOLUTION
        self.conv_in = ConvBlock(in_channels, D)
        self.down1 = DownBlock(D, D)
        self.down2 = DownBlock(D, 2 * D)
        self.flatten = Flatten()
        self.unflatten = Unflatten(2 * D)
        self.up1 = UpBlock(4 * D, D)
        self.up2 = UpBlock(2 * D, D)
        self.conv_out = ConvBlock(2 * D, D)
        self.head = nn.Conv2d(D, in_channels, 3, 1, 1)  # bare: no BatchNorm, no GELU
        # END SOLUTION

    def check_input(self, x: Tensor) -> None:
        if x.ndim != 4 or tuple(x.shape[1:]) != (self.in_channels, 28, 28):
            raise ValueError(
                f"the course UNet takes images of shape (B, {self.in_channels}, 28, 28),"
                f" got {tuple(x.shape)}; resize or add a batch dimension with x[None]"
            )

    def trunk(self, x: Tensor, scale1=1.0, shift1=0.0, scale2=1.0, shift2=0.0) -> Tensor:
        """The UNet with u0 -> scale1 * u0 + shift1 and u1 -> scale2 * u1 + shift2."""
        self.check_input(x)
        # BEGIN SOLUTION
        e0 = self.conv_in(x)  # (B, D, 28, 28)
        e1 = self.down1(e0)  # (B, D, 14, 14)
        e2 = self.down2(e1)  # (B, 2D, 7, 7)
        u0 = self.unflatten(self.flatten(e2))  # (B, 2D, 7, 7)
        u0 = scale1 * u0 + shift1
        u1 = self.up1(torch.cat([u0, e2], dim=1))  # (B, D, 14, 14)
        u1 = scale2 * u1 + shift2
        u2 = self.up2(torch.cat([u1, e1], dim=1))  # (B, D, 28, 28)
        return self.head(self.conv_out(torch.cat([u2, e0], dim=1)))  # (B, C, 28, 28)
        # END SOLUTION

    def forward(self, x: Tensor) -> Tensor:
        return self.trunk(x)


class TimeConditionalUNet(UnconditionalUNet):
    """The UNet conditioned on t in [0, 1] (t / T): forward(x (B, C, 28, 28), t (B,))."""

    def __init__(self, in_channels: int = 1, num_hiddens: int = 64):
        super().__init__(in_channels, num_hiddens)
        # BEGIN SOLUTION
        self.t_embed1 = FCBlock(1, 2 * num_hiddens)
        self.t_embed2 = FCBlock(1, num_hiddens)
        # END SOLUTION

    def embed_time(self, x: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
        check_batch(x, "t", t)
        t = t.to(x.dtype)[:, None]  # (B, 1)
        return self.t_embed1(t), self.t_embed2(t)  # (B, 2D, 1, 1), (B, D, 1, 1)

    def forward(self, x: Tensor, t: Tensor) -> Tensor:
        t1, t2 = self.embed_time(x, t)
        return self.trunk(x, shift1=t1, shift2=t2)


class ClassConditionalUNet(TimeConditionalUNet):
    """The UNet conditioned on t and a class: forward(x, c (B,) ints, t (B,), mask (B,) or None).

    mask = 0 drops the class for that image (the unconditional branch of guidance).
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 10, num_hiddens: int = 64):
        super().__init__(in_channels, num_hiddens)
        self.num_classes = num_classes
        # BEGIN SOLUTION
        self.c_embed1 = FCBlock(num_classes, 2 * num_hiddens)
        self.c_embed2 = FCBlock(num_classes, num_hiddens)
        # END SOLUTION

    def forward(self, x: Tensor, c: Tensor, t: Tensor, mask: Tensor | None = None) -> Tensor:
        check_labels(x, c, self.num_classes)
        one_hot = F.one_hot(c, self.num_classes).to(x.dtype)  # (B, classes)
        if mask is not None:
            check_batch(x, "mask", mask)
            one_hot = one_hot * mask.to(x.dtype)[:, None]
        t1, t2 = self.embed_time(x, t)
        # BEGIN SOLUTION
        c1, c2 = self.c_embed1(one_hot), self.c_embed2(one_hot)
        return self.trunk(x, scale1=c1, shift1=t1, scale2=c2, shift2=t2)
        # END SOLUTION


class FlowTimeUNet(TimeConditionalUNet):
    """The time-conditioned flow UNet (course part B 2.1): forward(x (B, C, 28, 28), t (B,)).

    The time embeddings SCALE the activations (u0 -> t1 * u0, u1 -> t2 * u1), where the DDPM
    TimeConditionalUNet adds them; same layers and parameter names. t = 0 is noise, 1 data.
    (The course's class-conditioned flow model is ClassConditionalUNet unchanged:
    u0 -> c1 * u0 + t1, u1 -> c2 * u1 + t2.)
    """

    def forward(self, x: Tensor, t: Tensor) -> Tensor:
        t1, t2 = self.embed_time(x, t)  # (B, 2D, 1, 1), (B, D, 1, 1)
        # BEGIN SOLUTION
        return self.trunk(x, scale1=t1, scale2=t2)
        # END SOLUTION
