"""Grade submissions of the helpers: each in a sandbox, scored on the trusted side.

    python -m instructor.grade SUBMISSION --out results/     # helpers folder, .py file or .zip
    python -m instructor.grade --many SUBMISSIONS/ --out results/
                                                             # every entry of a folder, in parallel
Writes <out>/<name>/results.json in Gradescope's format for each submission and
<out>/gradebook.csv for the class. A submission is data: its .py files are read (never followed
through a link, never run here) and laid over the stubbed helpers of the student edition, so
files it does not contain count as unwritten, never as the solution.
"""

import argparse
import csv
import functools
import json
import os
import re
import stat
import tempfile
import time
import zipfile
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.util import Finalize
from pathlib import Path

import pytest

from instructor.grading.plugin import Grader
from instructor.release import stub_helpers
from instructor.sandbox import Limits, Sandbox, Zygote, isolation

GRADING_TESTS = Path(__file__).resolve().parent / "grading"
GIVEN = "pretrained.py"  # the given networks: graded code may not borrow them
GIVEN_WHILE_GRADING = '''"""The given networks are not available to graded code."""


def _unavailable(*args, **kwargs):
    raise RuntimeError("helpers.pretrained is not available while grading: write your own")


PretrainedUNet = PretrainedTimeUNet = PretrainedClassUNet = _unavailable
cosine_alphas_cumprod = _unavailable
'''
MAX_FILES, MAX_FILE_BYTES, MAX_TOTAL_BYTES = 200, 1 << 20, 8 << 20  # what a submission may hold
MAX_ZIP_ENTRIES, MAX_ZIP_BYTES = 2000, 64 << 20
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class SubmissionError(ValueError):
    """A submission that cannot be taken (a link, a device, too large, no Python file)."""


