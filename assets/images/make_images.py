"""Re-create the small input images of part A (run from the kit's root):

    .venv/bin/python assets/images/make_images.py

paper_digit_2.png: a "2" drawn with dark ink on light paper, 200x160 pixels, so that loading it
shows every conversion a user's own photo may need (crop to square, resize, grey, inversion).
"""

from pathlib import Path

from PIL import Image, ImageDraw

here = Path(__file__).resolve().parent
picture = Image.new("RGB", (200, 160), (236, 230, 214))  # paper
pen = ImageDraw.Draw(picture)
stroke = [(70, 55), (85, 38), (108, 33), (128, 42), (133, 62), (122, 84), (98, 106), (72, 128)]
stroke.append((135, 128))
pen.line(stroke, fill=(30, 30, 45), width=11, joint="curve")
picture.save(here / "paper_digit_2.png", optimize=True)
