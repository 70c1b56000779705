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
import torch

from helpers import part_a, plots
from helpers.checkpoints import load_checkpoint
from helpers.denoiser import OfflineDigits, load_backend
from helpers.evaluation import anagram_rates, hybrid_rates, ideal_hybrids
from helpers.notebook import backend, by_profile, saver

SEED = 0
SAMPLES = by_profile(quick=1, default=16, full=32)  # samples per setting, all judged
SHOW = min(SAMPLES, 8)  # samples per setting in the figures
denoiser = load_backend(backend())
DIGITS = isinstance(denoiser, OfflineDigits)  # only digits have a classifier to judge them
save = saver(
    "A7_anagrams_hybrids", backend=denoiser.name, seed=SEED, checkpoint=denoiser.checkpoint
)

# %% [markdown]
# The prompts. Anagrams are (prompt 1, prompt 2, view); hybrids (low, high, sigma of the
# low-pass in pixels; None is the course's filter). Turned by 180 degrees a 6 already is a 9,
# and flipped upside down a 2 is close to a 5; flipped, a 6 is a mirrored 9, which the model
# has to bend. The hybrid pairs are explained under "1.9 Hybrid images" below.

# %%
if DIGITS:
    ANAGRAMS = [(6, 9, "rot180"), (2, 5, "flip"), (6, 9, "flip")]
    HYBRIDS = [(6, 4, 2.0), (0, 1, 1.5)]
    classifier = load_checkpoint("digit_classifier")
else:
    ANAGRAMS = [
        ("an oil painting of an old man", "an oil painting of people around a campfire", "flip")
    ]
    HYBRIDS = [("a lithograph of a skull", "a lithograph of waterfalls", None)]
prompt = "a handwritten {}" if DIGITS else "{}"

# %% [markdown]
# ## Judging with the digit classifier
# Eight samples can be picked to please. Instead, on the digit model every sample is read by
# the kit's MNIST classifier (the one part B scores samples with), and each caption gives the
# share of samples that read right, out of all `SAMPLES` drawn (the figures show the first 8).
#
# - An **anagram** succeeds when the image reads as digit 1 and its turned view as digit 2.
#   Next to it stands the share of *real* held-out images of digit 1 that already read as
#   digit 2 once turned: a pair the view maps onto itself (6 and 9 by 180 degrees) succeeds
#   for free, and only a pair with a low share shows what the anagram adds.
# - A **hybrid** succeeds when it reads as the low digit from afar and as the high digit up
#   close. *Afar* is the image through the same low-pass it was built with: what is left when
#   fine detail is lost (shrinking to 7 pixels as well would lose even real digits: the
#   classifier reads 98% of real test digits blurred with sigma 0.875, 80% once shrunk).
#   *Up close* is the whole image, not its high-pass residual: the residual is built from the
#   high digit's estimate alone and holds only edges, so reading it would flatter the method,
#   while a viewer up close sees the whole image, low band included.
#   Next to it stands the ceiling at 28 pixels: the same judge on ideal hybrids made of real
#   digits, lowpass(real low digit) + highpass(real high digit).

# %% [markdown]
# ## 1.8 Visual anagrams
# Top row of each pair: the samples; bottom row: the same samples turned by the view.

# %%
rows, rates = [], []
for p_1, p_2, view in ANAGRAMS:
    g = torch.Generator().manual_seed(SEED)
    x = part_a.visual_anagram(
        denoiser, prompt.format(p_1), prompt.format(p_2), view, generator=g, batch=SAMPLES
    )
    rows += [x[:SHOW], part_a.VIEWS[view](x)[:SHOW]]
    if DIGITS:
        rates.append(anagram_rates(x, p_1, p_2, part_a.VIEWS[view], classifier))

# %%
labels = [label for p_1, p_2, v in ANAGRAMS for label in (f"{p_1}", f"{v}: {p_2}")]
fig = plots.show_images(torch.cat(rows), ncols=SHOW, signed=True, row_labels=labels)
measured = [
    f"{p_1} -> {p_2} by {v}: {r['all']:.0%} read as both (upright {r['upright']:.0%}, turned "
    f"{r['turned']:.0%}; real {p_1}s turned read as {p_2}: {r['real']:.0%})"
    for (p_1, p_2, v), r in zip(ANAGRAMS, rates, strict=False)  # no rates without a classifier
]
print(*measured, sep="\n")

