"""The conda environment stays equivalent to the locked uv environment, and the tools the README
names are the ones the lock installs."""

import os
import re
import subprocess
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CONDA_NAMES = {"pytorch": "torch"}  # conda-forge name -> PyPI name
PIN = re.compile(r"\s+- ([A-Za-z][\w.-]*)\s*==\s*([^\s#]+)")  # a pip line: "- name==version"


def _names(requirements):
    return {re.split(r"[<>=!~ \[;]", r, maxsplit=1)[0].lower() for r in requirements}


def _pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def _pins() -> dict[str, str]:
    """{name: version} of every `name==version` line of environment.yml."""
    lines = (REPO / "environment.yml").read_text().splitlines()
    return {m.group(1).lower(): m.group(2) for m in map(PIN.match, lines) if m}


def test_environment_yml_lists_every_dependency_of_pyproject():
    project = _pyproject()
    wanted = _names(project["project"]["dependencies"] + project["dependency-groups"]["dev"])
    listed = set()
    for line in (REPO / "environment.yml").read_text().splitlines():
        match = re.match(r"\s+- ([A-Za-z][\w.-]*)", line)
        if match:
            name = match.group(1).lower()
            listed.add(CONDA_NAMES.get(name, name))
    assert wanted <= listed, f"missing from environment.yml: {sorted(wanted - listed)}"


def test_environment_yml_pins_every_dependency_to_the_version_uv_lock_has():
    project = _pyproject()
    groups = project["dependency-groups"].values()
    wanted = _names(project["project"]["dependencies"] + [r for g in groups for r in g])
    lock = tomllib.loads((REPO / "uv.lock").read_text())
    locked = {package["name"]: package.get("version") for package in lock["package"]}
    pins = _pins()
    assert wanted <= set(pins), f"not pinned in environment.yml: {sorted(wanted - set(pins))}"
    differ = {
        name: f"environment.yml {version}, uv.lock {locked.get(name)}"
        for name, version in pins.items()
        if locked.get(name) != version
    }
    assert not differ, f"environment.yml and uv.lock disagree: {differ}"


def test_the_hf_cli_the_readme_names_is_installed_with_auth_login():
    hf = REPO / ".venv" / "bin" / "hf"
    if not (REPO / ".venv").is_dir():
        pytest.skip("no .venv: run make setup")
    assert hf.exists(), "the locked huggingface_hub installs no `hf` CLI: fix README and deepfloyd"
    out = subprocess.run(
        [str(hf), "auth", "login", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "NO_COLOR": "1"},
    )
    assert out.returncode == 0 and "hf auth login" in out.stdout, out.stdout + out.stderr
    readme = (REPO / "README.md").read_text()
    assert "hf auth login" in readme and "huggingface-cli" not in readme
