"""Figures: image grids, loss curves, and saving a figure with the facts a gallery shows.

`save_figure` writes a PNG with no timestamp or version in it (two runs give the same bytes) and,
beside it, a JSON caption record that `tools/figures.py` turns into the gallery page.
"""

import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from torch import Tensor


def to_display(images: Tensor, signed: bool) -> np.ndarray:
    """(B, C, H, W) images in [-1, 1] (signed) or [0, 1] -> (B, H, W, C) floats in [0, 1]."""
    images = images.detach().float().cpu()
    if signed:
        images = (images + 1) / 2
    return images.clamp(0, 1).permute(0, 2, 3, 1).numpy()


def show_images(
    images: Tensor,
    titles: list[str] | None = None,
    ncols: int | None = None,
    signed: bool = False,
    size: float = 1.4,
    row_labels: list[str] | None = None,
    suptitle: str | None = None,
):
    """A grid of images (B, C, H, W), row by row; returns the matplotlib figure."""
    pictures = to_display(images, signed)
    B = len(pictures)
    ncols = ncols or B
    nrows = -(-B // ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(size * ncols, size * nrows + 0.3), squeeze=False
    )
    for i, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_frame_on(False)
        if i >= B:
            continue
        picture = pictures[i]
        ax.imshow(
            picture[..., 0] if picture.shape[-1] == 1 else picture, cmap="gray", vmin=0, vmax=1
        )
        if titles is not None and i < len(titles):  # titles may cover the first row only
            ax.set_title(titles[i], fontsize=8)
    if row_labels is not None:
        for label, ax in zip(row_labels, axes[:, 0], strict=False):
            ax.set_ylabel(label, fontsize=8)
    if suptitle:
        fig.suptitle(suptitle, fontsize=10)
    fig.tight_layout()
    return fig


def plot_loss(history: list[float], title: str, log: bool = True, smooth: int = 50):
    """Training loss per step (light) and its running mean over `smooth` steps (dark)."""
    fig, ax = plt.subplots(figsize=(5, 3))
    steps = np.arange(1, len(history) + 1)
    ax.plot(steps, history, color="tab:blue", alpha=0.25, lw=0.8, label="per step")
    if len(history) >= smooth:
        mean = np.convolve(history, np.ones(smooth) / smooth, mode="valid")
        ax.plot(steps[smooth - 1 :], mean, color="tab:blue", lw=1.5, label=f"mean of {smooth}")
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("training step")
    ax.set_ylabel("MSE loss")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_lines(
    ax,
    x: list[float],
    lines: dict[str, list[float]],
    xlabel: str,
    ylabel: str,
    reference: tuple[str, float] | None = None,
    log: str = "",
) -> None:
    """One marked line per entry {label: ys} of `lines` against x, on the axes ax.

    reference (label, y): a dashed grey horizontal line, e.g. the real-vs-real floor of a
    distance. log: the axes on a log scale, "", "x", "y" or "xy"; a log x-axis keeps the values
    of x as its ticks. A legend appears when there is more than one line or a reference.
    """
    for label, ys in lines.items():
        ax.plot(x, ys, "o-", label=label)
    if reference is not None:
        ax.axhline(reference[1], ls="--", c="gray", label=reference[0])
    if "y" in log:
        ax.set_yscale("log")
    if "x" in log:
        ax.set_xscale("log")
        ax.minorticks_off()
        ax.set_xticks(x, [f"{v:g}" for v in x])
    ax.set(xlabel=xlabel, ylabel=ylabel)
    if len(lines) > 1 or reference is not None:
        ax.legend(fontsize=7)


def real_band(
    ax, result: dict, axis: str = "y", color: str = "gray", label: str = "real vs real"
) -> None:
    """Shade a Frechet-distance axis ("y", or "x" for horizontal bars) with a `report`'s
    real-vs-real range, its median dashed."""
    span, line = (ax.axhspan, ax.axhline) if axis == "y" else (ax.axvspan, ax.axvline)
    span(result["frechet_real_low"], result["frechet_real_high"], color=color, alpha=0.25)
    line(result["frechet_real_median"], ls="--", c=color, label=label)