# %%
save(
    fig,
    "A7_visual_anagrams",
    caption="Visual anagrams: "
    + "; ".join(f'"{a}" that becomes "{b}" under the view "{v}"' for a, b, v in ANAGRAMS)
    + ". Each pair of rows shows samples and the same samples turned."
    + (f" Read by the MNIST classifier, {SAMPLES} samples each: " + "; ".join(measured) + ".")
    * DIGITS,
    section="1.8 Visual anagrams",
    equation="eps = (eps(x_t, p1) + view^-1(eps(view(x_t), p2))) / 2, each with CFG",
)

# %% [markdown]
# ## 1.9 Hybrid images
# Each hybrid up close (full size) and from afar (through the low-pass it was built with).
#
# At 28 pixels the filter is the whole difficulty. The course's sigma (2 pixels at 64, so 0.875
# at 28) keeps a digit's whole shape in the low band: the low digit wins near and far. A digit
# spans about 20 pixels with strokes 2 to 3 wide, so its shape and its strokes sit within about
# one octave of each other; a sigma of 2 leaves the low digit only a blob, which the high
# digit's strokes override unless the blob's shape is strong (a 6's heavy lower loop). The
# cell after the figure measures this trade-off on ideal hybrids of real digits.

# %%
rows, hybrids = [], []
for low, high, sigma in HYBRIDS:
    lowpass = part_a.hybrid_lowpass(denoiser.image_shape[-1], sigma)
    g = torch.Generator().manual_seed(SEED)
    x = part_a.hybrid_image(
        denoiser, prompt.format(low), prompt.format(high), 7.0, lowpass, generator=g, batch=SAMPLES
    )
    rows += [x[:SHOW], lowpass(x)[:SHOW]]
    hybrids.append((x, lowpass))

# %%
rates = []
for (low, high, _), (x, lowpass) in zip(HYBRIDS, hybrids, strict=True) if DIGITS else []:
    ideal = ideal_hybrids(low, high, lowpass)  # the ceiling: real digits mixed perfectly
    ideal_rate = hybrid_rates(ideal, low, high, lowpass, classifier)["all"]
    rates.append(hybrid_rates(x, low, high, lowpass, classifier) | {"ideal": ideal_rate})

# %%
labels = [label for low, high, _ in HYBRIDS for label in (f"close: {high}", f"afar: {low}")]
fig = plots.show_images(torch.cat(rows), ncols=SHOW, signed=True, row_labels=labels)
filters = [part_a.hybrid_filter(denoiser.image_shape[-1], sigma) for *_, sigma in HYBRIDS]
measured = [
    f"{low} afar, {high} close (sigma {s:g}): {r['all']:.0%} read as both (afar {r['afar']:.0%},"
    f" close {r['close']:.0%}; ideal hybrids of real digits {r['ideal']:.0%})"
    for (low, high, _), (_, s), r in zip(HYBRIDS, filters, rates, strict=False)
]
print(*measured, sep="\n")

# %%
save(
    fig,
    "A7_hybrid_images",
    caption="Hybrid images: "
    + "; ".join(f'"{low}" from afar, "{high}" up close' for low, high, _ in HYBRIDS)
    + ". Rows alternate the hybrid at full size and as seen from afar, through its low-pass ("
    + ", ".join(f"Gaussian kernel {k}, sigma {s:g}" for k, s in filters)
    + ")."
    + (f" Read by the MNIST classifier, {SAMPLES} samples each: " + "; ".join(measured) + ".")
    * DIGITS,
    section="1.9 Hybrid images",
    equation="eps = lowpass(eps(x_t, p1)) + highpass(eps(x_t, p2)), highpass = 1 - lowpass",
)

# %% [markdown]
# Why the sigma matters: the same judge on ideal hybrids of real held-out digits, for a range of
# sigmas. A small sigma leaves the low digit whole (afar right, close wrong), a large one
# leaves it a blob (close right, afar wrong); only in between, and only for some pairs, do both
# hold for most images. No diffusion model is involved: this is the ceiling at 28 pixels.

# %%
SIGMAS = by_profile(quick=[0.875, 2.0], default=[0.875, 1.25, 1.5, 2.0, 2.5, 3.0])
for low, high, _ in HYBRIDS if DIGITS else []:
    for sigma in SIGMAS:
        lowpass = part_a.hybrid_lowpass(28, sigma)
        r = hybrid_rates(ideal_hybrids(low, high, lowpass), low, high, lowpass, classifier)
        rates = f"afar {r['afar']:.0%}, close {r['close']:.0%}"
        print(f"{low} afar, {high} close, sigma {sigma:g}: {r['all']:.0%} ({rates})")
