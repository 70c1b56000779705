"""Gradescope: the autograder zip, and run_autograder in a folder laid out like Gradescope's,
writing a results.json that follows Gradescope's published format."""

import json
import os
import shutil
import subprocess
import sys
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


def _uv() -> str:
    return shutil.which("uv") or str(REPO / ".tools" / "bin" / "uv")


def test_the_zip_installs_as_setup_sh_does_and_grades_like_gradescope(tmp_path):
    """Build the zip, run its setup.sh into a clean folder (offline: the system packages are
    there already and uv's cache holds the locked wheels), then run_autograder on a correct
    and on a broken submission in Gradescope's layout."""
    root = tmp_path / "autograder"
    with zipfile.ZipFile(gradescope.build(tmp_path / "autograder.zip")) as archive:
        archive.extractall(root / "source")
    env = {
        **os.environ,
        "KIT_SETUP_NO_SYSTEM": "1",
        "KIT_PYTHON": sys.executable,
        "PATH": f"{Path(_uv()).parent}:{os.environ['PATH']}",
        "UV_OFFLINE": "1",
    }
    env.pop("VIRTUAL_ENV", None)
    setup = subprocess.run(
        ["bash", str(root / "source" / "setup.sh")], env=env, capture_output=True, text=True
    )
    assert setup.returncode == 0, setup.stderr[-3000:]
    shutil.copy(root / "source" / "run_autograder", root / "run_autograder")
    broken = "[sigma, sigma]) * 2"  # gaussian_blur_denoise, which nothing else calls
    for name, change, lost in [("correct", "", 0), ("broken", broken, 1)]:
        submission = root / "submission"
        shutil.rmtree(submission, ignore_errors=True)
        shutil.copytree(REPO / "helpers", submission, ignore=shutil.ignore_patterns("__pycache__"))
        if change:
            forward = submission / "forward_process.py"
            forward.write_text(forward.read_text().replace("[sigma, sigma])", change))
        done = subprocess.run(
            ["bash", str(root / "run_autograder")],
            env={"PATH": os.environ["PATH"], "AUTOGRADER_ROOT": str(root)},
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert done.returncode == 0, (name, done.stderr[-3000:])
        results = json.loads((root / "results" / "results.json").read_text())
        check_gradescope_results(results)
        failed = [t["name"] for t in results["tests"] if t["status"] == "failed"]
        full = sum(t["max_score"] for t in results["tests"])
        assert full >= 24 and results["score"] == full - lost, (name, failed)
        blur = "gaussian_blur_denoise: matches torchvision's Gaussian blur"
        assert failed == ([blur] if lost else [])
