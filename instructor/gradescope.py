"""Gradescope: build the autograder zip, and the entry point Gradescope runs for a submission.

    python -m instructor.gradescope build dist/autograder.zip     # upload this to Gradescope
    python -m instructor.gradescope run                           # what run_autograder calls

The zip has setup.sh and run_autograder at its root, plus the kit's pinned environment
(pyproject.toml, uv.lock), the solution helpers (for expected values, never visible to student
code) and the grader. Gradescope unpacks it to /autograder/source, runs setup.sh once, then
run_autograder per submission: the submission is in /autograder/submission, the results go to
/autograder/results/results.json. AUTOGRADER_ROOT replaces /autograder for local runs.
"""

import argparse
import json
import os
import tempfile
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHIPPED = ["pyproject.toml", "uv.lock", "README.md", "helpers", "instructor"]
SETUP = """#!/usr/bin/env bash
# Run once by Gradescope while it builds the autograder image (Ubuntu, as root, with network).
# KIT_SETUP_NO_SYSTEM=1 skips the system packages and KIT_PYTHON names the interpreter: the
# kit's own test installs the zip this way, offline, into a clean folder.
set -euo pipefail
if [ -z "${KIT_SETUP_NO_SYSTEM:-}" ]; then
    apt-get update -q
    apt-get install -y -q bubblewrap python3 python3-venv python3-pip
    python3 -m pip install -q uv==0.13.9
fi
cd "$(dirname "$0")"
[ -f pyproject.toml ] || cd /autograder/source
export UV_PYTHON_DOWNLOADS=automatic
uv sync --locked --no-dev --group grading --python "${KIT_PYTHON:-3.11}"
"""
RUN = """#!/usr/bin/env bash
# Run by Gradescope for every submission.
set -euo pipefail
cd "${AUTOGRADER_ROOT:-/autograder}/source"
exec .venv/bin/python -m instructor.gradescope run
"""


def build(zip_path: Path) -> Path:
    """Write the autograder zip: setup.sh and run_autograder at the root, the kit beside them."""
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in (("setup.sh", SETUP), ("run_autograder", RUN)):
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = 0o755 << 16
            archive.writestr(info, text)
        for item in SHIPPED:
            path = REPO / item
            files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
            for file in files:
                if "__pycache__" not in file.parts:
                    archive.write(file, file.relative_to(REPO))
    return zip_path


def run() -> Path:
    """Grade /autograder/submission and write /autograder/results/results.json."""
    from instructor.grade import grade_one
    from instructor.release import stub_helpers
    from instructor.sandbox import Zygote

    root = Path(os.environ.get("AUTOGRADER_ROOT", "/autograder"))
    results_dir = root / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="gradescope-") as work:
        base = stub_helpers(Path(work) / "base")
        with Zygote(base) as zygote:
            results = grade_one(root / "submission", Path(work) / "out", base, zygote, "submission")
    target = results_dir / "results.json"
    target.write_text(json.dumps(results, indent=1) + "\n")
    print(f"score {results['score']}; wrote {target}")
    return target


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="what", required=True)
    sub.add_parser("build", help="write the autograder zip").add_argument("zip", type=Path)
    sub.add_parser("run", help="grade /autograder/submission (inside Gradescope)")
    args = parser.parse_args()
    if args.what == "build":
        print(f"wrote {build(args.zip)}")
    else:
        run()


if __name__ == "__main__":
    main()
