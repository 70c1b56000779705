"""Notebook set-up: what a notebook reads from the environment, sizes per profile, its saver.

Every notebook starts the same way. KIT_PROFILE (quick, default or full) chooses sizes and step
counts, KIT_FIGURES the folder figures go to (default: figures/ at the repository root), and
KIT_BACKEND the part A backend ("auto", "offline" or "deepfloyd"). Each function reads the
environment when it is called, so a notebook's first cell decides, never an import.
"""

import os
from pathlib import Path

from helpers import plots

PROFILES = ("quick", "default", "full")
REPO = Path(__file__).resolve().parent.parent


def profile() -> str:
    """The profile in KIT_PROFILE (default "default"); ValueError for an unknown one."""
    name = os.environ.get("KIT_PROFILE", "default")
    if name not in PROFILES:
        raise ValueError(f"KIT_PROFILE must be one of {PROFILES}, got {name!r}")
    return name


def by_profile(quick, default, full=None):
    """The value for the current profile: by_profile(quick=20, default=300, full=300).

    full defaults to the default profile's value.
    """
    return {"quick": quick, "default": default, "full": default if full is None else full}[
        profile()
    ]


def figures_dir() -> Path:
    """Where figures go: KIT_FIGURES, else figures/ at the repository root."""
    return Path(os.environ.get("KIT_FIGURES", REPO / "figures"))


def backend() -> str:
    """The part A backend asked for in KIT_BACKEND: "auto" (default), "offline" or "deepfloyd"."""
    return os.environ.get("KIT_BACKEND", "auto")


def saver(notebook: str, **facts):
    """plots.saver into figures_dir(), with the notebook's name and facts on every figure.

    save(fig, name, caption, **more) then saves one figure and its caption record.
    """
    return plots.saver(figures_dir(), notebook=notebook, **facts)
