"""Recipe tests run real tools (vLLM, LLaMA-Factory) on CPU; select them with `-m recipe`."""

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "recipe: runs a real recipe tool on CPU (slow; needs its own venv)")
