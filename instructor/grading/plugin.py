"""A pytest plugin that grades one submission: a `student` fixture whose calls run in the
sandbox, and a collector that turns each graded test into a Gradescope test result.

Graded tests carry `@pytest.mark.points(n)` and optionally
`@pytest.mark.visibility("hidden" | "after_due_date" | "after_published" | "visible")`.
"""

import pytest

from instructor.sandbox import Sandbox, SandboxError, StudentError

OUTPUT_BYTES = 2000  # per test, in the report


class Student:
    """Calls into the student's helpers: student.forward(...), student.module(...)."""

    def __init__(self, sandbox: Sandbox):
        self._sandbox = sandbox

    def __getattr__(self, name: str):
        def call(*args, **kwargs):
            return self._request({"op": "call", "name": name, "args": list(args), "kwargs": kwargs})

        return call

    def module(
        self, name: str, init: dict, inputs: list, seed: int = 0, train: bool = False
    ) -> dict:
        """helpers.unet.<name>(**init), built under seed, run on inputs: output, num_parameters."""
        request = {
            "op": "module",
            "name": name,
            "init": init,
            "inputs": inputs,
            "seed": seed,
            "train": train,
        }
        return self._request(request)

    def _request(self, request):
        try:
            return self._sandbox.call(request)
        except StudentError as error:
            message = f"your {request['name']} raised {error.args[0]}\n{error.args[1]}"
        except SandboxError as error:
            message = f"calling your {request['name']}: {error}"
        pytest.fail(message, pytrace=False)


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
            message = "" if passed else str(report.longrepr)[-OUTPUT_BYTES:]
            self.results.append(
                {
                    **info,
                    "score": info["max_score"] if passed else 0.0,
                    "status": "passed" if passed else "failed",
                    "output": message,
                }
            )
