"""Notebooks: committed clean and paired, and every one runs headless in the quick profile."""

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


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_in_the_quick_profile_and_saves_captioned_figures(path, tmp_path):
    run_notebook(path, tmp_path, "quick")
    records = [json.loads(p.read_text()) for p in tmp_path.glob("*.json")]
    assert records, f"{path.name} saved no figure"
    for record in records:
        assert (
            record["notebook"] == path.stem
            and record["caption"]
            and (tmp_path / record["file"]).exists()
        )


def test_two_runs_give_byte_identical_figures(tmp_path):
    path = REPO / "notebooks" / "A2_forward_process.ipynb"
    for run in ("a", "b"):
        run_notebook(path, tmp_path / run, "quick")
        gallery(tmp_path / run, [path])
    first, second = (
        json.loads((tmp_path / run / "manifest.json").read_text()) for run in ("a", "b")
    )
    assert first and first == second
