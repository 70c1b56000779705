"""Inputs people bring to part A: test images, their own image files, masks and drawings.

Everything returns (1, C, H, W) tensors in [-1, 1], the range part A works in, and says so when
it converts anything (orientation, bit depth, transparency, colour, size, range): never a silent
change. A file is read the way an image viewer shows it: its EXIF rotation applied, 16-bit
values scaled (not clipped), a transparent background filled so that the strokes stay visible.
"""

import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageOps
from torch import Tensor

SIXTEEN_BIT = ("I;16", "I;16B", "I;16L", "I;16N", "I")


def check_size_channels(size: int, channels: int) -> None:
    """Raise ValueError unless size is a positive int and channels is 1 (grey) or 3 (RGB)."""
    if isinstance(size, bool) or not isinstance(size, int | np.integer) or size < 1:
        raise ValueError(f"size must be a positive int (pixels per side), got {size!r}")
    if isinstance(channels, bool) or channels not in (1, 3):
        raise ValueError(
            f"channels must be 1 (grey) or 3 (RGB), got {channels!r};"
            " use a backend's image_shape: C, S, _ = denoiser.image_shape"
        )


def upright(picture: Image.Image, notes: list[str]) -> Image.Image:
    """Apply the EXIF orientation tag (phone photos are stored sideways with one)."""
    orientation = picture.getexif().get(0x0112, 1)
    if orientation in (None, 1):
        return picture
    notes.append(f"rotated as its EXIF orientation tag ({orientation}) says")
    return ImageOps.exif_transpose(picture)


def to_8bit(picture: Image.Image, notes: list[str]) -> Image.Image:
    """16-bit and 32-bit greyscale as 8-bit L, values scaled by the format's range, not clipped."""
    if picture.mode == "F":
        array = np.asarray(picture, dtype=np.float64)
        full = 1.0 if array.max() <= 1 else 255.0
        notes.append(f"scaled floating-point values (0..{full:g}) to 8 bits")
    elif picture.mode in SIXTEEN_BIT:
        array = np.asarray(picture, dtype=np.float64)
        full = 255.0 if picture.mode == "I" and array.max() <= 255 else 65535.0
        notes.append(f"scaled {picture.mode} values (0..{full:g}) to 8 bits")
    else:
        return picture
    return Image.fromarray((array / full * 255).clip(0, 255).round().astype(np.uint8))


def flatten(picture: Image.Image, notes: list[str]) -> Image.Image:
    """Fill a transparent background: white behind dark strokes, black behind light ones.

    Returns an L or RGB image. The background is chosen from the opaque pixels' mean brightness,
    so that the strokes stay visible (a plain convert would make black strokes on a transparent
    background all black).
    """
    if picture.mode == "P":
        expanded = "RGBA" if "transparency" in picture.info else "RGB"
        notes.append(f"expanded the palette (P) to {expanded}")
        picture = picture.convert(expanded)
    elif picture.mode in ("1", "CMYK", "YCbCr", "LAB", "HSV", "RGBX"):
        notes.append(f"converted {picture.mode} to RGB")
        picture = picture.convert("RGB")
    elif picture.mode in ("PA", "La", "RGBa"):
        picture = picture.convert("RGBA")
    if picture.mode not in ("LA", "RGBA"):
        return picture
    alpha = np.asarray(picture.getchannel("A"), dtype=np.float64) / 255  # (H, W) in [0, 1]
    colour = picture.convert(picture.mode[:-1])  # L or RGB
    if alpha.min() == 1:
        return colour
    grey = np.asarray(colour.convert("L"), dtype=np.float64)
    strokes = (grey * alpha).sum() / max(alpha.sum(), 1e-8)  # mean brightness of opaque pixels
    shade, word = (255, "white") if strokes < 128 else (0, "black")
    background = Image.new(colour.mode, colour.size, (shade,) * len(colour.getbands()))
    notes.append(
        f"filled the transparent background with {word} (the strokes are "
        f"{'dark' if shade else 'light'})"
    )
    return Image.composite(colour, background, picture.getchannel("A"))


def from_pil(picture: Image.Image, size: int, channels: int, name: str = "image") -> Tensor:
    """Centre-crop to a square, resize to size x size, convert to `channels`.

    Reads the picture as a viewer shows it (EXIF rotation, 16-bit, palette, transparency, CMYK),
    then returns (1, channels, size, size) in [-1, 1] and prints every conversion it made.
    """
    check_size_channels(size, channels)
    notes: list[str] = []
    picture = flatten(to_8bit(upright(picture, notes), notes), notes)
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
        side = picture.size[0]
        verb = "resized" if side > size else "enlarged (it will look soft)"
        notes.append(f"{verb} {side}x{side} to {size}x{size}")
        picture = picture.resize((size, size), Image.LANCZOS, reducing_gap=3.0)
    if notes:
        print(f"{name}: " + "; ".join(notes))
    array = np.asarray(picture, dtype=np.float32) / 255  # (H, W) or (H, W, 3) in [0, 1]
    x = torch.from_numpy(array.copy()).reshape(size, size, channels).permute(2, 0, 1)  # (C, H, W)
    return x[None] * 2 - 1


def _open(path: Path) -> Image.Image:
    if not path.exists():
        raise ValueError(f"no image at {path}")
    try:
        picture = Image.open(path)
        picture.load()
    except Image.DecompressionBombError as error:
        raise ValueError(
            f"{path} is too big for PIL to open safely ({error});"
            " shrink it below about 90 megapixels first"
        ) from error
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
