"""Inputs people bring to part A: test images, their own image files, masks and drawings.

Everything returns (1, C, H, W) tensors in [-1, 1], the range part A works in, and says so when
it converts anything (size, colour, range): never a silent change.
"""

import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw
from torch import Tensor


def from_pil(picture: Image.Image, size: int, channels: int, name: str = "image") -> Tensor:
    """Centre-crop to a square, resize to size x size, convert to `channels`.

    Returns (1, channels, size, size) in [-1, 1] and prints every conversion it made.
    """
    notes = []
    mode = "L" if channels == 1 else "RGB"
    if picture.mode != mode:
        notes.append(f"converted {picture.mode} to {mode}")
        picture = picture.convert(mode)
    w, h = picture.size
    if w != h:
        side = min(w, h)
        left, top = (w - side) // 2, (h - side) // 2
        picture = picture.crop((left, top, left + side, top + side))
        notes.append(f"centre-cropped {w}x{h} to {side}x{side}")
    if picture.size != (size, size):
        notes.append(f"resized {picture.size[0]}x{picture.size[1]} to {size}x{size}")
        picture = picture.resize((size, size), Image.LANCZOS)
    if notes:
        print(f"{name}: " + "; ".join(notes))
    array = np.asarray(picture, dtype=np.float32) / 255  # (H, W) or (H, W, 3) in [0, 1]
    x = torch.from_numpy(array).reshape(size, size, channels).permute(2, 0, 1)  # (C, H, W)
    return x[None] * 2 - 1


def _open(path: Path) -> Image.Image:
    if not path.exists():
        raise ValueError(f"no image at {path}")
    try:
        picture = Image.open(path)
        picture.load()
    except OSError as error:
        raise ValueError(f"{path} is not an image PIL can read ({error})") from error
    return picture


def load_image(path: str | os.PathLike, size: int, channels: int) -> Tensor:
    """An image file as (1, channels, size, size) in [-1, 1], for a backend's image_shape.

    For the offline digit model (1, 28, 28) a picture with a light background is inverted,
    since MNIST digits are light strokes on black (and it says so).
    """
    path = Path(path)
    x = from_pil(_open(path), size, channels, path.name)
    if channels == 1 and size == 28 and x.mean() > 0:
        print(f"{path.name}: inverted (light background) to match MNIST's light strokes on black")
        x = -x
    return x


def course_image(image_shape: tuple[int, int, int], index: int = 0) -> Tensor:
    """The part A test image for a backend: a held-out MNIST digit for (1, 28, 28), else a photo.

    The photo is scikit-image's astronaut (NASA, public domain), centre-cropped and resized.
    """
    channels, size, _ = image_shape
    if (channels, size) == (1, 28):
        from helpers.data import mnist_tensors

        images, _ = mnist_tensors(train=False, verbose=False)
        return images[index : index + 1] * 2 - 1
    from skimage import data

    return from_pil(Image.fromarray(data.astronaut()), size, channels, "astronaut (scikit-image)")


def box_mask(
    image_shape: tuple[int, int, int], top: int, left: int, height: int, width: int
) -> Tensor:
    """A (1, 1, H, W) mask, 1 inside the box (regenerate), 0 elsewhere (keep)."""
    _, H, W = image_shape
    if not (0 <= top < top + height <= H and 0 <= left < left + width <= W):
        raise ValueError(f"the box ({top}, {left}, {height}, {width}) does not fit a {H}x{W} image")
    mask = torch.zeros(1, 1, H, W)
    mask[..., top : top + height, left : left + width] = 1
    return mask


def load_mask(path: str | os.PathLike, size: int) -> Tensor:
    """A mask image file as (1, 1, size, size): white (over 50% grey) = 1 = regenerate."""
    x = from_pil(_open(Path(path)), size, 1, Path(path).name)
    return (x > 0).float()


def strokes_to_image(
    strokes: list[list[tuple[float, float]]], size: int = 28, width: float = 2.5
) -> Tensor:
    """Rasterise pen strokes (lists of (x, y) in [0, 1]) into a (1, 1, size, size) drawing.

    Light strokes on black, like MNIST; drawn at 8x and downsampled for smooth edges.
    """
    scale = 8
    picture = Image.new("L", (size * scale, size * scale), 0)
    pen = ImageDraw.Draw(picture)
    for stroke in strokes:
        points = [(x * size * scale, y * size * scale) for x, y in stroke]
        if len(points) == 1:
            points = points * 2
        pen.line(points, fill=255, width=int(width * scale), joint="curve")
        r = width * scale / 2
        for px, py in (points[0], points[-1]):
            pen.ellipse((px - r, py - r, px + r, py + r), fill=255)
    return from_pil(picture.resize((size, size), Image.LANCZOS), size, 1, "drawing")
