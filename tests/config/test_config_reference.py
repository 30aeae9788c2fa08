"""documentation/configuration.md is generated from the schema and must match it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_configuration_reference_is_up_to_date() -> None:
    finished = subprocess.run(
        [sys.executable, "scripts/make_config_reference.py", "--check"], cwd=ROOT, capture_output=True, text=True
    )
    assert finished.returncode == 0, finished.stderr
    text = (ROOT / "documentation" / "configuration.md").read_text()
    assert "| `honor_stop` | `bool` | `True` |" in text and "`vertical-solver-first`" in text
