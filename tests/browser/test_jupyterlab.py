"""End to end in a real browser: JupyterLab served on loopback, a notebook run in headless
Chromium (Debian's, driven by Playwright), its t slider moved, the image checked to change, and
a screenshot saved to figures/browser/ (CI installs chromium; elsewhere this skips)."""

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
playwright = pytest.importorskip("playwright.sync_api", reason="the browser group is not installed")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="needs Debian's chromium (apt-get install chromium)"
)
FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def lab(tmp_path):
    """JupyterLab on 127.0.0.1 serving a copy of the notebooks (nothing is saved into the kit)."""
    shutil.copytree(REPO / "notebooks", tmp_path / "notebooks")
    port, token = _free_port(), "kit-browser-test"
    env = {
        **os.environ,
        "KIT_PROFILE": "quick",
        "KIT_FIGURES": str(tmp_path / "figures"),
        "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", "--ip=127.0.0.1",
         f"--port={port}", f"--IdentityProvider.token={token}",
         f"--ServerApp.root_dir={tmp_path / 'notebooks'}"],
        env=env, stdout=subprocess.DEVNULL, stderr=open(tmp_path / "lab.log", "w"),
    )  # fmt: skip
    deadline = time.time() + 120
    while time.time() < deadline:
        if server.poll() is not None:
            pytest.fail(f"JupyterLab stopped:\n{(tmp_path / 'lab.log').read_text()[-3000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.5)
    yield f"http://127.0.0.1:{port}", token
    server.terminate()
    server.wait(30)


def test_a_student_runs_a_notebook_and_moves_the_timestep_slider(lab):
    url, token = lab
    shots = REPO / "figures" / "browser"
    shots.mkdir(parents=True, exist_ok=True)
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.goto(f"{url}/lab/tree/A2_forward_process.ipynb?token={token}", timeout=120_000)
        page.wait_for_selector(".jp-Notebook", timeout=120_000)
        slider = None
        for _ in range(4):  # a run sent while the kernel starts can stop early: send it again
            page.keyboard.press("Escape")
            for button in page.query_selector_all(".jp-Dialog .jp-mod-accept"):
                button.click()  # a dialog (a slow kernel's chooser, a server message) takes clicks
            page.click("text=Run", timeout=60_000)  # the Run menu
            page.click("text=Run All Cells", timeout=60_000)
            try:
                slider = page.wait_for_selector(
                    ".widget-slider .noUi-handle", state="attached", timeout=120_000
                )
                break
            except playwright.TimeoutError:
                continue
        if slider is None:
            page.screenshot(path=str(shots / "jupyterlab_failed.png"), full_page=True)
            pytest.fail(f"no slider after four runs of all cells; see {shots}")
        slider.scroll_into_view_if_needed()
        image = page.wait_for_selector(".widget-image", state="attached", timeout=60_000)
        before = image.get_attribute("src")
        slider.focus()
        for _ in range(25):
            page.keyboard.press("ArrowRight")  # t from 500 up to 525
        page.wait_for_function(
            "before => document.querySelector('.widget-image').getAttribute('src') !== before",
            arg=before,
            timeout=60_000,
        )
        label = page.inner_text(".widget-slider .widget-readout")
        if page.is_visible("button:has-text('No')"):
            page.click("button:has-text('No')")  # JupyterLab's news question
        image.scroll_into_view_if_needed()
        page.screenshot(path=str(shots / "jupyterlab_slider.png"))
        browser.close()
    assert int(label) > 500, f"the slider reads {label}"
