"""Inputs people bring: files of any size and colour, masks, drawings; stated conversions."""

import numpy as np
import pytest
import torch
from PIL import Image

from helpers import images
from helpers.widgets import DrawingPad


def test_a_wide_colour_photo_is_cropped_resized_and_converted(tmp_path, capsys):
    path = tmp_path / "photo.png"
    Image.new("RGB", (120, 80), (200, 40, 40)).save(path)
    x = images.load_image(path, 64, 3)
    assert x.shape == (1, 3, 64, 64) and -1 <= x.min() and x.max() <= 1
    said = capsys.readouterr().out
    assert "centre-cropped 120x80 to 80x80" in said and "resized 80x80 to 64x64" in said
    grey = images.load_image(path, 64, 1)
    assert grey.shape == (1, 1, 64, 64) and "converted RGB to L" in capsys.readouterr().out


def test_a_dark_digit_on_white_paper_is_inverted_for_the_digit_model(tmp_path, capsys):
    path = tmp_path / "seven.png"
    picture = Image.new("L", (28, 28), 255)
    picture.paste(0, (10, 4, 14, 24))
    picture.save(path)
    x = images.load_image(path, 28, 1)
    assert "inverted" in capsys.readouterr().out
    assert x[0, 0, 14, 12] > 0.9 and x[0, 0, 0, 0] < -0.9  # light stroke on black


def test_unreadable_files_get_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="no image"):
        images.load_image(tmp_path / "missing.png", 28, 1)
    (tmp_path / "bad.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match="not an image"):
        images.load_image(tmp_path / "bad.png", 28, 1)


def test_masks_from_boxes_and_files(tmp_path):
    mask = images.box_mask((1, 28, 28), 4, 6, 10, 12)
    assert mask.shape == (1, 1, 28, 28) and mask.sum() == 120
    with pytest.raises(ValueError, match="does not fit"):
        images.box_mask((1, 28, 28), 20, 0, 10, 5)
    path = tmp_path / "mask.png"
    picture = Image.new("L", (56, 56), 0)
    picture.paste(255, (0, 0, 28, 56))
    picture.save(path)
    loaded = images.load_mask(path, 28)
    assert set(loaded.unique().tolist()) == {0.0, 1.0} and loaded[..., :, :13].min() == 1


def test_course_images_have_the_backend_shape():
    digit = images.course_image((1, 28, 28))
    assert digit.shape == (1, 1, 28, 28) and digit.min() == -1
    photo = images.course_image((3, 64, 64))
    assert photo.shape == (1, 3, 64, 64) and photo.std() > 0.2


def test_the_drawing_pad_turns_strokes_into_a_digit_image():
    pad = DrawingPad(size=28, pixels=280)
    with pytest.raises(ValueError, match="empty"):
        pad.image()
    pad.press(140, 30)
    for y in range(40, 260, 10):
        pad.move(140, y)
    pad.release(140, 250)
    pad.move(10, 10)  # moving without pressing draws nothing
    x = pad.image()
    assert x.shape == (1, 1, 28, 28)
    column = x[0, 0, :, 14]
    assert column[5:24].min() > 0.5 and x[0, 0, 14, :8].max() < -0.9  # a vertical bar only
    pad.clear()
    assert pad.strokes == []
    assert isinstance(pad.widget().children[0].width, int)


# Files as students bring them, each built here with PIL, and the pixels they must load as.


def test_a_16_bit_png_is_scaled_not_clipped(tmp_path, capsys):
    array = np.zeros((32, 32), np.uint16)
    array[:, 16:] = 65535  # right half white
    array[:8, :16] = 32768  # a mid-grey block
    Image.fromarray(array).save(tmp_path / "scan16.png")
    assert Image.open(tmp_path / "scan16.png").mode == "I;16"
    x = images.load_image(tmp_path / "scan16.png", 32, 1)
    assert "scaled I;16 values (0..65535) to 8 bits" in capsys.readouterr().out
    assert x[0, 0, 20, 4] == -1 and x[0, 0, 20, 28] == 1
    assert x[0, 0, 2, 4].item() == pytest.approx(0.0, abs=0.01)


def test_a_palette_png_loads_its_colours(tmp_path, capsys):
    picture = Image.new("P", (20, 20), 0)
    picture.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)  # 0 = red, 1 = blue
    picture.paste(1, (0, 10, 20, 20))  # bottom half blue
    picture.save(tmp_path / "palette.png")
    x = images.load_image(tmp_path / "palette.png", 20, 3)
    assert "expanded the palette (P) to RGB" in capsys.readouterr().out
    assert x[0, :, 2, 5].tolist() == [1, -1, -1] and x[0, :, 17, 5].tolist() == [-1, -1, 1]


