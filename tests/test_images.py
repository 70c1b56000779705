"""Inputs people bring: files of any size and colour, masks, drawings; stated conversions."""

import pytest
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
