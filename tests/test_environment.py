"""The conda environment stays equivalent to the locked uv environment."""

import re
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CONDA_NAMES = {"pytorch": "torch"}  # conda-forge name -> PyPI name


def _names(requirements):
    return {re.split(r"[<>=!~ ]", r, maxsplit=1)[0].lower() for r in requirements}


def test_environment_yml_lists_every_dependency_of_pyproject():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    wanted = _names(project["project"]["dependencies"] + project["dependency-groups"]["dev"])
    listed = set()
    for line in (REPO / "environment.yml").read_text().splitlines():
        match = re.match(r"\s+- ([A-Za-z][\w.-]*)", line)
        if match:
            name = match.group(1).lower()
            listed.add(CONDA_NAMES.get(name, name))
    assert wanted <= listed, f"missing from environment.yml: {sorted(wanted - listed)}"
