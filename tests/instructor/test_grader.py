"""The grader: the solution scores full marks, the student edition zero, and every kind of bad
submission costs exactly the tests it breaks, with a readable message, without harming the
grader, the machine or the other submissions."""

import json
import shutil
from pathlib import Path

import pytest

from instructor import grade, markers, release
from instructor.sandbox import Limits, isolation

REPO = Path(__file__).resolve().parents[2]
GRADED = release.graded_points(REPO / "instructor" / "grading")
FULL = float(sum(points for points, _ in GRADED.values()))  # points of all graded tests
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


BLUR = "return gaussian_blur(x_t, [kernel_size, kernel_size], [sigma, sigma])"  # a leaf: no
# other function calls gaussian_blur_denoise, so breaking it costs exactly its 1 point


def _trunk(old: str, new: str) -> str:
    """The solution's UNet trunk with one piece of it replaced."""
    lines = (REPO / "helpers" / "unet.py").read_text().splitlines()
    block = next(b for b in markers.find_blocks("\n".join(lines)) if b.function.endswith("trunk"))
    body = "\n".join(line[len(block.indent) :] for line in lines[block.begin + 1 : block.end])
    assert old in body
    return body.replace(old, new, 1)


def without(*tests: str) -> float:
    """Full marks less the points of the named graded tests."""
    return FULL - sum(GRADED[test][0] for test in tests)


# a file that does not import costs the functions in it and in the files that import it:
# guidance.py's cfg, and through denoiser.py the part A loops and sampling.py's
NEEDS_GUIDANCE = without(
    "test_cfg",
    *("test_iterative_denoise", "test_inpaint", "test_visual_anagram", "test_hybrid_image"),
    *("test_ddim_timesteps", "test_sample", "test_invert"),
)
NEEDS_UNETS = without(  # the four UNets share the trunk
    "test_unconditional_unet",
    *("test_time_conditional_unet", "test_class_conditional_unet", "test_flow_time_unet"),
)

