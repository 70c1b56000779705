"""How long grading a class takes: N copies of the solution, graded in parallel.

    python -m instructor.bench_grading 200
Prints the wall time, the time per submission and the peak memory of one grading process.
"""

import argparse
import resource
import shutil
import tempfile
import time
from pathlib import Path

from instructor.grade import grade

REPO = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("copies", type=int, nargs="?", default=200)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-grading-") as work:
        work = Path(work)
        for i in range(args.copies):
            shutil.copytree(REPO / "helpers", work / "subs" / f"student{i:03d}" / "helpers")
        start = time.perf_counter()
        gradebook = grade(sorted((work / "subs").iterdir()), work / "results", args.workers)
        seconds = time.perf_counter() - start
        rows = gradebook.read_text().splitlines()[1:]
        full = sum(1 for row in rows if row.split(",")[1] == row.split(",")[2])
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    each = seconds / args.copies
    print(f"{args.copies} submissions, {args.workers} workers: {seconds:.0f} s, {each:.1f} s each")
    print(f"full marks: {full} of {args.copies}; peak memory of one child process: {peak:.0f} MB")


if __name__ == "__main__":
    main()
