"""Write the student edition of the kit: every solution block stubbed, no instructor tooling.

    python -m instructor.release dist/student          # then zip it, or push it to a repo

Kept: helpers (stubbed), notebooks, public tests, assets (data and checkpoints), tools, set-up.
Left out: instructor/ (this tooling, hidden tests, grader), tests/instructor/, and everything
generated (.venv, data/, figures/, caches, .git).
Written for students from the templates in instructor/edition/: README.md (what to do first),
Makefile (no instructor targets; `make test` checks their functions, `make check FUNC=...` one),
tests/conftest.py (the table of their functions) and tests/student_functions.json (each
function's file, public tests and points, the points read from instructor/grading/).
The stubbed files pass `ruff check` and `ruff format --check`: a name that only the removed
solution used gets a `# noqa` that says the student's code will use it.
"""

import argparse
import ast
import json
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from instructor.markers import find_blocks, solution_lines, stub

REPO = Path(__file__).resolve().parent.parent
EDITION = Path(__file__).resolve().parent / "edition"  # the student edition's own files
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
LEFT_OUT_PATHS = {
    Path("tests") / "instructor",
    Path("tests") / "test_pretrained.py",  # the given networks against the solution's UNets
    Path("tests") / "browser",  # the kit's JupyterLab checks, which need every function written
}


def _ignore(root: Path):
    def ignore(directory: str, names: list[str]) -> set[str]:
        relative = Path(directory).relative_to(root)
        return {
            n
            for n in names
            if n in LEFT_OUT
            or relative / n in LEFT_OUT_PATHS
            or not (Path(directory, n).is_file() or Path(directory, n).is_dir())  # sockets
        }

    return ignore


def release(out: Path, root: Path = REPO) -> list[str]:
    """Write the student edition of the kit at root into out (which must not exist).

    Returns the solution lines that were removed (for the leak check).
    """
    if out.exists():
        raise FileExistsError(f"{out} exists; remove it or choose another folder")
    shutil.copytree(root, out, ignore=_ignore(root))
    removed, stubbed = [], []
    for path in sorted((out / "helpers").rglob("*.py")):
        source = path.read_text()
        if find_blocks(source, str(path)):
            removed += solution_lines(source, str(path))
            path.write_text(stub(source, str(path)))
            stubbed.append(path)
    lint_clean(stubbed, out)
    write_edition_files(out, root)
    return removed


def _ruff(*args: str, cwd: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "ruff", *args], cwd=cwd, capture_output=True, text=True
    )
    if done.returncode not in (0, 1):
        raise RuntimeError(f"ruff {' '.join(args)} failed: {done.stderr}")
    return done.stdout


def lint_clean(paths: list[Path], out: Path) -> None:
    """Make stubbed files pass ruff: `# noqa` where only the solution used a name, then format.

    A stub leaves the lines around the solution (`alpha_bar_t = gather(...)`, `import torch`)
    for the student's code to use; ruff would call them unused (F841, F401).
    """
    if not paths:
        return
    paths, out = [p.resolve() for p in paths], out.resolve()
    found = _ruff(
        "check", "--select", "F401,F841", "--output-format", "json", *map(str, paths), cwd=out
    )
    codes: dict[tuple[str, int], set[str]] = {}
    for finding in json.loads(found):
        where = (finding["filename"], finding["location"]["row"])
        codes.setdefault(where, set()).add(finding["code"])
    for filename in {f for f, _ in codes}:
        lines = Path(filename).read_text().splitlines(keepends=True)
        for (f, row), names in codes.items():
            if f == filename:
                noqa = f"  # noqa: {', '.join(sorted(names))} - for your code"
                lines[row - 1] = lines[row - 1].rstrip("\n") + noqa + "\n"
        Path(filename).write_text("".join(lines))
    _ruff("format", *map(str, paths), cwd=out)


def graded_points(grading: Path) -> dict[str, tuple[int, set[str]]]:
    """Each graded test (instructor/grading/*.py): its points, times its parametrized cases, and
    the student functions it calls (`student.forward(...)`, `student.module("UnconditionalUNet"`).
    """
    graded = {}
    for path in sorted(grading.glob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.FunctionDef):
                continue
            marks = {_mark(d): d for d in node.decorator_list if isinstance(d, ast.Call)}
            if "points" in marks:
                cases = 1
                for name, call in marks.items():
                    if name == "parametrize" and isinstance(call.args[1], ast.List | ast.Tuple):
                        cases *= len(call.args[1].elts)
                points = ast.literal_eval(marks["points"].args[0]) * cases
                graded[node.name] = (points, _student_calls(node))
    return graded