BAD = {
    # name: (module, function, body, expected score, words the report must contain)
    "syntax_error": (
        "guidance.py",
        "cfg",
        "return eps_uncond +* gamma",
        NEEDS_GUIDANCE,
        "not importable, SyntaxError at helpers/guidance.py:",
    ),
    "import_error": (
        "guidance.py",
        "",
        "import no_such_module",
        NEEDS_GUIDANCE,
        "not importable, ModuleNotFoundError at helpers/guidance.py:1",
    ),
    "breaks_its_init": ("__init__.py", "", "raise SystemExit", FULL, ""),  # never imported
    "imports_from_the_package": (  # names __init__ exports resolve as they do locally
        "part_a.py",
        "",
        "from helpers import cfg, forward  # noqa: F401",
        FULL,
        "",
    ),
    "unet_syntax_error": (  # nothing but the networks imports unet.py
        "unet.py",
        "UnconditionalUNet.trunk",
        "return self.head(",
        NEEDS_UNETS,
        "not importable, SyntaxError at helpers/unet.py:",
    ),
    "infinite_loop": (
        "forward_process.py",
        "gaussian_blur_denoise",
        "while True:\n    pass",
        FULL - 1,
        "timed out",
    ),
    "memory_bomb": (
        "forward_process.py",
        "gaussian_blur_denoise",
        "x = [bytearray(1 << 20) for _ in range(16_000)]\n" + BLUR,
        FULL - 1,
        ("the process died", "timed out"),  # at the memory limit, or first out of time when busy
    ),
    # forward's tests, and inpaint and ddpm_loss, which call forward
    "wrong_shape": ("forward_process.py", "forward", "return x0[0]", FULL - 7, "shape"),
    "nan": ("steps.py", "ddim_step", "return x_t * float('nan')", FULL - 4, "NaN"),  # sample
    "prints_megabytes": (
        "forward_process.py",
        "gaussian_blur_denoise",
        "print('x' * 5_000_000)\n" + BLUR,
        FULL,
        "more bytes cut",
    ),
    "escapes": (
        "forward_process.py",
        "gaussian_blur_denoise",
        f"import os, socket\nos.system('touch {OUTSIDE}')\nopen('{OUTSIDE}', 'w').write('x')\n"
        "socket.create_connection(('127.0.0.1', 22), timeout=1)\n" + BLUR,
        FULL - 1,
        "gaussian_blur_denoise",
    ),
    "reads_solution": (
        "forward_process.py",
        "gaussian_blur_denoise",
        f"text = open('{REPO}/instructor/grading/test_core_math.py').read()\n" + BLUR,
        FULL - 1 if ISOLATED else FULL,  # without bubblewrap the grader says it is not isolated
        "FileNotFoundError" if ISOLATED else "NOT ISOLATED",
    ),
    "monkeypatches": (
        "forward_process.py",
        "gaussian_blur_denoise",
        "import torch, pytest\ntorch.testing.assert_close = lambda *a, **k: None\n"
        "pytest.fail = lambda *a, **k: None\nreturn x_t * 0",
        FULL - 1,
        "gaussian_blur_denoise",
    ),
    "special_cases_public_inputs": (
        "forward_process.py",
        "forward",
        "if tuple(x0.shape) != (4, 3, 8, 8):\n    return torch.zeros_like(x0)\n"
        "return alpha_bar_t.sqrt() * x0 + (1 - alpha_bar_t).sqrt() * eps",
        FULL - 7,  # forward's two tests, inpaint (noises the kept region) and ddpm_loss
        "forward",
    ),
    "oversized_reply": (
        "forward_process.py",
        "gaussian_blur_denoise",
        "import torch\nreturn torch.zeros(100_000_000)",
        FULL - 1,
        "refused",
    ),
    "floods_its_output": (
        "forward_process.py",
        "gaussian_blur_denoise",
        "import sys\nsys.stdout.buffer.write(open('/dev/zero', 'rb').read(50_000_000))\n" + BLUR,
        FULL,
        "more bytes cut",
    ),
    "replaces_its_log_with_a_link": (
        "forward_process.py",
        "gaussian_blur_denoise",
        f"import os\nfor name in ('output.log', '/tmp/output.log'):\n"
        f"    try:\n        os.symlink('{REPO}/instructor/grading/test_core_math.py', name)\n"
        "    except OSError:\n        pass\nprint('hello')\n" + BLUR,
        FULL,
        "hello",
    ),
    "plants_a_conftest": (
        "forward_process.py",
        "gaussian_blur_denoise",
        f"for path in ('{REPO}/conftest.py', '{REPO}/instructor/grading/conftest.py'):\n"
        "    try:\n        open(path, 'w').write('raise SystemExit')\n"
        "    except OSError:\n        pass\n" + BLUR,
        FULL,
        "",
    ),
    "directory_bomb": (
        "forward_process.py",
        "gaussian_blur_denoise",
        "import os\nfor _ in range(1500):\n    os.mkdir('d')\n    os.chdir('d')\n" + BLUR,
        FULL,
        "",
    ),
    "fake_unet_ignores_x": (
        "unet.py",
        "UnconditionalUNet.trunk",
        _trunk("(x)", "(x * 0)"),
        NEEDS_UNETS,
        "wrong values",
    ),
    "nan_unet": (
        "unet.py",
        "UnconditionalUNet.trunk",
        _trunk("return ", "return float('nan') * "),
        NEEDS_UNETS,
        "NaN",
    ),
    "unet_without_layers": (
        "unet.py",
        "UnconditionalUNet.trunk",
        "return x",
        NEEDS_UNETS,
        "layers",
    ),
    "slow_but_within_limits": (
        "forward_process.py",
        "gaussian_blur_denoise",
        "import time\ntime.sleep(2)\n" + BLUR,
        FULL,
        "",
    ),
}


if ISOLATED:  # only where processes and CPU are bounded for the whole submission
    BAD["fork_bomb"] = (
        "forward_process.py",
        "gaussian_blur_denoise",
        "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass",
        FULL - 1,
        "timed out",
    )
    BAD["cpu_hog"] = (
        "forward_process.py",
        "gaussian_blur_denoise",
        "import os\nfor _ in range(4):\n    if os.fork() == 0:\n        while True:\n"
        "            pass\n" + BLUR,
        FULL,
        "",
    )


