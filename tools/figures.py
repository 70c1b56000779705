"""Run every notebook headless and gather its figures into one folder with a gallery page.

    python tools/figures.py                       # all notebooks, default profile, into figures/
    python tools/figures.py --profile quick       # tiny sizes, few steps (what the tests run)
    python tools/figures.py notebooks/A2_forward_process.ipynb --out /tmp/figs

Notebooks read KIT_PROFILE (quick, default or full) and KIT_FIGURES (where to save) from the
environment; every figure they save comes with a caption record (helpers.plots.save_figure).
Writes <out>/index.html (the gallery) and <out>/manifest.json (sha256 of every figure).
"""

import argparse
import hashlib
import html
import json
import os
import re
import sys
import time
from pathlib import Path

import nbformat
import zmq
from jupyter_client import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

REPO = Path(__file__).resolve().parent.parent
ANSI = r"\x1b\[[0-9;]*m"  # colour codes in tracebacks
FACTS = ("notebook", "section", "equation", "backend", "seed", "checkpoint")
TITLE = "Diffusion course kit: every figure"
STYLE = (
    "body{font:14px sans-serif;margin:2em;max-width:1100px}"
    "figure{border-top:1px solid #ccc;margin:0;padding:1em 0}"
    "img{max-width:100%;image-rendering:pixelated}"
    "dt{font-weight:bold;float:left;width:6em}dd{margin-left:6.5em}"
)


class EncryptedKernelManager(AsyncKernelManager):
    """A local kernel whose messages are encrypted with CurveZMQ keys made here, so it has no
    reason to warn that it runs "over TCP without encryption" (pyzmq's wheels have CURVE; a
    libzmq without it keeps plain TCP, and the kernel's warning)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        if zmq.has("curve"):
            self.curve_publickey, self.curve_secretkey = zmq.curve_keypair()


def run_notebook(path: Path, out: Path, profile: str, timeout: int = 3600) -> float:
    """Execute one notebook in its own folder; keep the executed copy in <out>/executed/."""
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        kernel_manager_class=EncryptedKernelManager,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    start = time.perf_counter()
    try:
        client.execute(env={**os.environ, "KIT_PROFILE": profile, "KIT_FIGURES": str(out)})
    finally:
        executed = out / "executed" / path.name
        executed.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook, executed)
    return time.perf_counter() - start


def gallery(out: Path, notebooks: list[Path]) -> None:
    """Write index.html (every figure with its caption and facts) and manifest.json (sha256)."""
    order = {path.stem: i for i, path in enumerate(notebooks)}
    records = [
        json.loads(p.read_text()) for p in sorted(out.glob("*.json")) if p.name != "manifest.json"
    ]
    records.sort(
        key=lambda r: (order.get(r.get("notebook", ""), len(order)), r.get("order", 0), r["file"])
    )
    manifest = {
        r["file"]: hashlib.sha256((out / r["file"]).read_bytes()).hexdigest()
        for r in records
        if (out / r["file"]).exists()
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    cards = []
    for r in records:
        facts = "".join(f"<dt>{k}</dt><dd>{html.escape(str(r[k]))}</dd>" for k in FACTS if k in r)
        name = html.escape(r["file"])
        cards.append(
            f'<figure id="{name}"><img src="{name}" alt="{name}"><figcaption>'
            f"<p>{html.escape(r['caption'])}</p><dl>{facts}</dl></figcaption></figure>"
        )
    page = (
        f"<!doctype html><meta charset=utf-8><title>{TITLE}</title><style>{STYLE}</style>"
        f"<h1>{TITLE}</h1><p>{len(records)} figures from {len(notebooks)} notebooks;"
        " manifest.json holds the sha256 of each.</p>\n" + "\n".join(cards) + "\n"
    )
    (out / "index.html").write_text(page)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every notebooks/*.ipynb")
    parser.add_argument(
        "--profile",
        default=os.environ.get("KIT_PROFILE", "default"),
        choices=["quick", "default", "full"],
    )
    parser.add_argument("--out", type=Path, default=REPO / "figures")
    args = parser.parse_args()
    notebooks = args.notebooks or sorted((REPO / "notebooks").glob("*.ipynb"))
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    total, failed = time.perf_counter(), []
    for i, path in enumerate(notebooks, 1):
        print(f"[{i}/{len(notebooks)}] {path.name} ({args.profile}) ...", flush=True)
        try:
            print(
                f"    done in {run_notebook(path.resolve(), out, args.profile):.0f} s", flush=True
            )
        except CellExecutionError as error:
            failed.append(path.name)
            print(f"    FAILED: {re.sub(ANSI, '', str(error))[-2000:]}", flush=True)
    gallery(out, notebooks)
    ran = len(notebooks) - len(failed)
    print(f"{ran} of {len(notebooks)} notebooks ran in {time.perf_counter() - total:.0f} s")
    print(f"gallery: {out / 'index.html'}")
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
