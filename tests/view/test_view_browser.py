"""The viewer in a real browser (Debian's Chromium, headless, driven by Playwright): the runs, the
problem table and its filters, a problem's rounds, math, two runs side by side, a record appended
while the page is open, and the exported file opened from file:// with the network cut off."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agentverse.view.server import KATEX
from tests.view.conftest import INJECTION

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SCREENSHOTS = ROOT / ".cache" / "view"

try:
    import playwright.sync_api as playwright_api
except ImportError:
    playwright_api = None

if CHROMIUM is None or playwright_api is None or not (KATEX / "katex.min.js").exists():
    if os.environ.get("CI"):
        raise RuntimeError(
            "CI needs Chromium and the viewer's assets: bash scripts/setup_browser.sh, build_viewer_assets.sh"
        )
    pytest.skip("no Chromium or viewer assets here (scripts/setup_browser.sh)", allow_module_level=True)


@pytest.fixture(scope="module")
def folder(view_runs: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Both runs in a folder of their own (the live test appends to one)."""
    target = tmp_path_factory.mktemp("viewed") / "math500"
    for run_dir in view_runs:
        shutil.copytree(run_dir, target / run_dir.name, ignore=shutil.ignore_patterns(".lock", "records.index.json"))
    return target


@pytest.fixture(scope="module")
def viewer(folder: Path) -> Iterator[str]:
    command = [sys.executable, "-m", "agentverse_command.view", str(folder), "--port", "0"]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    match = re.search(r"http://127\.0\.0\.1:\d+/", line)
    assert match, f"the viewer did not start: {line!r} {process.stderr.read() if process.stderr else ''}"
    yield match.group(0)
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


class Page:
    """A browser page that remembers every console error and uncaught exception."""

    def __init__(self, browser: Any) -> None:
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", lambda message: message.type == "error" and self.errors.append(message.text))
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))

    def close(self) -> None:
        self.context.close()
        assert self.errors == []  # no console errors on any page


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    opened = Page(browser)
    yield opened.page
    opened.close()


def rows(page: Any) -> list[str]:
    return page.locator("#problems tbody tr").evaluate_all("(rows) => rows.map((row) => row.dataset.id)")


def test_the_runs_page_shows_each_run_with_its_score(page: Any, viewer: str, folder: Path) -> None:
    page.goto(viewer)
    page.wait_for_selector("#runs tbody tr[data-run]")
    text = page.locator("#runs").inner_text()
    summary = json.loads((folder / "run" / "summary.json").read_text())
    assert f"{summary['score']:.1f} ± {summary['standard_error']:.1f}" in text  # 50.0 ± 50.0
    assert "math500/run" in text and "math500/run-no-ceo" in text and "2 / 2" in text


def test_the_problem_table_lists_both_problems_and_filters_them(page: Any, viewer: str) -> None:
    page.goto(viewer + "#/run/r0")
    page.wait_for_selector("#problems tbody tr")
    assert sorted(rows(page)) == ["p1", "p2"]
    page.select_option("select[name=show]", "wrong")
    assert rows(page) == ["p2"]
    page.select_option("select[name=show]", "all")
    page.select_option("select[name=ceo]", "fallback")
    assert rows(page) == ["p2"]
    page.select_option("select[name=ceo]", "")
    page.fill("input[name=q]", "frac")  # text search over problems and answers
    assert rows(page) == ["p1"]
    page.fill("input[name=q]", "")
    page.click("th[data-sort=tokens]")
    page.click("th[data-sort=tokens]")  # descending
    tokens = page.locator("#problems tbody tr td:nth-child(7)").all_inner_texts()
    assert [int(value.replace(",", "")) for value in tokens] == sorted(
        (int(value.replace(",", "")) for value in tokens), reverse=True
    )