def frechet_and_ink(rows: dict[str, dict], height: float = 3.4):
    """Two bar charts of `evaluation.report` results, the first row on top: Frechet distance with
    the real-vs-real band, and ink (mean pixel) with the real digits' ink dashed."""
    fig, (ax_fd, ax_ink) = plt.subplots(1, 2, figsize=(10, height), layout="tight")
    names, first = list(rows)[::-1], next(iter(rows.values()))
    ax_fd.barh(names, [rows[k]["frechet"] for k in names])
    real_band(ax_fd, first, "x")
    ax_fd.set(xlabel="Frechet distance (gray: real vs real)")
    ax_ink.barh(names, [rows[k]["ink"] for k in names])
    ax_ink.axvline(first["ink_real"], ls="--", c="gray")
    ax_ink.set(xlabel="ink: mean pixel (dashed: real test digits)", yticks=[])
    return fig


def annotated_heatmap(
    ax, values: np.ndarray, xlabels: list[str], ylabels: list[str], title: str
) -> None:
    """A table of values (rows, cols) as a heatmap on ax (low = light), each cell labelled."""
    ax.imshow(values, cmap="viridis_r", aspect="auto")
    for (i, j), value in np.ndenumerate(values):
        color = "w" if value > values.mean() else "k"
        ax.text(j, i, f"{value:.0f}", ha="center", va="center", fontsize=8, color=color)
    ax.set_xticks(range(len(xlabels)), xlabels)
    ax.set_yticks(range(len(ylabels)), ylabels)
    ax.set_title(title, fontsize=9)


def histogram_vs_normal(
    ax, samples: np.ndarray, mean: float, std: float, label: str, title: str
) -> None:
    """A density histogram of samples on ax beside the density of N(mean, std^2) (named label),
    drawn over mean +- 4 std."""
    grid = np.linspace(mean - 4 * std, mean + 4 * std, 200)
    density = np.exp(-0.5 * ((grid - mean) / std) ** 2) / (std * np.sqrt(2 * np.pi))
    ax.hist(samples, bins=60, density=True, color="tab:gray", alpha=0.6, label="samples")
    ax.plot(grid, density, "k", label=label)
    ax.set_title(title, fontsize=9)


def save_figure(fig, path: str | Path, caption: str, **facts) -> None:
    """Save fig as a reproducible PNG and a caption record path.json for the gallery.

    facts: what the gallery shows beside the figure, e.g. notebook, section, equation, backend,
    seed, checkpoint. Returns None, so that a notebook cell ending in a save shows no path.
    """
    path = Path(path).with_suffix(".png")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120, metadata={"Software": None})
    _write_record(path, caption, facts)


def _write_record(path: Path, caption: str, facts: dict) -> None:
    record = {
        "file": path.name,
        "caption": caption,
        **{k: v for k, v in facts.items() if v is not None},
    }
    path.with_suffix(".json").write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")


def save_animation(
    frames: list[Tensor],
    path: str | Path,
    caption: str | None = None,
    signed: bool = False,
    scale: int = 4,
    ms: int = 80,
    **facts,
) -> None:
    """Save a list of image grids (C, H, W) as a looping GIF, each frame `ms` milliseconds.

    With a caption, also writes the gallery's record beside it (as `save_figure` does).
    """
    from PIL import Image

    path = Path(path).with_suffix(".gif")
    path.parent.mkdir(parents=True, exist_ok=True)
    if caption is not None:
        _write_record(path, caption, facts)
    pictures = []
    for frame in frames:
        array = (to_display(frame[None], signed)[0] * 255).round().astype(np.uint8)  # (H, W, C)
        picture = Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array)
        pictures.append(
            picture.resize((picture.width * scale, picture.height * scale), Image.NEAREST)
        )
    pictures[0].save(path, save_all=True, append_images=pictures[1:], duration=ms, loop=0)


def saver(out_dir: str | Path, **facts):
    """save(fig, name, caption, **more): save_figure into out_dir with the notebook's facts.

    fig may also be a list of frames (C, H, W), saved as a GIF by `save_animation`.
    """

    def save(fig, name: str, caption: str, **more) -> None:
        merged = facts | more  # a figure's own facts win over the notebook's
        if isinstance(fig, list):  # frames of an animation
            save_animation(fig, Path(out_dir) / name, caption, **merged)
        else:
            save_figure(fig, Path(out_dir) / name, caption, **merged)

    return save
