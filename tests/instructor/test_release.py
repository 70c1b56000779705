"""The student edition: markers checked, solutions stubbed and never leaked, the kit still loads."""

import os
import subprocess
import sys

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from instructor import markers, release

GOOD = '''
def f(x):
    """Double x (Eq. 1)."""
    y = 1
    # BEGIN SOLUTION
    return 2 * x
    # END SOLUTION
'''


def test_a_block_becomes_a_todo_named_after_its_function_with_its_docstring_as_hint():
    stubbed = markers.stub(GOOD)
    assert 'raise NotImplementedError("TODO: f: Double x (Eq. 1).")' in stubbed
    assert (
        "return 2 * x" not in stubbed
        and '"""Double x (Eq. 1)."""' in stubbed
        and "y = 1" in stubbed
    )
    namespace = {}
    exec(stubbed, namespace)
    with pytest.raises(NotImplementedError, match="TODO: f"):
        namespace["f"](1)


@pytest.mark.parametrize(
    "source, problem",
    [
        (GOOD.replace("    # END SOLUTION\n", ""), "never closed"),
        (GOOD.replace("    # BEGIN SOLUTION\n", ""), "without a BEGIN"),
        (
            GOOD.replace(
                "    return 2 * x\n", "    # BEGIN SOLUTION\n    return 2 * x\n    # END SOLUTION\n"
            ),
            "nested",
        ),
        ("# BEGIN SOLUTION\nx = 1\n# END SOLUTION\n", "inside a function"),
        (GOOD.replace("# END SOLUTION", "# END SOLUTION here"), "alone on its line"),
    ],
)
def test_bad_markers_are_errors_that_name_the_line(source, problem):
    with pytest.raises(markers.MarkerError, match=problem):
        markers.find_blocks(source, "f.py")


@pytest.fixture(scope="module")
def edition(tmp_path_factory):
    out = tmp_path_factory.mktemp("release") / "student"
    removed = release.release(out)
    return out, removed


def test_the_edition_leaves_out_instructor_tooling_and_keeps_the_kit(edition):
    out, removed = edition
    assert len(removed) > 50
    assert not (out / "instructor").exists() and not (out / "tests" / "instructor").exists()
    for kept in (
        "helpers/__init__.py",
        "notebooks",
        "tests/test_steps.py",
        "assets/mnist",
        "Makefile",
        "uv.lock",
    ):
        assert (out / kept).exists(), kept
    assert "BEGIN SOLUTION" not in "".join(p.read_text() for p in (out / "helpers").rglob("*.py"))


def test_no_solution_line_survives_anywhere_and_the_check_would_see_one(edition, tmp_path):
    out, removed = edition
    assert release.leaks(out, removed) == []
    secret = "return (x_t - (1 - alpha_bar_t).sqrt() * eps_hat) / alpha_bar_t.sqrt()"
    assert secret in removed
    (out / "notebooks" / "leak.py").write_text(f"    {secret}\n")
    try:
        assert release.leaks(out, removed) == [f"notebooks/leak.py: {secret}"]
    finally:
        (out / "notebooks" / "leak.py").unlink()


def test_the_edition_imports_and_its_functions_ask_to_be_written(edition):
    out, _ = edition
    code = (
        "import helpers\n"
        "try:\n    helpers.cfg(helpers.linear_betas(), helpers.linear_betas(), 1.0)\n"
        "except NotImplementedError as e:\n    print(e)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(out)}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=out, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("TODO: linear_betas: Linear schedule")


@pytest.mark.parametrize(
    "name", ["A2_forward_process", "B1_single_step_denoiser", "T4_math_checks"]
)
def test_notebooks_run_until_their_first_todo(edition, name, monkeypatch):
    out, _ = edition
    monkeypatch.setenv("PYTHONPATH", str(out))  # the kernel imports the edition's helpers
    monkeypatch.setenv("KIT_PROFILE", "quick")
    monkeypatch.setenv("KIT_FIGURES", str(out / "figures"))
    path = out / "notebooks" / f"{name}.ipynb"
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    try:
        client.execute()
    except CellExecutionError as error:
        assert error.ename == "NotImplementedError" and "TODO" in error.evalue, (
            f"{error.ename}: {error.evalue}"
        )
