"""Shared fixtures: a real fake OpenAI-compatible server and configs pointed at it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agentverse.config.loader import TASKS_ROOT, load_task_config
from agentverse.config.schema import TaskConfig


def fake_config(task: str, base_urls: list[str], **overrides: Any) -> TaskConfig:
    """A shipped config re-pointed at fake servers (no thinking, fast retries, big context)."""
    settings = {
        "llm.backend": "openai",
        "llm.model": "fake-model",
        "llm.base_urls": base_urls,
        "llm.thinking": False,
        "llm.retry_backoff_s": 0.01,
        "llm.context_length": 1_000_000,
        "llm.max_concurrency": 64,
        "environment.rule.decision_maker.max_inner_turns": 3,  # the paper's inner loop
        **overrides,
    }
    config, _ = load_task_config(task, settings)
    return config


def edited_task(task: str, folder: Path, replacements: dict[str, str]) -> str:
    """Write a shipped task config with textual replacements into `folder`; return its path.

    Every text to replace must be present, so a change to the shipped configs fails loudly here.
    """
    text = (TASKS_ROOT / task / "config.yaml").read_text()
    for old, new in replacements.items():
        assert old in text, f"{task}: the shipped config no longer contains {old!r}"
        text = text.replace(old, new)
    path = folder / f"{task.replace('/', '-')}.yaml"
    path.write_text(text)
    return str(path)


def short_embedded_task(task: str, folder: Path) -> str:
    """A shipped smollm2 config with smaller budgets and one attempt per agent.

    The real embedded model on two CPU cores makes about 10 tokens a second; these budgets keep a
    full round near a minute while every agent still makes a real call.
    """
    replacements = {
        "token_menu: [64, 128, 256]": "token_menu: [32, 48, 64]",
        "max_tokens: 256,": "max_tokens: 64,",
        "max_tokens: 128,": "max_tokens: 48,",
        "max_retry: 2": "max_retry: 1",
    }
    return edited_task(task, folder, replacements)
