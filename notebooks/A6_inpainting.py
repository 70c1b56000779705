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
# # A6. Inpainting
#
# Regenerate only where the mask is 1. Start from pure noise and denoise as usual, but after every
# step put the known pixels back at the current noise level (RePaint, Lugmayr et al. 2022):
#
# $$x_{t'} \leftarrow m\,x_{t'} + (1 - m)\,\mathrm{forward}(x_{\text{orig}}, t') \qquad \text{(course 1.7.2)}$$

# %%
import torch

from helpers import part_a, plots
from helpers.denoiser import OfflineDigits, load_backend
from helpers.images import box_mask, course_image
from helpers.notebook import backend, by_profile, saver

SEED = 0
RESULTS = by_profile(quick=1, default=3)  # results per image, from different noise
PROMPT = "a high quality photo"

denoiser = load_backend(backend())  # KIT_BACKEND: "auto", "offline" or "deepfloyd"
OFFLINE = isinstance(denoiser, OfflineDigits)
C, S, _ = denoiser.image_shape
save = saver("A6_inpainting", backend=denoiser.name, seed=SEED, checkpoint=denoiser.checkpoint)

# %% [markdown]
# ## 1.7.2 Inpainting the test image
# The images and their masks (1 = regenerate): for the offline model the held-out 7, 2 and 1,
# with their top half, bottom half and right half regenerated; for DeepFloyd the astronaut's face.

# %%
if OFFLINE:  # the held-out 7, 2 and 1: regenerate their top half, bottom half, and right half
    images = torch.cat([course_image(denoiser.image_shape, i) for i in (0, 1, 2)])
    masks = torch.cat(
        [
            box_mask((1, S, S), 0, 0, 14, 28),
            box_mask((1, S, S), 14, 0, 14, 28),
            box_mask((1, S, S), 0, 14, 28, 14),
        ]
    )
else:  # the astronaut's face
    images = course_image(denoiser.image_shape)
    masks = box_mask((1, S, S), 4, 18, 24, 22)

# %% [markdown]
# Columns: the image, the mask (grey = regenerate), the hole (grey), then results from different
# noise. Outside the mask every pixel is the original, exactly; inside, the model fills in
# content that fits the rest.

# %%
rows = []
for x_orig, mask in zip(images.split(1), masks.split(1), strict=True):
    g = torch.Generator().manual_seed(SEED)
    results = [
        part_a.inpaint(denoiser, x_orig, mask, PROMPT, generator=g, progress=False)
        for _ in range(RESULTS)
    ]
    shown_mask = (mask * 1.5 - 1).expand_as(x_orig)  # grey = regenerate, black = keep
    rows += [x_orig, shown_mask, x_orig * (1 - mask), *results]  # the hole in mid-grey

# %%
fig = plots.show_images(
    torch.cat(rows),
    ["image", "mask", "hole"] + [f"result {i + 1}" for i in range(RESULTS)],
    ncols=3 + RESULTS,
    signed=True,
)

# %%
save(
    fig,
    "A6_inpainting",
    caption="Inpainting: the image, its mask (grey = regenerate), the hole, and results from different "
    "noise. Outside the mask every pixel is the original, exactly; inside, the model fills in content "
    "that fits the rest.",
    section="1.7.2 Inpainting",
    equation="x_t' <- m x_t' + (1 - m) forward(x_orig, t')",
)