def test_the_problem_page_shows_rounds_decisions_verdicts_and_failures(page: Any, viewer: str) -> None:
    page.goto(viewer + "#/run/r0/p/p2")
    page.wait_for_selector("section.round")
    assert page.locator("section.round").count() == 2
    assert INJECTION in page.locator(".problem .card").first.inner_text()  # shown as text
    assert page.evaluate("window.injected") is None  # and never run
    plans = page.locator(".plan").all_inner_texts()
    assert len(plans) == 2 and "continue" in plans[0] and "Check each step." in plans[0]
    assert "clamped: asked 5000, used 256" in plans[0] and "fallback" in plans[1]
    assert "A mathematician specialized in algebra" in page.locator(".experts").first.inner_text()
    assert page.locator(".call[data-status=parse_error]").count() >= 1  # the CEO's unreadable replies
    assert "parse_error" in page.locator(".call[data-status=parse_error]").first.inner_text()
    assert "HTTP 500" in page.locator(".call.solver").first.locator(".attempts").text_content()  # (collapsed)
    assert "Advice: Recheck the sum." in page.locator(".evaluation").first.inner_text()
    page.goto(viewer + "#/run/r0/p/p1")
    page.wait_for_selector("section.round .plan")
    page.wait_for_function("document.querySelector('h1').textContent === 'p1'")
    verdicts = page.locator(".call.critic .badge.agree, .call.critic .badge.disagree").all_inner_texts()
    assert verdicts == ["disagree", "agree"]
    assert page.locator(".katex").count() >= 3  # the problem, the target and the answer as math
    assert page.locator(".final .katex").count() >= 2  # `$x = ...$` and the \boxed{} answer outside $
    assert not page.locator("details.thinking[open]").count()  # thinking collapsed by default
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "problem-page.png"), full_page=True)


def test_two_runs_side_by_side(page: Any, viewer: str) -> None:
    page.goto(viewer + "#/run/r0/p/p1")
    page.wait_for_selector("select[name=compare]")
    page.select_option("select[name=compare]", "r1")
    page.wait_for_selector(".columns .side .problem")
    sides = page.locator(".columns .side")
    assert sides.count() == 2
    assert "math500/run" in sides.nth(0).inner_text() and "math500/run-no-ceo" in sides.nth(1).inner_text()
    assert "no CEO" in sides.nth(1).inner_text() and "clamped" in sides.nth(0).inner_text()


def test_a_record_appended_while_the_page_is_open_appears(page: Any, viewer: str, folder: Path) -> None:
    page.goto(viewer + "#/run/r0")
    page.wait_for_selector("#problems tbody tr")
    page.fill("input[name=q]", "p")  # the user is typing a search when the record arrives
    records = folder / "run" / "records.jsonl"
    record = json.loads(records.read_text().splitlines()[0])
    record["sample"]["id"] = "p9"
    # As a run does: its slice names the problem first, its record comes when it is done.
    entries = json.loads((folder / "run" / "slice.json").read_text())
    (folder / "run" / "slice.json").write_text(json.dumps([*entries, {"id": "p9", "digest": record["sample_digest"]}]))
    with records.open("a") as handle:
        handle.write(json.dumps(record) + "\n")
    page.wait_for_selector("#problems tbody tr[data-id=p9]", timeout=10_000)
    assert sorted(rows(page)) == ["p1", "p2", "p9"]
    assert page.evaluate("[document.activeElement.name, document.activeElement.value]") == ["q", "p"]


def test_the_export_opens_from_a_file_with_no_network(
    browser: Any, view_runs: tuple[Path, Path], tmp_path: Path
) -> None:
    output = tmp_path / "report.html"
    command = [sys.executable, "-m", "agentverse_command.view", str(view_runs[0]), "--export", str(output)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    opened = Page(browser)
    fetched: list[str] = []

    def block(route: Any) -> None:
        if not route.request.url.startswith(("file:", "data:")):
            fetched.append(route.request.url)
            route.abort()
        else:
            route.continue_()

    opened.page.route("**/*", block)
    opened.page.goto(output.as_uri() + "#/run/r0/p/p1")
    opened.page.wait_for_selector("section.round")
    assert opened.page.locator("section.round").count() == 2
    assert opened.page.locator(".katex").count() >= 3
    assert "Advice: Recheck the sum." in opened.page.locator(".evaluation").first.inner_text()
    opened.page.goto(output.as_uri() + "#/run/r0")
    opened.page.wait_for_selector("#problems tbody tr")
    assert sorted(rows(opened.page)) == ["p1", "p2"]
    opened.page.goto(output.as_uri() + "#/run/r0/p/p2")  # the markup in p2 neither ran nor cut the data
    opened.page.wait_for_selector("section.round")
    assert INJECTION in opened.page.locator(".problem .card").first.inner_text()
    assert opened.page.evaluate("window.injected") is None
    assert fetched == []
    opened.close()
