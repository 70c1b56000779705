"""Interactive pieces for JupyterLab: a slider that re-renders an image.

The logic is a pure function `render(value) -> image tensor`; the widget only calls it when the
slider moves and shows the PNG, so the same function is testable without a browser or kernel.
"""

import io
from collections.abc import Callable

import ipywidgets as widgets
from PIL import Image
from torch import Tensor

from helpers.plots import to_display


def png_bytes(image: Tensor, signed: bool = False, scale: int = 8) -> bytes:
    """One image (C, H, W) as PNG bytes, enlarged `scale` times with crisp pixels."""
    array = (to_display(image[None], signed)[0] * 255).round().astype("uint8")  # (H, W, C)
    picture = Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array)
    picture = picture.resize((picture.width * scale, picture.height * scale), Image.NEAREST)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


def image_slider(
    render: Callable[[float], Tensor],
    description: str,
    value: float,
    min: float,
    max: float,
    step: float = 1,
    signed: bool = False,
) -> widgets.VBox:
    """A slider and the image render(slider value) (C, H, W); moving the slider re-renders."""
    Slider = (
        widgets.IntSlider
        if all(float(v).is_integer() for v in (value, min, max, step))
        else widgets.FloatSlider
    )
    slider = Slider(
        value=value, min=min, max=max, step=step, description=description, continuous_update=False
    )
    image = widgets.Image(value=png_bytes(render(slider.value), signed), format="png")

    def update(change):
        image.value = png_bytes(render(change["new"]), signed)

    slider.observe(update, names="value")
    return widgets.VBox([slider, image])
