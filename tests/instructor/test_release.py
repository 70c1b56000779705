"""The student edition: markers checked, solutions stubbed and never leaked, the kit still loads,
lint-clean, and its own `make test` table (its notebooks: test_fill_in.py)."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from instructor import markers, release

GOOD = '''
def f(x):
    """Double x (Eq. 1)."""
    y = 1
    # BEGIN SOLUTION
    return 2 * x
    # END SOLUTION
'''


def test_a_block_becomes_a_todo_naming_function_file_equation_and_check():
    stubbed = markers.stub(GOOD, "/kit/helpers/f.py")
    assert (
        'raise NotImplementedError(\n        "TODO: write f (helpers/f.py): Double x (Eq. 1).'
        ' Check it with: make check FUNC=f"\n    )'
    ) in stubbed
    assert (
        "return 2 * x" not in stubbed
        and '"""Double x (Eq. 1)."""' in stubbed
        and "y = 1" in stubbed
    )
    namespace = {}
    exec(stubbed, namespace)
    with pytest.raises(NotImplementedError, match="TODO: write f"):
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


def test_a_long_todo_is_cut_into_lines_that_fit_and_quotes_survive():
    hint = 'A "quoted" hint that goes on and on ' * 5
    source = GOOD.replace("Double x (Eq. 1).", hint.strip())
    stubbed = markers.stub(source, "helpers/f.py")
    body = stubbed[stubbed.index("y = 1") :]
    assert max(len(line) for line in body.splitlines()) <= markers.LINE_LENGTH
    namespace = {}
    exec(stubbed, namespace)
    with pytest.raises(NotImplementedError) as error:
        namespace["f"](1)
    expected = f"TODO: write f (helpers/f.py): {hint.strip().rstrip('.')}."
    assert str(error.value) == expected + " Check it with: make check FUNC=f"


def test_the_edition_leaves_out_instructor_tooling_and_keeps_the_kit(edition):
    out, removed = edition
    assert len(removed) > 50
    assert not (out / "instructor").exists() and not (out / "tests" / "instructor").exists()
    assert not (out / "tests" / "browser").exists()  # the kit's checks need every function
    assert not (out / "tests" / "test_pretrained.py").exists()
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
    assert done.stdout.startswith("TODO: write linear_betas (helpers/schedule.py): Linear schedule")
    assert done.stdout.strip().endswith("Check it with: make check FUNC=linear_betas")


def test_the_edition_passes_ruff_lint_and_format(edition):
    out, _ = edition
    for command in (["check", "."], ["format", "--check", "."]):
        done = subprocess.run(
            [sys.executable, "-m", "ruff", *command, "--no-cache"],
            cwd=out,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stdout + done.stderr
    assert "# noqa: F841 - for your code" in (out / "helpers" / "forward_process.py").read_text()


def test_the_edition_speaks_to_students(edition):
    out, _ = edition
    readme, makefile = (out / "README.md").read_text(), (out / "Makefile").read_text()
    start = readme[: readme.index("## Your functions")]
    assert "make lab" in start and "A1_sampling" in start and "make check FUNC=" in start
    assert "For instructors" not in readme and "instructor/" not in readme
    assert "release" not in makefile and "autograder" not in makefile
    assert "\ncheck: setup" in makefile and "\ntest: lint" in makefile


def test_the_table_names_the_file_and_line_that_does_not_import(edition, tmp_path):
    out, _ = edition
    copy = tmp_path / "student"
    shutil.copytree(out, copy, ignore=shutil.ignore_patterns("assets", "notebooks", "__pycache__"))
    guidance = copy / "helpers" / "guidance.py"
    lines = guidance.read_text().splitlines()
    guidance.write_text("\n".join([*lines, "x = 1 +* 2"]) + "\n")
    done = subprocess.run(  # forward's tests import helpers, whose __init__ imports guidance.py
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--function", "forward"],
        cwd=copy,
        capture_output=True,
        text=True,
        timeout=300,
    )
    message = f"failing: helpers/guidance.py:{len(lines) + 1} does not import: SyntaxError"
    assert message in done.stdout, done.stdout[-3000:]


def test_each_student_function_carries_its_graded_points(edition):
    out, _ = edition
    functions = json.loads((out / "tests" / "student_functions.json").read_text())["functions"]
    graded = release.graded_points(release.REPO / "instructor" / "grading")
    assert sum(f["points"] for f in functions) == sum(p for p, _ in graded.values())
    assert all(f["points"] > 0 and f["tests"] for f in functions)
    names = {f["name"] for f in functions}
    assert {"forward", "ddpm_step", "ddim_step", "cfg", "ClassConditionalUNet"} <= names


def test_the_editions_make_test_passes_with_everything_todo_and_ends_with_the_table(edition):
    out, _ = edition
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rN", "-p", "no:cacheprovider", "--functions"],
        cwd=out,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    table = done.stdout[done.stdout.index("your function") :]
    assert "forward                helpers/forward_process.py      2  TODO" in table
    functions = json.loads((out / "tests" / "student_functions.json").read_text())["functions"]
    total = sum(f["points"] for f in functions)
    assert f"0 of {len(functions)} pass their public tests, worth 0 of {total} points" in table
    assert "failing" not in table and "passing" not in table
    one = subprocess.run(  # its test file waits for cosine_betas: nothing runs, and that is fine
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--function", "ddpm_step"],
        cwd=out,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert one.returncode == 0 and "TODO (needs cosine_betas first)" in one.stdout, one.stdout
