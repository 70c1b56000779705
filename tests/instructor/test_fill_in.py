"""The property a student lives by: fill in the solution function by function, in the course's
order (instructor/edition/functions.toml), and after each step every notebook whose functions are
all written runs to its end in the quick profile and saves its captioned figures, while every
other one stops at the TODO of a function still to write, never at another error, and never
before its given models are loaded.

Each notebook runs at the first step with no TODO left before its first call of an unwritten
function: it either ends there or names the next function it waits for, at a later step. Until a
stub is called, the notebook runs exactly as with everything written, so these runs decide every
step in between: a notebook stopped by function F stops at F at every step until F is written.
The runs to the end are the kit's notebook runs too (tests/test_notebooks.py checks the rest)."""

import json
import os
import re
import time
from concurrent.futures import ThreadPoolExecutor

import nbformat
import pytest
from nbclient.exceptions import CellExecutionError

from instructor import release
from tools.figures import run_notebook

FUNCTIONS = release.student_functions()
ORDER = [f["name"] for f in FUNCTIONS]
OWNER = {part: f["name"] for f in FUNCTIONS for part in [f["name"], *f.get("covers", [])]}
NOTEBOOKS = sorted(p.stem for p in (release.REPO / "notebooks").glob("*.ipynb"))
JOBS = os.cpu_count() or 1  # notebooks due at one step run this many at once, one thread each


def run(out, name: str, figures) -> str | None:
    """Run a notebook of the edition at out: None when it ends, else the function it waits for."""
    path = out / "notebooks" / f"{name}.ipynb"
    try:
        run_notebook(path, figures, "quick", threads=1 if JOBS > 1 else None)
    except CellExecutionError as error:
        todo = re.match(r"TODO: write (\w+)", error.evalue)
        assert error.ename == "NotImplementedError" and todo, (
            f"{name} stopped at {error.ename}, not at a TODO: {error.evalue[:2000]}"
        )
        assert "helpers/" in error.evalue and "make check FUNC=" in error.evalue
        executed = nbformat.read(figures / "executed" / path.name, as_version=4)
        outputs = {c.source: c.get("outputs", []) for c in executed.cells}
        stopped = [source for source, out in outputs.items() if any("ename" in o for o in out)]
        assert "load_backend(" not in stopped[0], f"{name}: a given model waits for a TODO"
        return OWNER[todo.group(1)]
    records = [json.loads(p.read_text()) for p in figures.glob("*.json")]
    assert records, f"{name} saved no figure"
    for record in records:
        assert record["notebook"] == name and record["caption"], record
        assert (figures / record["file"]).exists()
    return None


def timed_run(out, name: str, figures) -> tuple[str | None, float]:
    """`run` and its seconds."""
    start = time.monotonic()
    return run(out, name, figures), time.monotonic() - start


@pytest.mark.slow
def test_filling_in_function_by_function_runs_every_notebook_once_its_functions_are_written(
    tmp_path, monkeypatch
):
    out = tmp_path / "student"
    release.release(out)
    monkeypatch.setenv("PYTHONPATH", str(out))  # the kernels import the edition's helpers
    next_run = {name: 0 for name in NOTEBOOKS}  # notebook -> the step to run it at
    ends_at, waits_for = {}, {name: [] for name in NOTEBOOKS}
    for step in range(len(ORDER) + 1):  # step k: the first k functions are written
        due = sorted(name for name, k in next_run.items() if k == step)
        if not due:
            continue
        release.fill_in(out, ORDER[:step])
        folders = [tmp_path / f"{name}_{step}" for name in due]
        with ThreadPoolExecutor(JOBS) as pool:
            results = dict(
                zip(due, pool.map(timed_run, [out] * len(due), due, folders), strict=True)
            )
        for name, (function, took) in results.items():
            print(f"step {step:2} {name:<28} {function or 'ends'} ({took:.0f} s)")
            if function is None:
                ends_at[name] = step
                del next_run[name]
                continue
            written_at = ORDER.index(function) + 1
            assert written_at > step, f"{name} stopped at {function}, written at step {written_at}"
            waits_for[name].append(function)
            next_run[name] = written_at
    assert not next_run and sorted(ends_at) == NOTEBOOKS
    print("\nnotebook: the functions it stopped at, then the step at which it runs to its end")
    for name in NOTEBOOKS:
        waited = ", ".join(waits_for[name]) or "none (it only uses given models)"
        print(f"  {name:<28} {waited} -> step {ends_at[name]}")