def _read_file(path: Path, refused: list[str]) -> bytes | None:
    """A regular file's bytes, opened without following links; None (and a reason) otherwise."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as error:
        refused.append(f"{path.name}: {error.strerror.lower()} (links are not taken)")
        return None
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):
            refused.append(f"{path.name}: not a regular file")
        elif info.st_nlink > 1:
            refused.append(f"{path.name}: a hard link")
        elif info.st_size > MAX_FILE_BYTES:
            refused.append(f"{path.name}: over {MAX_FILE_BYTES >> 10} KB")
        else:
            return f.read(MAX_FILE_BYTES + 1)[:MAX_FILE_BYTES]
    return None


def _from_folder(folder: Path, refused: list[str]) -> dict[str, bytes]:
    """The .py files under a folder, walked without following links."""
    found, stack = {}, [(folder, Path())]
    while stack:
        here, relative = stack.pop()
        if len(relative.parts) > 6:
            raise SubmissionError(f"folders nested deeper than 6 levels at {relative}")
        with os.scandir(here) as entries:
            for entry in entries:
                name = relative / entry.name
                if entry.is_symlink():
                    refused.append(f"{name}: a symbolic link (links are not taken)")
                elif entry.is_dir(follow_symlinks=False):
                    if NAME.fullmatch(entry.name):
                        stack.append((Path(entry.path), name))
                elif entry.name.endswith(".py") and NAME.fullmatch(entry.name[:-3]):
                    if len(found) >= MAX_FILES:
                        raise SubmissionError(f"more than {MAX_FILES} Python files")
                    data = _read_file(Path(entry.path), refused)
                    if data is not None:
                        found[str(name)] = data
    return found


def _from_zip(path: Path, refused: list[str]) -> dict[str, bytes]:
    """The .py files of a zip, checked before anything is extracted (never to disk)."""
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
        if len(infos) > MAX_ZIP_ENTRIES:
            raise SubmissionError(f"the zip has more than {MAX_ZIP_ENTRIES} entries")
        if sum(i.file_size for i in infos) > MAX_ZIP_BYTES:
            raise SubmissionError(f"the zip unpacks to more than {MAX_ZIP_BYTES >> 20} MB")
        found = {}
        for info in infos:
            kind = stat.S_IFMT(info.external_attr >> 16)
            parts = Path(info.filename).parts
            if info.filename.startswith("/") or ".." in parts:
                raise SubmissionError(f"unsafe path in the zip: {info.filename}")
            if kind and kind not in (stat.S_IFREG, stat.S_IFDIR):
                refused.append(f"{info.filename}: not a regular file (links are not taken)")
            elif not info.is_dir() and info.filename.endswith(".py"):
                if not all(NAME.fullmatch(p) for p in (*parts[:-1], parts[-1][:-3])):
                    continue
                if info.file_size > MAX_FILE_BYTES:
                    refused.append(f"{info.filename}: over {MAX_FILE_BYTES >> 10} KB")
                    continue
                with archive.open(info) as member:  # read with a bound: sizes can lie
                    found[info.filename] = member.read(MAX_FILE_BYTES + 1)[:MAX_FILE_BYTES]
    return found


def lay_out(submission: Path, base: Path) -> tuple[dict[str, str], list[str]]:
    """{path under helpers/: source}: base helpers with the submission's .py files over them,
    and a line for each entry that was refused."""
    refused: list[str] = []
    if submission.is_symlink():
        raise SubmissionError("the submission is a symbolic link (links are not taken)")
    if submission.suffix == ".zip" and submission.is_file():
        found = _from_zip(submission, refused)
    elif submission.suffix == ".py" and submission.is_file():
        data = _read_file(submission, refused)
        found = {submission.name: data} if data is not None else {}
    elif submission.is_dir():
        found = _from_folder(submission, refused)
    else:
        raise SubmissionError("not a helpers folder, a .py file or a .zip")
    inner = [name for name in found if "helpers" in Path(name).parts[:-1]]
    if inner:  # take the files under the (first) helpers folder
        prefix = Path(min(inner, key=len)).parts
        prefix = prefix[: prefix.index("helpers") + 1]
        found = {
            str(Path(*Path(n).parts[len(prefix) :])): d
            for n, d in found.items()
            if Path(n).parts[: len(prefix)] == prefix
        }
    if sum(len(d) for d in found.values()) > MAX_TOTAL_BYTES:
        raise SubmissionError(f"the Python files hold more than {MAX_TOTAL_BYTES >> 20} MB")
    if not found:
        raise SubmissionError("no Python file of the helpers package taken; " + "; ".join(refused))
    files = dict(_base_files(base))
    for name, data in found.items():
        try:
            files[name] = data.decode()
        except UnicodeDecodeError:
            refused.append(f"{name}: not UTF-8 text")
    if GIVEN in files:
        files[GIVEN] = GIVEN_WHILE_GRADING
    return files, refused


@functools.cache
def _base_files(base: Path) -> dict[str, str]:
    """The stubbed helpers' sources, read once a worker (they are the same for everyone)."""
    return {str(p.relative_to(base)): p.read_text() for p in base.rglob("*.py")}


def grade_one(submission: Path, out: Path, base: Path, zygote: Zygote, name: str = "") -> dict:
    """Grade one submission in the zygote's sandbox; write and return its Gradescope results."""
    start = time.perf_counter()
    try:
        files, refused = lay_out(submission, base)
    except (SubmissionError, zipfile.BadZipFile, OSError) as error:
        results = {"score": 0.0, "output": f"could not read the submission: {error}", "tests": []}
        return _write(results, out, name or submission.stem)
    sandbox = Sandbox(zygote, files)
    grader = Grader(sandbox)
    args = [str(GRADING_TESTS), "-p", "no:cacheprovider", "-p", "no:terminal", "-o", "addopts="]
    try:
        pytest.main(args, plugins=[grader])
    finally:
        printed = sandbox.output()
    tests = grader.results
    output = f"Graded in {time.perf_counter() - start:.0f} s; isolation: {isolation()}."
    if refused:
        output += "\nNot taken from your submission:\n" + "\n".join(refused[:20])
    if printed:
        tests.append(
            {
                "name": "What your code printed (shown after the due date)",
                "score": 0.0,
                "max_score": 0.0,
                "status": "passed",
                "output": printed,
                "visibility": "after_due_date",
            }
        )
    results = {
        "score": sum(t["score"] for t in tests),
        "output": output,
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
    }
    return _write(results, out, name or submission.stem)


