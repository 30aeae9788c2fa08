"""Text helpers shared by the graders."""

from __future__ import annotations

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"


def strip_reasoning(response: str) -> str:
    """The visible answer: what follows the last `</think>`.

    A response that opened `<think>` and never closed it holds only reasoning, so it has no
    answer to grade (an answer written mid-thought is not the model's final answer).
    """
    if THINK_CLOSE in response:
        return response.rsplit(THINK_CLOSE, 1)[1]
    if response.lstrip().startswith(THINK_OPEN):
        return ""
    return response
