# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: -all
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # A5. SDEdit: editing by noising and denoising
#
# Noise an image to $t = $ `strided_timesteps()[i_start]`, then denoise it with guidance. A small
# `i_start` starts from heavy noise, so the model imagines a new image; a large one keeps
# almost everything. The same trick edits your own images, sketches drawn by hand, and (with a
# prompt other than the generic one) images towards a text.
#
# $$x_{t} = \sqrt{\bar\alpha_{t}}\,x_{\text{orig}} + \sqrt{1-\bar\alpha_{t}}\,\epsilon, \quad t = \texttt{strided\_timesteps}[i_\text{start}], \quad \text{then denoise with CFG} \qquad \text{(SDEdit, Meng et al. 2022)}$$

# %%
import torch
from PIL import Image
from skimage import data

from helpers import part_a, plots
from helpers.denoiser import OfflineDigits, load_backend
from helpers.images import course_image, from_pil, load_image, strokes_to_image
from helpers.notebook import backend, saver
from helpers.schedule import strided_timesteps
from helpers.widgets import DrawingPad, image_slider

SEED = 0
I_STARTS = [1, 3, 5, 7, 10, 20]
PROMPT = "a high quality photo"  # generic: for the offline model, the unconditional branch

denoiser = load_backend(backend())  # KIT_BACKEND: "auto", "offline" or "deepfloyd"
OFFLINE = isinstance(denoiser, OfflineDigits)
C, S, _ = denoiser.image_shape
TEXT_PROMPT = "a handwritten 3" if OFFLINE else "a rocket ship"
save = saver("A5_sdedit", backend=denoiser.name, seed=SEED, checkpoint=denoiser.checkpoint)

# %%
TITLES = [f"i_start = {i}" for i in I_STARTS] + ["original"]
T_STARTS = [strided_timesteps()[i] for i in I_STARTS]  # 960 ... 390

# %% [markdown]
# ## 1.7 SDEdit on the test image
# From a freshly imagined image at i_start 1 (t = 960) to a faithful copy at i_start 20 (t = 390).

# %%
fig = plots.show_images(
    part_a.sdedit_sweep(denoiser, course_image(denoiser.image_shape), I_STARTS, PROMPT),
    TITLES,
    signed=True,
)

# %%
save(
    fig,
    "A5_sdedit_test_image",
    caption=f'SDEdit of the test image with "{PROMPT}" at i_start = '
    f"{', '.join(map(str, I_STARTS))} (t = {T_STARTS[0]} ... {T_STARTS[-1]}): from a freshly "
    f"imagined image at i_start {I_STARTS[0]} to a faithful copy at i_start {I_STARTS[-1]}.",
    section="1.7 Image-to-image translation",
    equation="x_t = forward(x_orig, strided_timesteps[i_start]); then iterative_denoise_cfg from i_start",
)

# %% [markdown]
# ## 1.7 SDEdit on your own images
# `load_image` crops, resizes and converts any file, and says what it did. Replace the paths with
# yours. Here: a 2 photographed on paper (cropped, resized, greyed and inverted on loading) and a
# second image, at the same i_start values.

# %%
own = [load_image("../assets/images/paper_digit_2.png", S, C)]
own.append(
    course_image(denoiser.image_shape, index=1)
    if OFFLINE
    else from_pil(Image.fromarray(data.coffee()), S, C, "coffee")
)
fig = plots.show_images(
    torch.cat(
        [
            part_a.sdedit_sweep(denoiser, x, I_STARTS, PROMPT, seed=SEED + k)
            for k, x in enumerate(own)
        ]
    ),
    TITLES + [""] * len(TITLES),
    ncols=len(TITLES),
    signed=True,
)

# %%
save(
    fig,
    "A5_sdedit_own_images",
    caption="SDEdit of images from elsewhere: a 2 photographed on paper (assets/images/paper_digit_2.png: "
    "cropped, resized, greyed and inverted on loading) and a second image, at the same i_start values.",
    section="1.7 Image-to-image translation (own images)",
    equation="as above",
)

# %% [markdown]
# ## 1.7.1 Hand-drawn images
# Draw in the pad below (JupyterLab), then run the next cell with `drawing = pad.image()`. The
# headless run uses the pen strokes written out here instead (a crossed 7). Small i_start turns
# it into a plausible image; large i_start keeps the sketch.

# %%
pad = DrawingPad(size=S)
pad.widget()

# %%
strokes = [[(0.3, 0.25), (0.7, 0.25), (0.45, 0.8)], [(0.38, 0.52), (0.62, 0.52)]]  # a crossed 7
drawing = pad.image() if pad.strokes else strokes_to_image(strokes, S)
drawing = drawing.expand(1, C, S, S)
fig = plots.show_images(
    part_a.sdedit_sweep(denoiser, drawing, I_STARTS, PROMPT), TITLES, signed=True
)

# %%
save(
    fig,
    "A5_hand_drawn",
    caption="SDEdit of a hand-drawn sketch (a crossed 7 drawn as three pen strokes): small i_start turns "
    "it into a plausible image; large i_start keeps the sketch.",
    section="1.7.1 Editing hand-drawn and web images",
    equation="as above",
)

# %% [markdown]
# ## 1.7.3 Text-conditional image-to-image translation
# The same edits, guided by a different prompt: the result moves from the prompt towards the test
# image. At small i_start the prompt wins, at large i_start the test image does; in between,
# images that are a bit of both.

# %%
fig = plots.show_images(
    part_a.sdedit_sweep(denoiser, course_image(denoiser.image_shape), I_STARTS, TEXT_PROMPT),
    TITLES,
    signed=True,
)

# %%
save(
    fig,
    "A5_text_sdedit",
    caption=f'Text-conditioned SDEdit of the test image with "{TEXT_PROMPT}": at small i_start the '
    "prompt wins; at large i_start the test image does; in between, images that are a bit of both.",
    section="1.7.3 Text-conditional image-to-image translation",
    equation="as above, with the prompt's noise estimate",
)

# %% [markdown]
# ## Try it: move i_start

# %%
x_test = course_image(denoiser.image_shape)
image_slider(
    lambda i: part_a.sdedit(
        denoiser,
        x_test,
        int(i),
        TEXT_PROMPT,
        generator=torch.Generator().manual_seed(SEED),
        progress=False,
    )[0],
    "i_start",
    7,
    0,
    32,
    signed=True,
)
