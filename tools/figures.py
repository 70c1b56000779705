"""Run every notebook headless and gather its figures into one folder with a gallery page.

    python tools/figures.py                       # all notebooks, default profile, into figures/
    python tools/figures.py --profile quick       # tiny sizes, few steps (what the tests run)
    python tools/figures.py notebooks/A2_forward_process.ipynb --out /tmp/figs
    python tools/figures.py --jobs 1              # one notebook at a time, torch's own threads

By default as many notebooks run at once as the machine has cores, each kernel on one thread:
small convolutions use a core better alone than shared, so this beats one notebook on every
core. Notebooks read KIT_PROFILE (quick, default or full) and KIT_FIGURES (where to save) from the
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
from concurrent.futures import ThreadPoolExecutor, as_completed
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
# the longest notebooks (default profile) start first, so that the workers finish together
LONGEST_FIRST = ("T1_ddim_and_eta", "B4_flow_matching", "B3_class_conditioned_ddpm")
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


def run_notebook(
    path: Path, out: Path, profile: str, timeout: int = 3600, threads: int | None = None
) -> float:
    """Execute one notebook in its own folder; keep the executed copy in <out>/executed/.

    threads: the kernel's CPU threads (OMP_NUM_THREADS); None leaves torch's default."""
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
        env = {**os.environ, "KIT_PROFILE": profile, "KIT_FIGURES": str(out)}
        client.execute(env=env | ({"OMP_NUM_THREADS": str(threads)} if threads else {}))
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
    parser.add_argument("--jobs", type=int, default=os.cpu_count(), help="notebooks at once")
    args = parser.parse_args()
    if args.jobs < 1:
        parser.error(f"--jobs must be at least 1, got {args.jobs}")
    notebooks = args.notebooks or sorted(
        (REPO / "notebooks").glob("*.ipynb"),
        key=lambda p: ((LONGEST_FIRST + (p.stem,)).index(p.stem), p.name),
    )
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    total, failed, cpu = time.perf_counter(), [], os.times()
    threads = 1 if args.jobs > 1 else None
    print(f"{len(notebooks)} notebooks ({args.profile}), {args.jobs} at a time", flush=True)
    with ThreadPoolExecutor(args.jobs) as pool:
        runs = {
            pool.submit(run_notebook, path.resolve(), out, args.profile, threads=threads): path
            for path in notebooks
        }
        for run in as_completed(runs):
            try:
                print(f"{runs[run].name}: done in {run.result():.0f} s", flush=True)
            except CellExecutionError as error:
                failed.append(runs[run].name)
                message = re.sub(ANSI, "", str(error))[-2000:]
                print(f"{runs[run].name}: FAILED: {message}", flush=True)
    gallery(out, notebooks)
    ran = len(notebooks) - len(failed)
    print(f"{ran} of {len(notebooks)} notebooks ran in {time.perf_counter() - total:.0f} s")
    # the kernels' own CPU time does not grow when other work shares the machine, as wall time
    # does: on an idle machine the run takes at least this divided by the cores
    done = os.times()
    kernels = done.children_user + done.children_system - cpu.children_user - cpu.children_system
    print(f"kernels' CPU time: {kernels:.0f} s ({kernels / os.cpu_count():.0f} s per core)")
    print(f"gallery: {out / 'index.html'}")
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
