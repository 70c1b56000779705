"""How long grading a class takes: N copies of the solution, graded in parallel.

    python -m instructor.bench_grading 200
Prints the wall time, the time per submission, the isolation that held, and the peak memory of
the whole grading process tree (workers, sandboxes and submissions together, sampled).
"""

import argparse
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

from instructor.grade import grade
from instructor.sandbox import isolation

REPO = Path(__file__).resolve().parent.parent


def _tree_memory(root: int) -> int:
    """Proportional set size (shared pages split among their users) of root and all its
    descendants, from /proc: resident sizes would count torch's shared pages once a process."""
    parents, pss = {}, {}
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{entry}/stat") as f:
                parents[int(entry)] = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/smaps_rollup") as f:
                line = next((line for line in f if line.startswith("Pss:")), "Pss: 0 kB")
            pss[int(entry)] = int(line.split()[1]) * 1024
        except (OSError, IndexError, ValueError):
            continue

    def inside(pid):
        while pid > 1:
            if pid == root:
                return True
            pid = parents.get(pid, 0)
        return False

    return sum(size for pid, size in pss.items() if inside(pid))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("copies", type=int, nargs="?", default=200)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    peak, done = [0], threading.Event()

    def sample():
        while not done.wait(0.5):
            peak[0] = max(peak[0], _tree_memory(os.getpid()))

    threading.Thread(target=sample, daemon=True).start()
    with tempfile.TemporaryDirectory(prefix="bench-grading-") as work:
        work = Path(work)
        for i in range(args.copies):
            shutil.copytree(REPO / "helpers", work / "subs" / f"student{i:03d}" / "helpers")
        start = time.perf_counter()
        gradebook = grade(sorted((work / "subs").iterdir()), work / "results", args.workers)
        seconds = time.perf_counter() - start
        rows = gradebook.read_text().splitlines()[1:]
        full = sum(1 for row in rows if row.split(",")[1] == row.split(",")[2])
    done.set()
    each = seconds / args.copies
    print(f"{args.copies} submissions, {args.workers} workers: {seconds:.0f} s, {each:.2f} s each")
    print(f"full marks: {full} of {args.copies}; peak memory of all grading processes together:")
    print(f"{peak[0] / 2**30:.1f} GB (proportional set size, sampled every 0.5 s)")
    print(f"isolation: {isolation()}")


if __name__ == "__main__":
    main()
