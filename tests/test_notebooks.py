"""Notebooks: committed clean and paired, thin, and the same figures from two runs.

Every notebook runs headless in the quick profile and saves captioned figures in
tests/instructor/test_fill_in.py, at the step of the student edition where its functions are
written."""

import ast
import json
from pathlib import Path

import jupytext
import nbformat
import pytest

from tools.figures import gallery, run_notebook

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 3


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_committed_without_outputs_and_matches_its_pair(path):
    notebook = nbformat.read(path, as_version=4)
    assert notebook.metadata["kernelspec"]["name"] == "python3"  # papermill/nbclient need it
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, "run `make notebooks`"
    paired = jupytext.read(path.with_suffix(".py"))
    assert [c.source for c in paired.cells] == [c.source for c in notebook.cells], (
        f"{path.name} and {path.stem}.py differ: run `jupytext --sync {path}`"
    )


MAX_STATEMENTS = 8  # per code cell: every statement, nested ones too, imports not counted


def code_cells(path: Path) -> list[ast.Module]:
    """The parsed code cells of a notebook's paired .py file (IPython magics dropped)."""
    cells = [c for c in jupytext.read(path.with_suffix(".py")).cells if c.cell_type == "code"]
    return [
        ast.parse("\n".join(s for s in c.source.splitlines() if not s.startswith(("%", "!"))))
        for c in cells
    ]


def statements(cell: ast.Module) -> int:
    return sum(
        isinstance(node, ast.stmt) and not isinstance(node, ast.Import | ast.ImportFrom)
        for node in ast.walk(cell)
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_cells_are_short(path):
    counts = [statements(cell) for cell in code_cells(path)]
    long = {i + 1: n for i, n in enumerate(counts) if n > MAX_STATEMENTS}
    assert not long, (
        f"{path.stem}: code cells (numbered among code cells) with more than {MAX_STATEMENTS} "
        f"statements: {long}; split them or move the work into helpers/"
    )


@pytest.mark.parametrize(
    "stem, step",
    [
        ("A3_denoising", "ddpm_step"),
        ("B2_time_conditioned_ddpm", "ddpm_step"),
        ("T1_ddim_and_eta", "ddim_step"),
    ],
)
def test_notebook_shows_the_loop_that_calls_the_students_step(stem, step):
    """A for loop in a code cell calls the student's step function itself, not through a helper."""

    def calls_step(node):
        func = getattr(node, "func", None)
        return getattr(func, "attr", getattr(func, "id", None)) == step

    loops = [
        loop
        for cell in code_cells(REPO / "notebooks" / f"{stem}.ipynb")
        for loop in ast.walk(cell)
        if isinstance(loop, ast.For) and any(calls_step(n) for n in ast.walk(loop))
    ]
    assert loops, f"{stem} has no cell with a for loop that calls {step} directly"


def test_the_figures_tool_refuses_zero_jobs(monkeypatch, capsys):
    import sys

    from tools import figures

    monkeypatch.setattr(sys, "argv", ["figures.py", "--jobs", "0"])
    with pytest.raises(SystemExit) as stopped:
        figures.main()
    assert stopped.value.code == 2 and "--jobs must be at least 1, got 0" in capsys.readouterr().err


def test_two_runs_give_byte_identical_figures(tmp_path):
    path = REPO / "notebooks" / "A2_forward_process.ipynb"
    for run in ("a", "b"):
        run_notebook(path, tmp_path / run, "quick")
        gallery(tmp_path / run, [path])
    first, second = (
        json.loads((tmp_path / run / "manifest.json").read_text()) for run in ("a", "b")
    )
    assert first and first == second