def _mark(decorator: ast.Call) -> str:
    return decorator.func.attr if isinstance(decorator.func, ast.Attribute) else ""


def _student_calls(test: ast.FunctionDef) -> set[str]:
    calls = set()
    for node in ast.walk(test):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            if isinstance(owner, ast.Name) and owner.id == "student":
                calls.add(node.func.attr)
                if node.func.attr == "module" and isinstance(node.args[0], ast.Constant):
                    calls.add(node.args[0].value)
    return calls


def student_functions(root: Path = REPO) -> list[dict]:
    """The functions students write (instructor/edition/functions.toml), with points and hint.

    A graded test's points go to the function it is named after (test_ddpm_step, test_class_
    conditional_unet), else to the last, in the course's order, of the functions it calls.
    """
    functions = tomllib.loads((EDITION / "functions.toml").read_text())["function"]
    order = {f["name"]: i for i, f in enumerate(functions)}
    by_key = {f["name"].lower().replace("_", ""): f for f in functions}
    for function in functions:
        function["points"] = 0
        function["hint"] = _first_doc_line(root / function["file"], function["name"])
    for test, (points, calls) in graded_points(root / "instructor" / "grading").items():
        owner = by_key.get(test.removeprefix("test_").replace("_", ""))
        if owner is None and calls & set(order):
            owner = functions[max(order[c] for c in calls if c in order)]
        if owner is None:
            raise ValueError(f"graded test {test} checks none of {', '.join(order)}")
        owner["points"] += points
    return functions


def _first_doc_line(path: Path, name: str) -> str:
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.FunctionDef | ast.ClassDef) and node.name == name:
            return (ast.get_docstring(node) or "").strip().splitlines()[0]
    raise ValueError(f"{path} has no function or class {name}")


def write_edition_files(out: Path, root: Path = REPO) -> None:
    """The student edition's README, Makefile, test table plugin and function list."""
    functions = student_functions(root)
    (out / "tests" / "student_functions.json").write_text(
        json.dumps({"functions": functions}, indent=1) + "\n"
    )
    shutil.copy(EDITION / "student_conftest.py", out / "tests" / "conftest.py")
    shutil.copy(EDITION / "Makefile", out / "Makefile")
    (out / "README.md").write_text(student_readme(functions, (root / "README.md").read_text()))


def student_readme(functions: list[dict], kit_readme: str) -> str:
    """The template's start for students, then the kit's tour without the instructors' part."""
    first = functions[0]
    table = [f"   {'your function':<22} {'file':<26} {'points':>6}  status"]
    table += [f"   {f['name']:<22} {f['file']:<26} {f['points']:>6}  TODO" for f in functions[:3]]
    table += ["   ..."]
    rows = [
        f"| `{f['name']}` | `{f['file']}` | {f['points']} | {f['hint'].replace('|', '&#124;')} |"
        for f in functions
    ]
    text = (EDITION / "README.md").read_text()
    for key, value in {
        "{first}": first["name"],
        "{first_file}": first["file"],
        "{table}": "\n".join(table),
        "{rows}": "\n".join(rows),
    }.items():
        text = text.replace(key, value)
    tour = kit_readme[kit_readme.index("## The tour") : kit_readme.index("## For instructors")]
    tour = "\n".join(line for line in tour.splitlines() if not line.startswith("instructor/"))
    return text + tour.rstrip() + "\n"


def stub_helpers(out: Path, root: Path = REPO) -> Path:
    """Only the stubbed helpers package, at out/helpers (the base a submission is laid over)."""
    shutil.copytree(root / "helpers", out / "helpers", ignore=shutil.ignore_patterns("__pycache__"))
    for path in (out / "helpers").rglob("*.py"):
        path.write_text(stub(path.read_text(), str(path)))
    return out / "helpers"


def fill_in(out: Path, written: list[str], root: Path = REPO) -> None:
    """Rewrite the edition's helpers at out with the solution of the student functions named in
    `written` (and the blocks they cover, such as a UNet's layers) and a TODO everywhere else."""
    keep = set(written)
    for function in student_functions(root):
        if function["name"] in keep:
            keep.update(function.get("covers", []))
    for path in sorted((root / "helpers").rglob("*.py")):
        source = path.read_text()
        if find_blocks(source, str(path)):
            target = out / path.relative_to(root)
            target.write_text(stub(source, str(target), keep=keep))


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
