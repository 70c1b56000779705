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
# # A7. Visual anagrams and hybrid images
#
# Guidance can combine two prompts in one image. A **visual anagram** looks like one prompt, and
# like another when turned upside down: average the noise estimate of $x_t$ for the first prompt
# with the un-turned estimate of the turned $x_t$ for the second (Geng et al. 2024). A **hybrid
# image** looks like one prompt from afar and another up close: low frequencies of one estimate,
# high frequencies of the other (Oliva et al. 2006).
#
# $$\hat\epsilon = \tfrac12\big(\epsilon(x_t, p_1) + v^{-1}(\epsilon(v(x_t), p_2))\big), \qquad \hat\epsilon = f_\text{low}(\epsilon(x_t, p_1)) + f_\text{high}(\epsilon(x_t, p_2)) \qquad \text{(course 1.8, 1.9)}$$

# %%
import os
from pathlib import Path

import torch
from torchvision.transforms.functional import gaussian_blur, resize

from helpers import editing, plots
from helpers.denoiser import OfflineDigits, load_backend

BACKEND = os.environ.get("KIT_BACKEND", "auto")  # "auto", "offline" or "deepfloyd"
PROFILE = os.environ.get("KIT_PROFILE", "default")
FIGURES = Path(os.environ.get("KIT_FIGURES", "../figures"))
SEED = 0
SAMPLES = {"quick": 1, "default": 4, "full": 8}[PROFILE]

denoiser = load_backend(BACKEND)
if isinstance(denoiser, OfflineDigits):
    # A 6 turned by 180 degrees is a 9; flipped upside down (the course's view) it is a mirrored 9.
    ANAGRAMS = [
        ("a handwritten 6", "a handwritten 9", "rot180"),
        ("a handwritten 6", "a handwritten 9", "flip"),
    ]
    HYBRIDS = [("a handwritten 0", "a handwritten 1"), ("a handwritten 8", "a handwritten 4")]
else:
    ANAGRAMS = [
        ("an oil painting of an old man", "an oil painting of people around a campfire", "flip")
    ]
    HYBRIDS = [("a lithograph of a skull", "a lithograph of waterfalls")]
save = plots.saver(
    FIGURES,
    notebook="A7_anagrams_hybrids",
    backend=denoiser.name,
    seed=SEED,
    checkpoint=denoiser.checkpoint,
)

# %% [markdown]
# ## 1.8 Visual anagrams
# Top row of each pair: the samples; bottom row: the same samples turned by the view.

# %%
rows, labels = [], []
for prompt_1, prompt_2, view in ANAGRAMS:
    g = torch.Generator().manual_seed(SEED)
    x = editing.visual_anagram(denoiser, prompt_1, prompt_2, view, generator=g, batch=SAMPLES)
    rows += [x, editing.VIEWS[view](x)]
    labels += [
        prompt_1.removeprefix("a handwritten "),
        f"{view}: {prompt_2.removeprefix('a handwritten ')}",
    ]
fig = plots.show_images(torch.cat(rows), ncols=SAMPLES, signed=True, row_labels=labels)
save(
    fig,
    "A7_visual_anagrams",
    caption="Visual anagrams: "
    + "; ".join(f'"{a}" that becomes "{b}" under the view "{v}"' for a, b, v in ANAGRAMS)
    + ". Each pair of rows shows the samples and the same samples turned. Digits are not symmetric: "
    "turned by 180 degrees a 6 reads as a 9, flipped upside down it reads as a mirrored 9.",
    section="1.8 Visual anagrams",
    equation="eps = (eps(x_t, p1) + view^-1(eps(view(x_t), p2))) / 2, each with CFG",
)

# %% [markdown]
# ## 1.9 Hybrid images
# Each hybrid at full size (up close) and blurred and shrunk (from afar).

# %%
rows, labels = [], []
_, S, _ = denoiser.image_shape
kernel, sigma = editing.hybrid_filter(S)
for prompt_low, prompt_high in HYBRIDS:
    g = torch.Generator().manual_seed(SEED)
    x = editing.hybrid_image(denoiser, prompt_low, prompt_high, generator=g, batch=SAMPLES)
    afar = resize(
        resize(gaussian_blur(x, [kernel, kernel], [sigma, sigma]), [S // 4] * 2, antialias=True),
        [S, S],
    )
    rows += [x, afar]
    labels += [
        f"close: {prompt_high.removeprefix('a handwritten ')}",
        f"afar: {prompt_low.removeprefix('a handwritten ')}",
    ]
fig = plots.show_images(torch.cat(rows), ncols=SAMPLES, signed=True, row_labels=labels)
save(
    fig,
    "A7_hybrid_images",
    caption="Hybrid images: "
    + "; ".join(f'"{low}" from afar, "{high}" up close' for low, high in HYBRIDS)
    + f". Rows alternate the hybrid at full size and as seen from afar (low-passed: Gaussian kernel {kernel}, "
    f"sigma {sigma:g}, then shrunk). On 28-pixel digits the effect is weak: strokes are a few pixels "
    "wide, so the low-pass keeps most of the first digit and the second shows only as extra edges.",
    section="1.9 Hybrid images",
    equation="eps = lowpass(eps(x_t, p1)) + highpass(eps(x_t, p2)), highpass = 1 - lowpass",
)
