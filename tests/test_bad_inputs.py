"""What students bring, wrong: every entry point refuses it with a message that says what to do,
or states the conversion it made. One table; none of these may pass silently.

Runs part A on the offline backend with a tiny random UNet (the given network, so that in the
student edition every refusal is checked from the start) and a 5-step timestep list.
"""

import re
import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from helpers import images, part_a
from helpers.denoiser import OfflineDigits, load_backend
from helpers.pretrained import PretrainedClassUNet
from helpers.widgets import DrawingPad

FEW = [990, 660, 330, 90, 0]  # a short strided list keeps every call fast
QUICK = {"timesteps": FEW, "progress": False}


@pytest.fixture(scope="module")
def denoiser():
    torch.manual_seed(0)
    return OfflineDigits(PretrainedClassUNet(1, 10, 8))  # the given network: no TODO to wait on


def digit(low: float = -1.0, high: float = 1.0) -> torch.Tensor:
    """A (1, 1, 28, 28) test image with values spread over [low, high]."""
    return torch.linspace(low, high, 28 * 28).reshape(1, 1, 28, 28)


def sdedit(d, x=None, i_start=2, prompt="a handwritten 3", gamma=7.0, **kwargs):
    x = digit() if x is None else x
    return part_a.sdedit(d, x, i_start, prompt, gamma, **(QUICK | kwargs))


def inpaint(d, x=None, mask=None, prompt="a handwritten 3", gamma=7.0):
    x = digit() if x is None else x
    mask = torch.ones(1, 1, 28, 28) if mask is None else mask
    return part_a.inpaint(d, x, mask, prompt, gamma, **QUICK)


def anagram(d, p1="a handwritten 6", p2="a handwritten 9", **kwargs):
    return part_a.visual_anagram(d, p1, p2, progress=False, **kwargs)


def hybrid(d, low="a handwritten 1", high="a handwritten 8", **kwargs):
    return part_a.hybrid_image(d, low, high, progress=False, **kwargs)


def saved(tmp_path, picture: Image.Image, name: str, **options) -> str:
    path = tmp_path / name
    picture.save(path, **options)
    return str(path)


def rgba_strokes(tmp_path):
    picture = Image.new("RGBA", (28, 28), (0, 0, 0, 0))
    picture.paste((0, 0, 0, 255), (12, 4, 16, 24))
    return saved(tmp_path, picture, "strokes.png")


