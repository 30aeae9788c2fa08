"""Shared fixtures: a real fake OpenAI-compatible server and configs pointed at it."""

from __future__ import annotations

from typing import Any

from agentverse.config.loader import load_task_config
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
