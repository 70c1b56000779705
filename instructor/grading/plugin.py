"""A pytest plugin that grades one submission: a `student` fixture whose calls run in the
sandbox, and a collector that turns each graded test into a Gradescope test result.

Graded tests carry `@pytest.mark.points(n)` and optionally
`@pytest.mark.visibility("hidden" | "after_due_date" | "after_published" | "visible")`.
"""

import pytest

from instructor.sandbox import Sandbox, SandboxError, StudentError

OUTPUT_BYTES = 500  # per test, in the report


def _message(report) -> str:
    """A failure's first line, never the test's source or its values."""
    crash = getattr(report.longrepr, "reprcrash", None)
    text = crash.message if crash is not None else str(report.longrepr)
    first = text.strip().splitlines()[0] if text.strip() else "failed"
    for prefix in ("Failed: ", "AssertionError: "):
        first = first.removeprefix(prefix)
    if first.startswith("assert ") or first.startswith("AssertionError"):
        first = "wrong result"
    return first[:OUTPUT_BYTES]


def _module_of(name: str) -> str:
    """The helpers module that defines `name` in the course's package ("guidance" for cfg): the
    sandbox imports that module of the student's alone."""
    import helpers

    return getattr(helpers, name).__module__.removeprefix("helpers.")


class Student:
    """Calls into the student's helpers: student.forward(...), student.module(...)."""

    def __init__(self, sandbox: Sandbox):
        self._sandbox = sandbox

    def __getattr__(self, name: str):
        def call(*args, **kwargs):
            request = {"op": "call", "module": _module_of(name), "name": name}
            return self._request(request | {"args": list(args), "kwargs": kwargs})

        return call

    def with_model(self, name: str, model: dict, *args, **kwargs):
        """helpers.<name>(model, *args, **kwargs), model built from runner.analytic_model(spec)."""
        request = {"op": "with_model", "module": _module_of(name), "name": name, "model": model}
        return self._request(request | {"args": list(args), "kwargs": kwargs})

    def module(
        self, name: str, init: dict, inputs: list, train: bool = False, weights=None
    ) -> dict:
        """helpers.unet.<name>(**init) with the given weights (matched by structure), run on
        inputs: {"output": tensor, "parameter_shapes": [[...], ...]}."""
        request = {"op": "module", "name": name, "init": init, "inputs": inputs}
        return self._request(request | {"train": train, "weights": weights})

    def _request(self, request):
        try:
            reply = self._sandbox.call(request)
        except StudentError as error:
            kind, where = error.args[0], f" at {error.args[1]}" if error.args[1] else ""
            if " " in kind:  # the grader's own message about the student's network
                pytest.fail(f"your {request['name']}: {kind}{where}", pytrace=False)
            if kind == "NotImplementedError":
                pytest.fail(f"TODO: {request['name']} is not written yet{where}", pytrace=False)
            pytest.fail(f"your {request['name']} raised {kind}{where}", pytrace=False)
        except SandboxError as error:
            pytest.fail(f"calling your {request['name']}: {error}", pytrace=False)
        if request["op"] == "module" and not (
            isinstance(reply, dict) and {"output", "parameter_shapes"} <= set(reply)
        ):
            pytest.fail(f"your {request['name']} did not give an output", pytrace=False)
        return reply


class Grader:
    """Registered with pytest.main(plugins=[Grader(sandbox)]); `results` fills as tests run."""

    def __init__(self, sandbox: Sandbox):
        self.sandbox = sandbox
        self.results: list[dict] = []
        self._items: dict[str, dict] = {}

    @pytest.fixture
    def student(self) -> Student:
        return Student(self.sandbox)

    def pytest_configure(self, config):
        config.addinivalue_line("markers", "points(n): points a graded test is worth")
        config.addinivalue_line("markers", "visibility(v): Gradescope visibility of a graded test")

    def pytest_collection_modifyitems(self, items):
        for item in items:
            points = item.get_closest_marker("points")
            visibility = item.get_closest_marker("visibility")
            doc = (item.function.__doc__ or item.name).strip().splitlines()[0]
            case = f" [{item.callspec.id}]" if hasattr(item, "callspec") else ""
            self._items[item.nodeid] = {
                "name": doc + case,
                "max_score": float(points.args[0]) if points else 0.0,
                "visibility": visibility.args[0] if visibility else "visible",
            }

    def pytest_runtest_logreport(self, report):
        if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
            info = self._items[report.nodeid]
            passed = report.outcome == "passed"
            message = "" if passed else _message(report)
            self.results.append(
                {
                    **info,
                    "score": info["max_score"] if passed else 0.0,
                    "status": "passed" if passed else "failed",
                    "output": message,
                }
            )
