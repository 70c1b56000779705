"""Write the student edition of the kit: every solution block stubbed, no instructor tooling.

    python -m instructor.release dist/student          # then zip it, or push it to a repo

Kept: helpers (stubbed), notebooks, public tests, assets (data and checkpoints), tools, set-up.
Left out: instructor/ (this tooling, hidden tests, grader), tests/instructor/, and everything
generated (.venv, data/, figures/, caches, .git).
"""

import argparse
import shutil
from pathlib import Path

from instructor.markers import find_blocks, solution_lines, stub

REPO = Path(__file__).resolve().parent.parent
LEFT_OUT = {
    "instructor",
    ".git",
    ".venv",
    ".tools",
    "data",
    "figures",
    "runs",
    "dist",
    "__pycache__",
    ".pytest_cache",
    ".ruff_cache",
    ".ipynb_checkpoints",
    ".ci",
}
LEFT_OUT_PATHS = {Path("tests") / "instructor"}


def _ignore(root: Path):
    def ignore(directory: str, names: list[str]) -> set[str]:
        relative = Path(directory).relative_to(root)
        return {n for n in names if n in LEFT_OUT or relative / n in LEFT_OUT_PATHS}

    return ignore


def release(out: Path, root: Path = REPO) -> list[str]:
    """Write the student edition of the kit at root into out (which must not exist).

    Returns the solution lines that were removed (for the leak check).
    """
    if out.exists():
        raise FileExistsError(f"{out} exists; remove it or choose another folder")
    shutil.copytree(root, out, ignore=_ignore(root))
    removed = []
    for path in sorted((out / "helpers").rglob("*.py")):
        source = path.read_text()
        if find_blocks(source, str(path)):
            removed += solution_lines(source, str(path))
            path.write_text(stub(source, str(path)))
    return removed


def stub_helpers(out: Path, root: Path = REPO) -> Path:
    """Only the stubbed helpers package, at out/helpers (the base a submission is laid over)."""
    shutil.copytree(root / "helpers", out / "helpers", ignore=shutil.ignore_patterns("__pycache__"))
    for path in (out / "helpers").rglob("*.py"):
        path.write_text(stub(path.read_text(), str(path)))
    return out / "helpers"


def leaks(out: Path, removed: list[str], root: Path = REPO) -> list[str]:
    """Solution lines still present anywhere in the edition at out, as 'file: line'.

    Lines that also occur outside the solution blocks of the original kit (e.g. `nn.GELU(),`
    in a test) are not secrets and are skipped.
    """
    public = set()
    for path in _text_files(root):
        text = path.read_text(errors="ignore")
        if path.suffix == ".py" and find_blocks(text, str(path)):
            text = stub(text, str(path))
        public.update(line.strip() for line in text.splitlines())
    secrets = {line for line in removed if line not in public}
    found = []
    for path in _text_files(out):
        for line in path.read_text(errors="ignore").splitlines():
            if line.strip() in secrets:
                found.append(f"{path.relative_to(out)}: {line.strip()}")
    return found


TEXT = {".py", ".ipynb", ".md", ".txt", ".toml", ".yml", ".json", ".sh", ".cfg"}


def _text_files(root: Path):
    for path in root.rglob("*"):
        skipped = set(path.relative_to(root).parts) & LEFT_OUT
        if path.is_file() and path.suffix in TEXT and not skipped:
            yield path


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("out", type=Path, help="folder to create")
    args = parser.parse_args()
    removed = release(args.out)
    found = leaks(args.out, removed)
    if found:
        raise SystemExit("solution lines leaked into the release:\n" + "\n".join(found))
    print(
        f"wrote the student edition to {args.out}:"
        f" {len(removed)} solution lines stubbed, none leaked"
    )


if __name__ == "__main__":
    main()
