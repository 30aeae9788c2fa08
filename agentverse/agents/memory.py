"""What an agent remembers, and how its memory is laid out in a request.

A memory holds sender-attributed messages: the team's broadcasts (the CEO's direction, each
draft, each critique that disagrees), the agent's own messages among them. An agent sends the
last `window` of them. The layout decides how they appear in the request:

- `turns` (our own configs): the agent's own messages are its assistant turns, everyone else's
  are user turns reading `[sender]: content`; consecutive turns of one role are joined, so the
  conversation alternates.
- `research-api`: the research code's API path: one `assistant` message `[sender]: content` per
  history message, whoever sent it.
- `research-local`: the research code's local-model path: the whole history flattened into
  the user message, `Here is the chat history: <history>...</history>` before the prompt.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from agentverse.llms.base import ChatMessage

Layout = Literal["turns", "research-api", "research-local"]

HISTORY_OPEN = "Here is the chat history: <history>\n\n\n"
HISTORY_CLOSE = "</history>\n\n\n"


@dataclass(frozen=True)
class Message:
    sender: str  # the name shown, `[sender]: content`
    content: str
    source: str = ""  # the configured name of the agent that wrote it (who "I" am in the turns layout)

    def attributed(self) -> str:
        return f"[{self.sender}]: {self.content}"


@dataclass
class Memory:
    """An agent's messages, of which it sends the last `window` (None: all of them)."""

    window: int | None
    messages: list[Message] = field(default_factory=list)

    def add(self, message: Message) -> None:
        self.messages.append(message)

    def recent(self) -> list[Message]:
        if self.window is None:
            return list(self.messages)
        return self.messages[-self.window :] if self.window > 0 else []


def lay_out(layout: Layout, system: str, history: list[Message], prompt: str, own_source: str) -> list[ChatMessage]:
    """The request's messages: system, history, prompt; an empty system or prompt is left out."""
    head: list[ChatMessage] = [{"role": "system", "content": system}] if system else []
    if layout == "research-local":
        if history:
            flattened = "".join(f"{message.attributed()}\n\n" for message in history)
            prompt = f"{HISTORY_OPEN}{flattened}{HISTORY_CLOSE}{prompt}"
        user: list[ChatMessage] = [{"role": "user", "content": prompt}] if prompt else []
        return [*head, *user]
    if layout == "research-api":
        turns: list[ChatMessage] = [{"role": "assistant", "content": message.attributed()} for message in history]
    else:
        turns = [own_turn(message, own_source) for message in history]
        if turns and turns[0]["role"] == "assistant":
            # A conversation opens with the user: a leading own message is quoted like the others.
            turns[0] = {"role": "user", "content": history[0].attributed()}
    if prompt:
        turns.append({"role": "user", "content": prompt})
    return [*head, *(joined(turns) if layout == "turns" else turns)]


def own_turn(message: Message, own_source: str) -> ChatMessage:
    if message.source == own_source:
        return {"role": "assistant", "content": message.content}
    return {"role": "user", "content": message.attributed()}


def joined(turns: list[ChatMessage]) -> list[ChatMessage]:
    """Consecutive turns of one role become one turn, so user and assistant alternate."""
    merged: list[ChatMessage] = []
    for turn in turns:
        if merged and merged[-1]["role"] == turn["role"]:
            merged[-1] = {"role": turn["role"], "content": f"{merged[-1]['content']}\n\n{turn['content']}"}
        else:
            merged.append(turn)
    return merged
