"""Your functions at a glance: `make test` runs the public tests of every function you write and
ends with a table (passing, failing with the first message, or TODO); `make check FUNC=forward`
runs one function's tests. tests/student_functions.json lists the functions, their files, their
tests and their points.

A test that stops at a `raise NotImplementedError("TODO: ...")` counts as TODO, not as a failure,
so an unfinished kit still passes: fill the functions in, one after another.
"""

import json
import re
from pathlib import Path

import pytest

FUNCTIONS = json.loads((Path(__file__).parent / "student_functions.json").read_text())["functions"]
TODO = re.compile(r"TODO: write (\w+)")


def pytest_addoption(parser):
    group = parser.getgroup("student functions")
    group.addoption("--functions", action="store_true", help="run only your functions' tests")
    group.addoption("--function", default=None, help="run only this function's tests, e.g. cfg")


def pytest_configure(config):
    _chosen(config)  # an unknown --function stops here, with the list of yours


def _chosen(config) -> list[dict]:
    """The functions whose tests this run is limited to (empty: no limit)."""
    name = config.getoption("--function")
    if name is None:
        return FUNCTIONS if config.getoption("--functions") else []
    chosen = [f for f in FUNCTIONS if name in (f["name"], *f.get("covers", []))]
    if not chosen:
        known = ", ".join(f["name"] for f in FUNCTIONS)
        raise pytest.UsageError(f"no function {name!r}; yours are: {known}")
    return chosen


def _owner(name: str) -> str:
    """The function a check or TODO of `name` (Conv, ddpm_step) belongs to."""
    return next((f["name"] for f in FUNCTIONS if name in (f["name"], *f.get("covers", []))), name)


def pytest_ignore_collect(collection_path, config):
    """Limited to some functions, pytest does not even import the other test files."""
    chosen = _chosen(config)
    if not chosen or collection_path == config.rootpath:
        return None
    files = {t.split("::")[0] for f in chosen for t in f["tests"]}
    relative = collection_path.relative_to(config.rootpath).as_posix()
    if collection_path.is_dir():
        return not any(f.startswith(relative + "/") for f in files) or None
    return relative not in files or None


def pytest_collection_modifyitems(config, items):
    chosen = _chosen(config)
    if chosen:
        keep = [i for i in items if any(i.nodeid.startswith(t) for f in chosen for t in f["tests"])]
        config.hook.pytest_deselected(items=[i for i in items if i not in keep])
        items[:] = keep


def _todo(excinfo) -> str | None:
    """The function named by a TODO error, if that is what stopped the test."""
    if excinfo is not None and excinfo.errisinstance(NotImplementedError):
        match = TODO.search(str(excinfo.value))
        return _owner(match.group(1).split(".")[0]) if match else None
    return None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    name = _todo(call.excinfo)
    if name and report.failed:  # unwritten, not wrong: a skip that names the function
        report.outcome = "skipped"
        report.longrepr = (str(item.path), item.location[1] or 0, f"TODO: {name}")
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector):
    report = yield
    match = TODO.search(str(report.longrepr)) if report.failed else None
    if match:  # a test file whose module-level set-up needs an unwritten function
        report.outcome = "skipped"
        name = _owner(match.group(1).split(".")[0])
        report.longrepr = (str(collector.path), 0, f"TODO: {name}")
    return report


def pytest_sessionfinish(session, exitstatus):
    """A function whose test file waits for another TODO has no tests yet: not an error."""
    if exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED and _chosen(session.config):
        session.exitstatus = pytest.ExitCode.OK


def pytest_terminal_summary(terminalreporter, config):
    chosen = _chosen(config)
    if not chosen:
        return
    results = {}  # nodeid -> ("passed" | "failed" | "TODO", message)
    for outcome in ("passed", "failed", "skipped", "error"):
        for report in terminalreporter.stats.get(outcome, []):
            nodeid = getattr(report, "nodeid", "")
            if report.skipped and "TODO: " in str(report.longrepr):
                results[nodeid] = ("TODO", str(report.longrepr[2]).removeprefix("TODO: "))
            elif report.failed:
                results.setdefault(nodeid, ("failed", _first_message(report)))
            elif report.passed and report.when == "call":
                results.setdefault(nodeid, ("passed", ""))
    rows = [(f, _status(f, results)) for f in chosen]
    write = terminalreporter.write_line
    write("")
    write(f"{'your function':<22} {'file':<26} {'points':>6}  status")
    write(f"{'-' * 22} {'-' * 26} {'-' * 6}  {'-' * 40}")
    for function, status in rows:
        write(f"{function['name']:<22} {function['file']:<26} {function['points']:>6}  {status}")
    passing = [f for f, status in rows if status == "passing"]
    write(
        f"{len(passing)} of {len(rows)} pass their public tests, worth"
        f" {sum(f['points'] for f in passing)} of {sum(f['points'] for f, _ in rows)} points"
        " if the graders' hidden tests agree"
    )


def _status(function: dict, results: dict) -> str:
    """passing, failing: <first message>, TODO, or TODO (needs <the function it waits for>)."""
    mine = {k: v for k, v in results.items() if any(k.startswith(t) for t in function["tests"])}
    files = {t.split("::")[0] for t in function["tests"]}
    mine.update({k: v for k, v in results.items() if k in files})  # a file that stopped early
    failed = [message for state, message in mine.values() if state == "failed"]
    if failed:
        return f"failing: {failed[0]}"
    waiting = [message for state, message in mine.values() if state == "TODO"]
    if function["name"] in waiting:
        return "TODO"
    if waiting:
        return f"TODO (needs {waiting[0]} first)"
    return "passing" if mine else "not run"


def _first_message(report) -> str:
    """The first line of what went wrong, e.g. the assertion's message, cut to 70 characters;
    for a test file that could not import helpers, the file and line of yours that stopped it."""
    crash = getattr(report.longrepr, "reprcrash", None)
    text = crash.message if crash else str(report.longrepr)
    line = next((s.strip() for s in text.splitlines() if s.strip()), "failed")
    if isinstance(report, pytest.CollectReport):
        line = _import_failure(str(report.longrepr)) or line
    return line if len(line) <= 70 else line[:67] + "..."


def _import_failure(text: str) -> str | None:
    """From the text of a collection error, where in helpers/ it stopped: 'helpers/guidance.py:17
    does not import: SyntaxError: invalid syntax' (a file of yours that did not import), or
    'IndexError: ... at helpers/schedule.py:12' (a function the test file calls as it loads).
    None if no file of helpers/ is named in it."""
    errors = re.findall(r"^E\s+(\w+(?:Error|Exception)\b.*)$", text, re.MULTILINE)
    syntax = re.findall(r'File "(?:[^"]*/)?(helpers/\w+\.py)", line (\d+)', text)
    frames = re.findall(r"(?:^|[\s/])(helpers/\w+\.py):(\d+): in (\S+)", text, re.MULTILINE)
    if not errors or not (syntax or frames):
        return None
    error = errors[-1].strip()
    if syntax:
        return f"{syntax[-1][0]}:{syntax[-1][1]} does not import: {error}"
    file, line, _ = frames[-1]
    if any(function == "<module>" for *_, function in frames):
        return f"{file}:{line} does not import: {error}"
    return f"{error} at {file}:{line}"