def sideways(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6
    return saved(tmp_path, Image.new("RGB", (40, 20), "red"), "phone.jpg", exif=exif)


def paper_digit(tmp_path):
    picture = Image.new("L", (28, 28), 255)
    picture.paste(0, (12, 4, 16, 24))
    return saved(tmp_path, picture, "paper.png")


def grey16() -> Image.Image:
    return Image.fromarray(np.full((9, 9), 40000, np.uint16))  # a 16-bit scan: mode I;16


load = images.load_image
RAISES, WARNS, SAYS, WORKS = "raises", "warns", "says", "works"

# (id, call(denoiser, tmp_path), what happens, message fragment: a regular expression)
CASES = [
    # images in the wrong range or form
    ("0-255 image", lambda d, p: sdedit(d, digit(0, 255)), RAISES, r"x / 127\.5 - 1"),
    ("0-255 uint8", lambda d, p: sdedit(d, (digit(0, 1) * 255).byte()), RAISES, r"/ 127\.5 - 1"),
    ("0-255 inpaint", lambda d, p: inpaint(d, digit(0, 255)), RAISES, r"x / 127\.5 - 1"),
    ("0-1 image sdedit", lambda d, p: sdedit(d, digit(0, 1)), WARNS, r"\[0, 1\].*x \* 2 - 1"),
    ("0-1 image inpaint", lambda d, p: inpaint(d, digit(0, 1)), WARNS, r"x \* 2 - 1"),
    ("-3..3 image", lambda d, p: sdedit(d, digit(-3, 3)), RAISES, r"\[-1, 1\].*rescale"),
    ("NaN image", lambda d, p: sdedit(d, digit() * np.nan), RAISES, "finite values"),
    ("inf noise", lambda d, p: anagram(d, x_T=digit() / 0), RAISES, "finite values"),
    ("NumPy image", lambda d, p: sdedit(d, digit().numpy()), RAISES, r"torch\.from_numpy"),
    ("RGB for a grey model", lambda d, p: sdedit(d, torch.zeros(1, 3, 64, 64)), RAISES, "shape"),
    ("no batch axis", lambda d, p: sdedit(d, digit()[0]), RAISES, r"shape \(B, 1, 28, 28\)"),
    ("noise of a wrong shape", lambda d, p: hybrid(d, x_T=torch.zeros(1, 28, 28)), RAISES, "x_T"),
    # guidance scale
    (
        "gamma NaN",
        lambda d, p: sdedit(d, gamma=float("nan")),
        RAISES,
        r"finite number in \[0, 100\]",
    ),
    (
        "gamma inf",
        lambda d, p: sdedit(d, gamma=float("inf")),
        RAISES,
        r"finite number in \[0, 100\]",
    ),
    ("gamma 1e6", lambda d, p: sdedit(d, gamma=1e6), RAISES, r"in \[0, 100\], got 1000000\.0"),
    ("gamma -1", lambda d, p: inpaint(d, gamma=-1), RAISES, r"in \[0, 100\]"),
    ("gamma a string", lambda d, p: sdedit(d, gamma="7"), RAISES, "must be a number, got str"),
    ("gamma None", lambda d, p: anagram(d, gamma=None), RAISES, "must be a number"),
    ("gamma 1e6 hybrid", lambda d, p: hybrid(d, gamma=1e6), RAISES, r"\[0, 100\]"),
    ("gamma numpy", lambda d, p: sdedit(d, gamma=np.float32(5)), WORKS, ""),
    (
        "gamma without an unconditional prompt",
        lambda d, p: part_a.iterative_denoise(d, torch.zeros(1, 1, 28, 28), 30, gamma=7.0),
        RAISES,
        'needs an uncond_prompt.*uncond_prompt=""',
    ),
    # i_start
    (
        "i_start 5.0",
        lambda d, p: sdedit(d, i_start=5.0),
        RAISES,
        "i_start must be an int, got float",
    ),
    ("i_start '7'", lambda d, p: sdedit(d, i_start="7"), RAISES, "i_start must be an int, got str"),
    ("i_start True", lambda d, p: sdedit(d, i_start=True), RAISES, "must be an int, got bool"),
    ("i_start past the end", lambda d, p: sdedit(d, i_start=4), RAISES, r"index in \[0, 3\]"),
    ("i_start -1", lambda d, p: sdedit(d, i_start=-1), RAISES, r"index in \[0, 3\]"),
    ("i_start numpy int", lambda d, p: sdedit(d, i_start=np.int64(2)), WORKS, ""),
    ("i_start 0-d tensor", lambda d, p: sdedit(d, i_start=torch.tensor(2)), WORKS, ""),
    # prompts and randomness
    ("prompt None", lambda d, p: sdedit(d, prompt=None), RAISES, 'use "" for the unconditional'),
    ("prompt an int", lambda d, p: sdedit(d, prompt=7), RAISES, "prompt must be a string"),
    ("unknown prompt", lambda d, p: sdedit(d, prompt="a cat"), RAISES, "known prompts"),
    ("anagram prompt None", lambda d, p: anagram(d, p2=None), RAISES, "prompt_2 must be a string"),
    ("hybrid prompt None", lambda d, p: hybrid(d, low=None), RAISES, "prompt_low must be a string"),
    ("inpaint prompt None", lambda d, p: inpaint(d, prompt=None), RAISES, 'use ""'),
    ("a seed as generator", lambda d, p: sdedit(d, generator=0), RAISES, r"manual_seed\(s\)"),
    ("seed a string", lambda d, p: part_a.sdedit_sweep(d, digit(), [2], seed="0"), RAISES, "seed"),
    ("unknown view", lambda d, p: anagram(d, view="mirror"), RAISES, "view must be one of"),
    # masks
    (
        "mask of a wrong size",
        lambda d, p: inpaint(d, mask=torch.ones(1, 1, 27, 28)),
        RAISES,
        "mask must have shape",
    ),
    (
        "mask of 0.5",
        lambda d, p: inpaint(d, mask=torch.full((1, 1, 28, 28), 0.5)),
        RAISES,
        "only 0",
    ),
    (
        "mask of 255",
        lambda d, p: inpaint(d, mask=torch.full((1, 1, 28, 28), 255.0)),
        RAISES,
        r"mask > 0\.5",
    ),
    (
        "NumPy mask",
        lambda d, p: inpaint(d, mask=np.ones((1, 1, 28, 28))),
        RAISES,
        "mask must be a torch.Tensor",
    ),
    # files and drawings
    ("channels 4", lambda d, p: load(paper_digit(p), 28, 4), RAISES, "channels must be 1"),
    ("channels 2", lambda d, p: images.from_pil(Image.new("L", (8, 8)), 8, 2), RAISES, "or 3"),
    ("size 0", lambda d, p: load(paper_digit(p), 0, 1), RAISES, "positive int"),
    ("size 28.0", lambda d, p: load(paper_digit(p), 28.0, 1), RAISES, "positive int"),
    ("missing file", lambda d, p: load(p / "nope.png", 28, 1), RAISES, "no image at"),
    ("not an image", lambda d, p: load(__file__, 28, 1), RAISES, "not an image"),
    ("16-bit PNG", lambda d, p: load(saved(p, grey16(), "a.png"), 28, 1), SAYS, "scaled I;16"),
    (
        "transparent PNG",
        lambda d, p: load(rgba_strokes(p), 28, 1),
        SAYS,
        "filled the transparent background with white",
    ),
    (
        "EXIF-rotated JPEG",
        lambda d, p: load(sideways(p), 28, 3),
        SAYS,
        r"EXIF orientation tag \(6\)",
    ),
    (
        "CMYK",
        lambda d, p: load(saved(p, Image.new("CMYK", (9, 9)), "c.tif"), 9, 3),
        SAYS,
        "CMYK to RGB",
    ),
    ("dark digit on paper", lambda d, p: load(paper_digit(p), 28, 1), SAYS, "inverted"),
    (
        "tiny image",
        lambda d, p: load(saved(p, Image.new("L", (2, 2)), "t.png"), 28, 1),
        SAYS,
        "enlarged",
    ),
    ("an empty drawing pad", lambda d, p: DrawingPad().image(), RAISES, "draw something first"),
    ("unknown backend", lambda d, p: load_backend("gpu"), RAISES, 'backend must be "auto"'),
]


@pytest.mark.parametrize(
    ("call", "outcome", "fragment"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_input_is_refused_or_its_conversion_stated(
    denoiser, tmp_path, capsys, call, outcome, fragment
):
    if outcome == RAISES:
        with pytest.raises(ValueError, match=fragment):
            call(denoiser, tmp_path)
        return
    if outcome == WARNS:
        with pytest.warns(UserWarning, match=fragment):
            call(denoiser, tmp_path)
        return
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        call(denoiser, tmp_path)
    ours = [str(w.message) for w in seen if "part A works in [-1, 1]" in str(w.message)]
    assert not ours, f"a clean input warned: {ours}"
    said = capsys.readouterr().out
    if outcome == SAYS:
        assert re.search(fragment, said), f"expected {fragment!r} in what it printed: {said!r}"
