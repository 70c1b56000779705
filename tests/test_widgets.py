"""Widgets: moving a slider re-renders its image (no kernel needed); what cells display."""

import torch

import helpers
from helpers.widgets import image_slider, png_bytes


def test_moving_the_timestep_slider_changes_the_image():
    abar = helpers.alphas_cumprod(helpers.cosine_betas())
    x0 = torch.linspace(-1, 1, 28 * 28).reshape(1, 1, 28, 28)
    eps = torch.randn(x0.shape, generator=torch.Generator().manual_seed(0))
    box = image_slider(
        lambda t: helpers.forward(x0, int(t), abar, eps=eps)[0], "t", 0, 0, 999, signed=True
    )
    slider, image = box.children
    before = bytes(image.value)
    assert before == png_bytes(helpers.forward(x0, 0, abar, eps=eps)[0], signed=True)
    slider.value = 750
    assert bytes(image.value) != before
    assert bytes(image.value) == png_bytes(helpers.forward(x0, 750, abar, eps=eps)[0], signed=True)


def test_float_ranges_get_a_float_slider():
    box = image_slider(lambda g: torch.full((1, 4, 4), g / 10), "gamma", 1.0, 0.0, 10.0, 0.5)
    slider, image = box.children
    slider.value = 7.5
    assert bytes(image.value) == png_bytes(torch.full((1, 4, 4), 0.75))


def test_a_cell_ending_in_a_save_displays_nothing(tmp_path):
    import matplotlib.pyplot as plt

    from helpers.plots import saver

    save = saver(tmp_path, notebook="X1")
    fig = plt.figure()
    assert save(fig, "x1_figure", "a caption") is None  # IPython shows no PosixPath line
    assert save([torch.zeros(1, 4, 4)] * 2, "x1_animation", "frames") is None
    plt.close(fig)
    assert {p.name for p in tmp_path.iterdir()} >= {"x1_figure.png", "x1_animation.gif"}


def test_the_drawing_pad_is_sized_to_its_pixels_and_redrawn_for_a_new_page(monkeypatch):
    from helpers.widgets import DrawingPad

    pad = DrawingPad(size=28, pixels=280)
    pad.strokes = [[(0.5, 0.1), (0.5, 0.9)], [(0.2, 0.2)]]  # a bar and a dot
    board, button = pad.widget().children
    assert (board.layout.width, board.layout.height) == ("280px", "280px")  # not the page width
    assert button.description == "clear"
    assert pad.canvas.sync_image_data  # the browser's pixels come back for a reloaded page
    drawn = []
    monkeypatch.setattr(pad.canvas, "stroke_lines", drawn.append)
    board._canvases[-1]._handle_frontend_event(None, {"event": "client_ready"}, [])  # a new page
    assert drawn == [[(140.0, 28.0), (140.0, 252.0)], [(56.0, 56.0), (56.0, 56.0)]]
    drawn.clear()
    pad.clear()
    assert pad.strokes == [] and drawn == []
