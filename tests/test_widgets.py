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