@pytest.mark.parametrize("mode", ["RGBA", "LA", "P"])
def test_black_strokes_on_a_transparent_background_stay_visible(tmp_path, capsys, mode):
    picture = Image.new("RGBA", (28, 28), (0, 0, 0, 0))  # transparent, black underneath
    picture.paste((0, 0, 0, 255), (12, 4, 16, 24))  # an opaque black bar
    if mode == "P":
        picture = picture.convert("P")  # PIL keeps the transparent index
    else:
        picture = picture.convert(mode)
    picture.save(tmp_path / "strokes.png")
    x = images.load_image(tmp_path / "strokes.png", 28, 1)
    said = capsys.readouterr().out
    assert "filled the transparent background with white" in said and "inverted" in said
    assert x[0, 0, 14, 14] == 1 and x[0, 0, 0, 0] == -1  # light bar on black, like MNIST
    colour = images.load_image(tmp_path / "strokes.png", 28, 3)
    assert colour[0, :, 0, 0].tolist() == [1, 1, 1] and colour[0, :, 14, 14].tolist() == [-1] * 3


def test_white_strokes_on_a_transparent_background_get_black(tmp_path, capsys):
    picture = Image.new("RGBA", (28, 28), (255, 255, 255, 0))
    picture.paste((255, 255, 255, 255), (12, 4, 16, 24))
    picture.save(tmp_path / "light.png")
    x = images.load_image(tmp_path / "light.png", 28, 1)
    said = capsys.readouterr().out
    assert "with black" in said and "inverted" not in said
    assert x[0, 0, 14, 14] == 1 and x[0, 0, 0, 0] == -1


def test_a_phone_jpeg_with_an_exif_rotation_is_turned_upright(tmp_path, capsys):
    picture = Image.new("RGB", (40, 20), (255, 0, 0))
    picture.paste((0, 0, 255), (20, 0, 40, 20))  # stored: red left, blue right
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to view": red on top, blue below
    picture.save(tmp_path / "phone.jpg", quality=95, exif=exif)
    x = images.load_image(tmp_path / "phone.jpg", 20, 3)
    said = capsys.readouterr().out
    assert "EXIF orientation tag (6)" in said and "centre-cropped 20x40 to 20x20" in said
    red, blue = torch.tensor([1.0, -1, -1]), torch.tensor([-1.0, -1, 1])
    torch.testing.assert_close(x[0, :, 2, 2], red, atol=0.05, rtol=0)
    torch.testing.assert_close(x[0, :, 17, 2], blue, atol=0.05, rtol=0)


def test_a_cmyk_file_is_converted_to_rgb(tmp_path, capsys):
    Image.new("CMYK", (24, 24), (0, 255, 255, 0)).save(tmp_path / "print.tif")  # red ink
    x = images.load_image(tmp_path / "print.tif", 24, 3)
    assert "converted CMYK to RGB" in capsys.readouterr().out
    assert x[0, :, 12, 12].tolist() == [1, -1, -1]


def test_a_tiny_image_is_enlarged_and_says_so(tmp_path, capsys):
    Image.new("L", (3, 3), 255).save(tmp_path / "tiny.png")
    x = images.load_image(tmp_path / "tiny.png", 64, 1)
    assert "enlarged (it will look soft) 3x3 to 64x64" in capsys.readouterr().out
    assert x.shape == (1, 1, 64, 64) and (x == 1).all()


def test_a_huge_image_is_shrunk_quickly(tmp_path, capsys):
    picture = Image.new("L", (6000, 4000), 255)
    picture.paste(0, (2500, 1500, 3500, 2500))  # a black square in the middle
    picture.save(tmp_path / "huge.png")
    x = images.load_image(tmp_path / "huge.png", 64, 1)
    said = capsys.readouterr().out
    assert "centre-cropped 6000x4000 to 4000x4000" in said and "resized 4000x4000 to 64x64" in said
    assert x[0, 0, 32, 32] == -1 and x[0, 0, 2, 2] == 1


def test_sizes_and_channels_are_checked():
    picture = Image.new("RGB", (8, 8))
    with pytest.raises(ValueError, match="channels must be 1 .* or 3"):
        images.from_pil(picture, 8, 4)
    with pytest.raises(ValueError, match="size must be a positive int"):
        images.from_pil(picture, 0, 1)
    with pytest.raises(ValueError, match="size must be a positive int"):
        images.from_pil(picture, 8.0, 1)


def test_an_image_too_big_for_pil_gets_a_clear_error(tmp_path, monkeypatch):
    Image.new("L", (100, 100)).save(tmp_path / "bomb.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 10,000 pixels is over twice the limit
    with pytest.raises(ValueError, match="too big for PIL to open safely.*shrink it"):
        images.load_image(tmp_path / "bomb.png", 28, 1)
