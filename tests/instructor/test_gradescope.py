"""Gradescope: the autograder zip, and run_autograder in a folder laid out like Gradescope's,
writing a results.json that follows Gradescope's published format."""

import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

from instructor import gradescope

REPO = Path(__file__).resolve().parents[2]
VISIBILITY = {"hidden", "after_due_date", "after_published", "visible"}


def check_gradescope_results(results: dict) -> None:
    """Gradescope's autograder results format (its documentation's field list)."""
    assert isinstance(results["tests"], list)
    if "score" in results:
        assert isinstance(results["score"], int | float)
    for key in ("output", "stdout_visibility", "visibility"):
        assert key not in results or isinstance(results[key], str)
    assert results.get("visibility", "visible") in VISIBILITY
    assert results.get("stdout_visibility", "visible") in VISIBILITY
    for test in results["tests"]:
        assert isinstance(test["name"], str) and test["name"]
        assert isinstance(test["score"], int | float) and isinstance(test["max_score"], int | float)
        assert 0 <= test["score"] <= test["max_score"]
        assert test["status"] in ("passed", "failed")
        assert isinstance(test["output"], str)
        assert test.get("visibility", "visible") in VISIBILITY


def test_the_zip_has_setup_and_run_autograder_at_its_root(tmp_path):
    path = gradescope.build(tmp_path / "autograder.zip")
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        assert {"setup.sh", "run_autograder", "uv.lock", "pyproject.toml"} <= names
        assert "instructor/grading/test_core_math.py" in names and "helpers/steps.py" in names
        assert archive.getinfo("run_autograder").external_attr >> 16 & 0o111
        assert "uv sync --locked" in archive.read("setup.sh").decode()


def test_run_autograder_grades_a_sample_submission_like_gradescope(tmp_path):
    root = tmp_path / "autograder"
    with zipfile.ZipFile(gradescope.build(tmp_path / "autograder.zip")) as archive:
        archive.extractall(root / "source")
    shutil.copy(root / "source" / "run_autograder", root / "run_autograder")
    (root / "source" / ".venv").symlink_to(REPO / ".venv")  # setup.sh's work, done already here
    submission = root / "submission"
    shutil.copytree(REPO / "helpers", submission, ignore=shutil.ignore_patterns("__pycache__"))
    (submission / "guidance.py").write_text(
        (submission / "guidance.py").read_text().replace("gamma * (", "(1 + gamma) * (")
    )
    env = {**os.environ, "AUTOGRADER_ROOT": str(root)}
    done = subprocess.run(
        ["bash", str(root / "run_autograder")], env=env, capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((root / "results" / "results.json").read_text())
    check_gradescope_results(results)
    failed = [t["name"] for t in results["tests"] if t["status"] == "failed"]
    assert failed == ["cfg: classifier-free guidance, including gamma = 1"]
    assert results["score"] == sum(t["max_score"] for t in results["tests"]) - 1
