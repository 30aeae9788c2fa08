"""The viewer on a large run: time to first paint of the problem table and the server's memory.

Makes a run directory of `--problems` problems (the 13-call two-round dialogue against the fake
server, each reply padded with `--pad-words` words of thought, so records are tens of KB each),
starts `agentverse-view` on it, builds the index once (timed), then in headless Chromium opens the
problem table (time from navigation to the first row painted, with the index cached) and browses
`--pages` problem pages; prints the server's resident memory (VmRSS, and its peak VmHWM).

    python benchmarks/bench_viewer.py [--problems 1000] [--pad-words 300] [--pages 20]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agentverse.testing.fake_server import BackgroundServer, FakeReply, two_round_dialogue  # noqa: E402
from agentverse_command.benchmark import main as benchmark_main  # noqa: E402


def make_run(folder: Path, problems: int, pad_words: int) -> Path:
    data = folder / "problems.jsonl"
    lines = [
        json.dumps(
            {"id": f"q{index:04d}", "input": f"Problem {index}: what is $\\frac{{{index}}}{{2}}$?", "target": "42"}
        )
        for index in range(problems)
    ]
    data.write_text("\n".join(lines) + "\n")
    filler = " ".join(["thinking"] * pad_words)

    def responder(payload: dict[str, object]) -> FakeReply:
        return FakeReply(f"{filler}\n{two_round_dialogue(payload).text}")  # type: ignore[arg-type]

    run_dir = folder / "math500" / "run-1"
    with BackgroundServer(responder) as server:
        args = ["--task", "tasksolving/math500/smollm2", "--data", str(data), "--run-dir", str(run_dir)]
        args += ["--base-url", server.base_url, "--model", "fake", "--no-thinking", "--no-progress"]
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            assert benchmark_main([*args, "--concurrency", "64"]) == 0
    return run_dir


def memory_kb(pid: int) -> tuple[int, int]:
    status = Path(f"/proc/{pid}/status").read_text()
    values = {key: int(re.search(rf"{key}:\s+(\d+)", status).group(1)) for key in ("VmRSS", "VmHWM")}  # type: ignore[union-attr]
    return values["VmRSS"], values["VmHWM"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--problems", type=int, default=1000)
    parser.add_argument("--pad-words", type=int, default=300)
    parser.add_argument("--pages", type=int, default=20)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium")
    if chromium is None:
        raise SystemExit("needs Debian's chromium: bash scripts/setup_browser.sh")
    with tempfile.TemporaryDirectory() as scratch:
        started = time.perf_counter()
        run_dir = make_run(Path(scratch), args.problems, args.pad_words)
        size = (run_dir / "records.jsonl").stat().st_size
        made = time.perf_counter() - started
        print(f"run: {args.problems} problems, records.jsonl {size / 1e6:.1f} MB, made in {made:.1f} s")
        command = [sys.executable, "-m", "agentverse_command.view", str(run_dir.parent), "--port", "0"]
        viewer = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        try:
            assert viewer.stdout is not None
            url = re.search(r"http://\S+/", viewer.stdout.readline()).group(0)  # type: ignore[union-attr]
            print(f"viewer started: RSS {memory_kb(viewer.pid)[0] / 1024:.0f} MB")
            started = time.perf_counter()
            urllib.request.urlopen(url + "api/runs").read()
            print(f"index built once: {time.perf_counter() - started:.2f} s (cached beside the records)")
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
                page = browser.new_page()
                paints = []
                for _ in range(3):
                    page.goto("about:blank")
                    page.goto(url + "#/run/r0")
                    page.wait_for_selector("#problems tbody tr")
                    paints.append(page.evaluate("performance.now()") / 1000)
                rows = page.locator("#problems tbody tr").count()
                print(f"problem table, first paint: {', '.join(f'{value:.2f}' for value in paints)} s ({rows} rows)")
                for index in range(args.pages):
                    page.goto(url + f"#/run/r0/p/q{index * (args.problems // args.pages):04d}")
                    page.wait_for_selector("section.round")
                rss, peak = memory_kb(viewer.pid)
                print(f"after {args.pages} problem pages: server RSS {rss / 1024:.0f} MB (peak {peak / 1024:.0f} MB)")
                browser.close()
        finally:
            viewer.terminate()
            viewer.wait(timeout=10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