def links_and_odd_files(subs: Path) -> dict[str, tuple[float, str]]:
    """Submissions that are or hold links, devices, FIFOs, bombs and colliding names, and one
    that renames a function: {name: (expected score, words the report must contain)}."""
    import os
    import zipfile

    (subs / "symlink_to_solution").symlink_to(REPO / "helpers")
    linked = subs / "per_file_symlinks" / "helpers"
    linked.mkdir(parents=True)
    for path in (REPO / "helpers").glob("*.py"):
        (linked / path.name).symlink_to(path)
    submission(subs / "link_to_dev_zero")
    (subs / "link_to_dev_zero" / "helpers" / "zero.py").symlink_to("/dev/zero")
    submission(subs / "fifo_and_hard_link")
    os.mkfifo(subs / "fifo_and_hard_link" / "helpers" / "notes.py")
    (subs.parent / "elsewhere.py").write_text("x = 1\n")
    os.link(subs.parent / "elsewhere.py", subs / "hard_link.py")
    with zipfile.ZipFile(subs / "zip_bomb.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("helpers/guidance.py", b"#" * (100 << 20))
    with zipfile.ZipFile(subs / "gradebook.csv.zip", "w") as archive:
        for path in (REPO / "helpers").glob("*.py"):
            archive.write(path, f"helpers/{path.name}")
        link = zipfile.ZipInfo("helpers/secret.py")
        link.external_attr = (0o120777) << 16  # a symbolic link entry
        archive.writestr(link, str(REPO / "instructor" / "grading" / "test_core_math.py"))
    renamed = submission(subs / "renames_a_function") / "helpers" / "forward_process.py"
    renamed.write_text(renamed.read_text().replace("def gaussian_blur_denoise(", "def blur("))
    unet = submission(subs / "reexports_the_given_network") / "helpers" / "unet.py"
    given = "from helpers.pretrained import PretrainedUNet as UnconditionalUNet"
    unet.write_text(unet.read_text() + given + "  # noqa\n")
    submission(subs / "twin")
    (subs / "twin.zip").write_bytes((subs / "gradebook.csv.zip").read_bytes())
    return {
        "symlink_to_solution": (0.0, "symbolic link"),
        "per_file_symlinks": (0.0, "symbolic link"),
        "link_to_dev_zero": (FULL, "symbolic link"),
        "fifo_and_hard_link": (FULL, "not a regular file"),
        "hard_link": (0.0, "hard link"),
        "zip_bomb": (0.0, "more than"),
        "gradebook.csv-2": (FULL, "links are not taken"),
        "reexports_the_given_network": (FULL - 4, "RuntimeError"),
        "renames_a_function": (FULL - 1, "gaussian_blur_denoise: not found in its file"),
        "twin": (FULL, ""),
        "twin-2": (FULL, "links are not taken"),
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
    ODD.update(links_and_odd_files(subs))
    for i in (1, 2):  # graded after the attacks
        submission(subs / f"zz_innocent_{i}")
    OUTSIDE.unlink(missing_ok=True)
    before = _fingerprint()
    limits = Limits(wall_seconds=15)
    grade.grade(sorted(subs.iterdir()), root / "results", workers=2, limits=limits)
    assert _fingerprint() == before, "grading changed a file of the kit"
    return root / "results"


ODD: dict[str, tuple[float, str]] = {}


def _fingerprint() -> dict[str, bytes]:
    """The grader's hidden tests with their bytes, and every conftest.py of the kit."""
    hidden = {str(p): p.read_bytes() for p in (REPO / "instructor" / "grading").rglob("*.py")}
    planted = {str(p): b"" for p in REPO.glob("**/conftest.py") if ".venv" not in p.parts}
    return hidden | planted


def _results(graded, name):
    return json.loads((graded / name / "results.json").read_text())


def test_the_solution_scores_full_marks_and_the_edition_zero(graded):
    solution = _results(graded, "solution")
    assert solution["score"] == FULL and all(t["status"] == "passed" for t in solution["tests"])
    edition = _results(graded, "student_edition")
    graded = [t for t in solution["tests"] if t["max_score"]]  # not "what your code printed"
    assert edition["score"] == 0 and len(edition["tests"]) == len(graded)
    assert all("TODO" in t["output"] for t in edition["tests"])


@pytest.mark.parametrize("name", sorted(BAD))
def test_each_bad_submission_gets_its_expected_score_and_a_readable_message(graded, name):
    *_, expected, words = BAD[name]
    results = _results(graded, name)
    assert results["score"] == expected, [
        (t["name"], t["output"][:200]) for t in results["tests"] if t["status"] == "failed"
    ]
    report = results["output"] + "".join(t["output"] for t in results["tests"])
    assert any(w in report for w in ([words] if isinstance(words, str) else words)), report[:2000]
    assert len(json.dumps(results)) < 200_000  # printed output and messages are bounded


def test_links_devices_bombs_and_colliding_names_cost_only_their_own_tests(graded):
    for name, (expected, words) in ODD.items():
        results = _results(graded, name)
        report = results["output"] + "".join(t["output"] for t in results["tests"])
        assert results["score"] == expected, (name, report[:500])
        assert words in report, (name, report[:500])
    for i in (1, 2):
        assert _results(graded, f"zz_innocent_{i}")["score"] == FULL


def test_no_report_shows_the_hidden_tests_or_expected_values(graded):
    for path in graded.glob("*/results.json"):
        text = path.read_text()
        for secret in ("271828", "314159", "BEGIN SOLUTION", "solution.", "Greatest", "SEED"):
            assert secret not in text, (path.parent.name, secret)


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
    assert len(rows) == 1 + 2 + len(BAD) + 1 + len(ODD) + 2
    assert _results(graded, "not_python")["score"] == 0


def test_a_submission_has_one_time_budget_for_all_its_calls(tmp_path):
    submission(tmp_path / "solution")
    limits = Limits(submission_seconds=0.0)
    grade.grade([tmp_path / "solution"], tmp_path / "results", workers=1, limits=limits)
    results = _results(tmp_path / "results", "solution")
    assert results["score"] == 0 and all(
        "used all its 0 s" in t["output"] for t in results["tests"]
    )
