"""Every script's --help is safe: it prints its usage, exits 0, and writes nothing.

Each script runs in a copy of the repository (its own ROOT, and on PYTHONPATH), so a script that
does its work instead of printing help shows up as a changed or new file in the copy, without
touching the real checkout.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT_FOLDERS = ("scripts", "run", "benchmarks")
COPIED = ("agentverse", "agentverse_command", "dataloader", "scripts", "run", "benchmarks", "tests")
SKIPPED = shutil.ignore_patterns("__pycache__", "node_modules", "vendor", "*.pyc")


def is_script(path: Path) -> bool:
    """Python files, and shell files that start with a shebang (run/lib.sh is sourced, not run)."""
    if path.suffix == ".py":
        return path.name != "__init__.py"
    return path.suffix in (".sh", ".sbatch") and path.read_text(encoding="utf-8").startswith("#!")


SCRIPTS = sorted(
    str(path.relative_to(ROOT)) for folder in SCRIPT_FOLDERS for path in (ROOT / folder).rglob("*") if is_script(path)
)


@pytest.fixture(scope="module")
def repository_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    copy = tmp_path_factory.mktemp("repository")
    for name in COPIED:
        shutil.copytree(ROOT / name, copy / name, ignore=SKIPPED)
    return copy


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {
        str(path.relative_to(folder)): (path.stat().st_size, path.stat().st_mtime_ns)
        for path in folder.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }


def run_help(script: str, copy: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable if script.endswith(".py") else "bash", script, "--help"]
    home = copy / "home"
    home.mkdir(exist_ok=True)
    environment = {**os.environ, "PYTHONPATH": str(copy), "HOME": str(home), "PYTHONDONTWRITEBYTECODE": "1"}
    environment.pop("VIRTUAL_ENV", None)
    return subprocess.run(command, cwd=copy, env=environment, capture_output=True, text=True, timeout=120)


def test_every_script_is_covered() -> None:
    assert "scripts/make_task_configs.py" in SCRIPTS and "run/inference.sh" in SCRIPTS
    assert "run/slurm/serve.sbatch" in SCRIPTS and "run/lib.sh" not in SCRIPTS


@pytest.mark.parametrize("script", SCRIPTS)
def test_help_prints_usage_and_writes_nothing(script: str, repository_copy: Path) -> None:
    before = snapshot(repository_copy)
    done = run_help(script, repository_copy)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "usage" in done.stdout.lower(), done.stdout
    assert "Traceback" not in done.stderr
    after = snapshot(repository_copy)
    changed = sorted(name for name in after.keys() | before.keys() if after.get(name) != before.get(name))
    assert changed == [], f"{script} --help wrote {changed}"
