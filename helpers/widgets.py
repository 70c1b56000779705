"""Interactive pieces for JupyterLab: a slider that re-renders an image, a drawing pad.

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
    first = render(slider.value)  # (C, H, W)
    width = f"{first.shape[-1] * 8}px"  # png_bytes enlarges 8 times
    image = widgets.Image(
        value=png_bytes(first, signed), format="png", layout=widgets.Layout(width=width)
    )

    def update(change):
        image.value = png_bytes(render(change["new"]), signed)

    slider.observe(update, names="value")
    return widgets.VBox([slider, image])


class DrawingPad:
    """A canvas to draw a digit or a sketch with the mouse; `image()` returns the drawing.

    The pen logic (press, move, release -> strokes) is plain Python, tested without a browser;
    `widget()` wires it to an ipycanvas canvas for JupyterLab, sized to its pixels, that shows
    the drawing again after a page reload instead of an empty box.
    """

    def __init__(self, size: int = 28, pixels: int = 280, width: float = 2.5):
        self.size, self.pixels, self.width = size, pixels, width
        self.strokes: list[list[tuple[float, float]]] = []
        self.drawing = False
        self.canvas = None

    def press(self, x: float, y: float) -> None:
        self.drawing = True
        self.strokes.append([(x / self.pixels, y / self.pixels)])

    def move(self, x: float, y: float) -> None:
        if self.drawing:
            self.strokes[-1].append((x / self.pixels, y / self.pixels))
            if self.canvas is not None:
                (x0, y0), (x1, y1) = self.strokes[-1][-2:]
                p = self.pixels
                self.canvas.stroke_line(x0 * p, y0 * p, x1 * p, y1 * p)

    def release(self, x: float, y: float) -> None:
        self.drawing = False

    def clear(self, *_) -> None:
        self.strokes = []
        self.redraw()

    def redraw(self, *_) -> None:
        """Paint the canvas from the stored strokes: pen settings, black paper, every stroke."""
        if self.canvas is None:
            return
        from ipycanvas import hold_canvas

        canvas, p = self.canvas, self.pixels
        with hold_canvas():  # one message: the browser never sends back a half-drawn canvas
            canvas.fill_style = "black"
            canvas.fill_rect(0, 0, p, p)
            canvas.stroke_style = "white"
            canvas.line_width = self.width * p / self.size
            canvas.line_cap = "round"
            canvas.line_join = "round"
            for stroke in self.strokes:
                points = stroke if len(stroke) > 1 else stroke * 2  # a single click: a dot
                canvas.stroke_lines([(x * p, y * p) for x, y in points])

    def image(self) -> Tensor:
        """The drawing as (1, 1, size, size) in [-1, 1]; light strokes on black, like MNIST."""
        from helpers.images import strokes_to_image

        if not self.strokes:
            raise ValueError("the pad is empty: draw something first (or load a PNG instead)")
        return strokes_to_image(self.strokes, self.size, self.width)

    def widget(self) -> widgets.VBox:
        """The canvas, exactly `pixels` wide and high (not stretched to the page), and a clear
        button below it.

        The drawing layer sends its pixels back to the kernel (sync_image_data), so a reloaded
        page starts from them; it sits in a one-layer MultiCanvas because a plain Canvas view
        does not repaint when those restored pixels arrive (ipycanvas 0.14), a MultiCanvas does.
        """
        from ipycanvas import MultiCanvas

        side = f"{self.pixels}px"
        board = MultiCanvas(
            1,
            width=self.pixels,
            height=self.pixels,
            layout=widgets.Layout(width=side, height=side, min_width=side, flex="none"),
        )
        self.canvas = board[0]  # the drawing layer
        self.canvas.sync_image_data = True
        self.redraw()
        board.on_client_ready(self.redraw)  # a reloaded page also asks for the strokes again
        board.on_mouse_down(self.press)
        board.on_mouse_move(self.move)
        board.on_mouse_up(self.release)
        button = widgets.Button(description="clear")
        button.on_click(self.clear)
        return widgets.VBox([board, button], layout=widgets.Layout(width="max-content"))
