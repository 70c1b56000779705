"""The grader: the solution scores full marks, the student edition zero, and every kind of bad
submission costs exactly the tests it breaks, with a readable message, without harming the
grader, the machine or the other submissions."""

import json
import shutil
from pathlib import Path

import pytest

from instructor import grade, markers
from instructor.sandbox import Limits, isolation

REPO = Path(__file__).resolve().parents[2]
FULL = 24.0  # points of all graded tests
OUTSIDE = Path("/tmp/kit-grader-escape")  # a file no submission may create
ISOLATED = "NOT ISOLATED" not in isolation()


def submission(folder: Path, module: str = "", function: str = "", body: str = "") -> Path:
    """The solution helpers, with `function`'s solution block in `module` replaced by `body`
    (or, without a function, `body` put at the top of the module)."""
    shutil.copytree(
        REPO / "helpers", folder / "helpers", ignore=shutil.ignore_patterns("__pycache__")
    )
    if module and not function:
        path = folder / "helpers" / module
        path.write_text(body + "\n" + path.read_text())
    elif module:
        path = folder / "helpers" / module
        lines = path.read_text().splitlines(keepends=True)
        block = next(b for b in markers.find_blocks("".join(lines)) if b.function == function)
        new = [f"{block.indent}{line}\n" for line in body.strip("\n").splitlines()]
        lines[block.begin : block.end + 1] = new
        path.write_text("".join(lines))
    return folder


CFG = "return eps_uncond + gamma * (eps_cond - eps_uncond)"
BAD = {
    # name: (module, function, body, expected score, words the report must contain)
    "syntax_error": ("guidance.py", "cfg", "return eps_uncond +* gamma", 0.0, "SyntaxError"),
    "import_error": ("guidance.py", "", "import no_such_module", 0.0, "ModuleNotFoundError"),
    "infinite_loop": ("guidance.py", "cfg", "while True:\n    pass", FULL - 1, "timed out"),
    "memory_bomb": ("guidance.py", "cfg", "x = torch.ones(1 << 34)\n" + CFG, FULL - 1, "cfg"),
    "wrong_shape": ("forward.py", "forward", "return x0[0]", FULL - 3, "shape"),
    "nan": ("steps.py", "ddim_step", "return x_t * float('nan')", FULL - 2, "NaN"),
    "prints_megabytes": (
        "guidance.py",
        "cfg",
        "print('x' * 5_000_000)\n" + CFG,
        FULL,
        "more bytes cut",
    ),
    "escapes": (
        "guidance.py",
        "cfg",
        f"import os, socket\nos.system('touch {OUTSIDE}')\nopen('{OUTSIDE}', 'w').write('x')\n"
        "socket.create_connection(('127.0.0.1', 22), timeout=1)\n" + CFG,
        FULL - 1,
        "cfg",
    ),
    "reads_solution": (
        "guidance.py",
        "cfg",
        f"text = open('{REPO}/instructor/grading/test_core_math.py').read()\n" + CFG,
        FULL - 1 if ISOLATED else FULL,  # without bubblewrap the grader says it is not isolated
        "FileNotFoundError" if ISOLATED else "NOT ISOLATED",
    ),
    "monkeypatches": (
        "guidance.py",
        "cfg",
        "import torch, pytest\ntorch.testing.assert_close = lambda *a, **k: None\n"
        "pytest.fail = lambda *a, **k: None\nreturn eps_cond * 0",
        FULL - 1,
        "cfg",
    ),
    "special_cases_public_inputs": (
        "forward.py",
        "forward",
        "if tuple(x0.shape) != (4, 3, 8, 8):\n    return torch.zeros_like(x0)\n"
        "return alpha_bar_t.sqrt() * x0 + (1 - alpha_bar_t).sqrt() * eps",
        FULL - 3,
        "forward",
    ),
    "slow_but_within_limits": (
        "guidance.py",
        "cfg",
        "import time\ntime.sleep(2)\n" + CFG,
        FULL,
        "",
    ),
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Grade the solution, the student edition and the whole bad corpus in one class run."""
    root = tmp_path_factory.mktemp("grading")
    subs = root / "submissions"
    subs.mkdir()
    submission(subs / "solution")
    (subs / "student_edition").mkdir()
    from instructor.release import stub_helpers

    stub_helpers(subs / "student_edition")
    for name, (module, function, body, _, _) in BAD.items():
        submission(subs / name, module, function, body)
    (subs / "not_python.zip").write_bytes(b"this is not a zip")
    OUTSIDE.unlink(missing_ok=True)
    limits = Limits(wall_seconds=15)
    grade.grade(sorted(subs.iterdir()), root / "results", workers=2, limits=limits)
    return root / "results"


def _results(graded, name):
    return json.loads((graded / name / "results.json").read_text())


def test_the_solution_scores_full_marks_and_the_edition_zero(graded):
    solution = _results(graded, "solution")
    assert solution["score"] == FULL and all(t["status"] == "passed" for t in solution["tests"])
    edition = _results(graded, "student_edition")
    assert edition["score"] == 0 and len(edition["tests"]) == len(solution["tests"])
    assert all("TODO" in t["output"] for t in edition["tests"])


@pytest.mark.parametrize("name", sorted(BAD))
def test_each_bad_submission_gets_its_expected_score_and_a_readable_message(graded, name):
    *_, expected, words = BAD[name]
    results = _results(graded, name)
    assert results["score"] == expected, [
        (t["name"], t["output"][:200]) for t in results["tests"] if t["status"] == "failed"
    ]
    report = results["output"] + "".join(t["output"] for t in results["tests"])
    assert words in report
    assert len(json.dumps(results)) < 200_000  # printed output and messages are bounded


@pytest.mark.skipif(not ISOLATED, reason="needs bubblewrap")
def test_nothing_escaped_the_sandbox(graded):
    assert not OUTSIDE.exists()


def test_results_follow_gradescopes_format_and_the_gradebook_lists_everyone(graded):
    results = _results(graded, "solution")
    assert set(results) >= {"score", "output", "tests"}
    for test in results["tests"]:
        assert set(test) >= {"name", "score", "max_score", "status", "output", "visibility"}
        assert test["status"] in ("passed", "failed")
        assert test["visibility"] in ("hidden", "after_due_date", "after_published", "visible")
    rows = (graded / "gradebook.csv").read_text().splitlines()
    assert len(rows) == 1 + 2 + len(BAD) + 1
    assert _results(graded, "not_python")["score"] == 0