def _write(results: dict, out: Path, name: str) -> dict:
    folder = out / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    return results


def result_names(submissions: list[Path]) -> list[str]:
    """A distinct, safe folder name for each submission (never one of the grader's outputs)."""
    names, taken = [], {"gradebook.csv"}
    for submission in submissions:
        stem = re.sub(r"[^A-Za-z0-9._-]", "_", submission.stem)[:80].lstrip(".") or "submission"
        name, n = stem, 2
        while name.lower() in taken:
            name, n = f"{stem}-{n}", n + 1
        taken.add(name.lower())
        names.append(name)
    return names


WORKER: dict = {}  # the grading worker's stubbed base and zygote, made once per process


def _start_worker(base: Path, limits: Limits | None) -> None:
    import torch

    torch.set_num_threads(1)  # one worker a core
    WORKER["base"], WORKER["zygote"] = base, Zygote(base, limits)
    WORKER["zygote"].start()
    Finalize(WORKER["zygote"], WORKER["zygote"].close, exitpriority=10)  # its cgroup too


def _grade_in_worker(submission: Path, out: Path, name: str) -> dict:
    try:
        return grade_one(submission, out, WORKER["base"], WORKER["zygote"], name)
    except Exception as error:  # noqa: BLE001 - one submission never stops the batch
        results = {"score": 0.0, "output": f"grading failed: {type(error).__name__}", "tests": []}
        return _write(results, out, name)


def grade(
    submissions: list[Path], out: Path, workers: int = 2, limits: Limits | None = None
) -> Path:
    """Grade every submission (workers in parallel); write results and the CSV gradebook.

    A worker that dies is replaced and its submission graded once more; a second death
    scores that submission 0 with a note. The gradebook is always written.
    """
    out.mkdir(parents=True, exist_ok=True)
    names = result_names(submissions)
    done: dict[int, dict] = {}
    tries = dict.fromkeys(range(len(submissions)), 0)
    with tempfile.TemporaryDirectory(prefix="grade-base-") as work:
        base = stub_helpers(Path(work))
        while len(done) < len(submissions):
            _grade_pending(submissions, out, names, done, tries, base, workers, limits)
    return _gradebook(out, names, [done[i] for i in range(len(submissions))])


def _grade_pending(submissions, out, names, done, tries, base, workers, limits) -> None:
    pending = [i for i in range(len(submissions)) if i not in done]
    with ProcessPoolExecutor(workers, initializer=_start_worker, initargs=(base, limits)) as pool:
        futures = {i: pool.submit(_grade_in_worker, submissions[i], out, names[i]) for i in pending}
        for i, future in futures.items():
            try:
                done[i] = future.result()
            except BrokenProcessPool:
                tries[i] += 1
                if tries[i] >= 2:
                    note = "the grader's worker died twice on this submission"
                    done[i] = _write({"score": 0.0, "output": note, "tests": []}, out, names[i])
    return _gradebook(out, names, [done[i] for i in range(len(submissions))])


def _gradebook(out: Path, names: list[str], done: list[dict]) -> Path:
    tests = sorted({t["name"] for r in done for t in r["tests"] if t["max_score"]})
    gradebook = out / "gradebook.csv"
    with open(gradebook, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["submission", "score", "max_score", *tests])
        for name, results in sorted(zip(names, done, strict=True)):
            scores = {t["name"]: t["score"] for t in results["tests"]}
            max_score = sum(t["max_score"] for t in results["tests"])
            safe = "'" + name if name[0] in "=+-@" else name  # no formulas in a spreadsheet
            writer.writerow(
                [safe, results["score"], max_score, *(scores.get(n, "") for n in tests)]
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
