"""Grade submissions of the helpers: each in a sandbox, scored on the trusted side.

    python -m instructor.grade SUBMISSION --out results/     # helpers folder, .py file or .zip
    python -m instructor.grade --many SUBMISSIONS/ --out results/
                                                             # every entry of a folder, in parallel
Writes <out>/<name>/results.json in Gradescope's format for each submission and
<out>/gradebook.csv for the class. A submission is laid over the stubbed helpers of the student
edition, so files it does not contain count as unwritten, never as the solution.
"""

import argparse
import csv
import json
import shutil
import tempfile
import time
import zipfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from instructor.grading.plugin import Grader
from instructor.release import stub_helpers
from instructor.sandbox import Limits, Sandbox, isolation

GRADING_TESTS = Path(__file__).resolve().parent / "grading"


class SubmissionError(ValueError):
    """A submission that cannot be laid out (an unsafe zip, no Python files)."""


def lay_out(submission: Path, base: Path, work: Path) -> Path:
    """The tree the sandbox sees: base helpers with the submission's .py files over them."""
    tree = work / "tree"
    shutil.copytree(base, tree / "helpers")
    if submission.suffix == ".zip":
        unpacked = work / "unzipped"
        with zipfile.ZipFile(submission) as archive:
            for name in archive.namelist():
                if name.startswith("/") or ".." in Path(name).parts:
                    raise SubmissionError(f"unsafe path in the zip: {name}")
            archive.extractall(unpacked)
        inner = [p for p in unpacked.rglob("helpers") if p.is_dir()]
        submission = inner[0] if inner else unpacked
    if submission.is_file():
        files = [(submission, Path(submission.name))] if submission.suffix == ".py" else []
    else:
        folder = submission / "helpers" if (submission / "helpers").is_dir() else submission
        found = [p for p in folder.rglob("*.py") if "__pycache__" not in p.parts]
        files = [(p, p.relative_to(folder)) for p in found]
    if not files:
        raise SubmissionError(f"{submission} holds no Python file of the helpers package")
    for source, relative in files:
        target = tree / "helpers" / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    return tree


def grade_one(submission: Path, out: Path, base: Path, limits: Limits | None = None) -> dict:
    """Grade one submission; write and return its Gradescope results."""
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="grade-") as work:
        work = Path(work)
        try:
            tree = lay_out(submission, base, work)
        except (SubmissionError, zipfile.BadZipFile, OSError) as error:
            results = {
                "score": 0.0,
                "output": f"could not read the submission: {error}",
                "tests": [],
            }
            return _write(results, out, submission)
        sandbox = Sandbox(tree, work / "scratch", limits)
        grader = Grader(sandbox)
        args = [str(GRADING_TESTS), "-p", "no:cacheprovider", "-p", "no:terminal", "-o", "addopts="]
        try:
            pytest.main(args, plugins=[grader])
        finally:
            sandbox.close()
        printed = sandbox.output()
    tests = grader.results
    output = f"Graded in {time.perf_counter() - start:.0f} s; isolation: {isolation()}."
    if printed:
        output += f"\nWhat your code printed (cut to {sandbox.limits.log_bytes} bytes):\n{printed}"
    results = {
        "score": sum(t["score"] for t in tests),
        "output": output,
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
    }
    return _write(results, out, submission)


def _write(results: dict, out: Path, submission: Path) -> dict:
    folder = out / submission.stem
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    return results


def _grade_many(submissions: list[Path], out: Path, limits: Limits | None) -> list[dict]:
    with tempfile.TemporaryDirectory(prefix="grade-base-") as base:
        helpers = stub_helpers(Path(base))
        return [grade_one(s, out, helpers, limits) for s in submissions]


def grade(
    submissions: list[Path], out: Path, workers: int = 2, limits: Limits | None = None
) -> Path:
    """Grade every submission (workers in parallel); write results and the CSV gradebook."""
    out.mkdir(parents=True, exist_ok=True)
    chunks = [submissions[i::workers] for i in range(workers) if submissions[i::workers]]
    with ProcessPoolExecutor(len(chunks)) as pool:
        done = [
            r
            for chunk_results in pool.map(
                _grade_many, chunks, [out] * len(chunks), [limits] * len(chunks)
            )
            for r in chunk_results
        ]
    ordered = [s for chunk in chunks for s in chunk]
    names = sorted({t["name"] for r in done for t in r["tests"]})
    gradebook = out / "gradebook.csv"
    with open(gradebook, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["submission", "score", "max_score", *names])
        for submission, results in sorted(zip(ordered, done, strict=True), key=lambda p: p[0].name):
            scores = {t["name"]: t["score"] for t in results["tests"]}
            max_score = sum(t["max_score"] for t in results["tests"])
            writer.writerow(
                [submission.stem, results["score"], max_score, *(scores.get(n, "") for n in names)]
            )
    return gradebook


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("submission", nargs="?", type=Path)
    parser.add_argument("--many", type=Path, help="a folder whose every entry is one submission")
    parser.add_argument("--out", type=Path, default=Path("results"))
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    if (args.submission is None) == (args.many is None):
        parser.error("give one SUBMISSION or --many FOLDER")
    submissions = sorted(args.many.iterdir()) if args.many else [args.submission]
    print(f"grading {len(submissions)} submission(s); isolation: {isolation()}")
    gradebook = grade(submissions, args.out, min(args.workers, len(submissions)))
    print(f"wrote {args.out}/<submission>/results.json and {gradebook}")


if __name__ == "__main__":
    main()
