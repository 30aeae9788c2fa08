"""Replay a recorded transcript of the research code against our loop, and compare call by call.

A transcript is one JSON line per request the research code sent to a scripted server: `role`,
`round`, `inner`, `max_tokens`, `temperature`, `top_p`, `messages`, `params`, `reply`,
`completion_tokens`. The replay server answers each request we send with the recorded reply of
the matching call and compares what we sent with what the research code sent. Calls that the
research code made concurrently (critics of one turn) form a group and match in any order.

    python -m agentverse.testing.replay CONFIG.yaml TRANSCRIPT.jsonl PROBLEMS.jsonl --benchmark math500

converts a research-format config (`agentverse-import-config`), runs the problem through the
fake server and prints the calls compared and identical, and the first difference.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentverse.testing.fake_server import FakeReply

COMPARED_FIELDS = ("max_tokens", "temperature", "top_p", "messages")
CONTINUATION_FIELDS = ("continue_final_message", "add_generation_prompt")


@dataclass
class Comparison:
    call: int  # the transcript's call number
    role: str
    differences: list[str]

    @property
    def identical(self) -> bool:
        return not self.differences


@dataclass
class TranscriptReplay:
    """A fake-server responder that answers with the transcript's replies and compares requests."""

    expected: list[dict[str, Any]]
    used: set[int] = field(default_factory=set)
    comparisons: list[Comparison] = field(default_factory=list)
    extra_requests: int = 0
    roles_sent: list[str] = field(default_factory=list)  # our agents, one entry per request, in order

    @classmethod
    def from_file(cls, path: Path) -> TranscriptReplay:
        lines = path.read_text(encoding="utf-8").splitlines()
        return cls([json.loads(line) for line in lines if line.strip()])

    def group(self) -> list[int]:
        """The indices of the next expected calls that may arrive in any order."""
        pending = [index for index in range(len(self.expected)) if index not in self.used]
        if not pending:
            return []
        first = self.expected[pending[0]]
        key = (first["role"], first["round"], first["inner"])
        group = []
        for index in pending:
            entry = self.expected[index]
            if (entry["role"], entry["round"], entry["inner"]) != key:
                break
            group.append(index)
        return group

    def __call__(self, payload: dict[str, Any]) -> FakeReply:
        group = self.group()
        if not group:
            self.extra_requests += 1
            return FakeReply(status=400)
        index = self.best_match(group, payload)
        self.used.add(index)
        entry = self.expected[index]
        self.comparisons.append(Comparison(entry["call"], entry["role"], differences(entry, payload)))
        return FakeReply(entry["reply"], completion_tokens=int(entry["completion_tokens"]))

    def best_match(self, group: list[int], payload: dict[str, Any]) -> int:
        """The call with the same messages, else the same system prompt (one critic), else the first."""
        messages = payload.get("messages", [])
        for index in group:
            if self.expected[index]["messages"] == messages:
                return index
        system = messages[0] if messages else None
        for index in group:
            recorded = self.expected[index]["messages"]
            if recorded and recorded[0] == system:
                return index
        return group[0]

    @property
    def missing(self) -> int:
        return len(self.expected) - len(self.used)

    @property
    def identical(self) -> int:
        return sum(comparison.identical for comparison in self.comparisons)

    @property
    def roles_match(self) -> bool:
        """Our agents made the requests in the transcript's order of roles."""
        return self.roles_sent == [entry["role"] for entry in sorted(self.expected, key=lambda entry: entry["call"])]

    @property
    def exact(self) -> bool:
        return self.identical == len(self.expected) and not self.extra_requests and self.roles_match

    def summary(self) -> str:
        text = (
            f"{len(self.expected)} calls in the transcript, {len(self.comparisons)} compared, "
            f"{self.identical} identical, {self.missing} never sent, {self.extra_requests} extra requests"
        )
        if not self.roles_match:
            text += f"\nroles differ: ours {self.roles_sent}"
        first = next((comparison for comparison in self.comparisons if not comparison.identical), None)
        if first is not None:
            text += f"\nfirst difference: call {first.call} ({first.role}): " + "; ".join(first.differences)
        return text


def differences(entry: dict[str, Any], payload: dict[str, Any]) -> list[str]:
    found = [
        describe(name, entry.get(name), payload.get(name))
        for name in COMPARED_FIELDS
        if entry.get(name) != payload.get(name)
    ]
    params = entry.get("params", {})
    found += [
        describe(name, params.get(name), payload.get(name))
        for name in CONTINUATION_FIELDS
        if params.get(name) != payload.get(name)
    ]
    return found


def describe(name: str, recorded: Any, sent: Any) -> str:
    if name != "messages" or not isinstance(recorded, list) or not isinstance(sent, list):
        return f"{name}: research {recorded!r}, ours {sent!r}"
    if len(recorded) != len(sent):
        return f"messages: research sent {len(recorded)}, ours {len(sent)}"
    for position, (theirs, ours) in enumerate(zip(recorded, sent, strict=True)):
        if theirs != ours:
            return f"messages[{position}]: research {str(theirs)[:200]!r}, ours {str(ours)[:200]!r}"
    return "messages differ"


async def replay(
    config_path: Path,
    transcript: Path,
    problems: Path,
    *,
    benchmark: str,
    layout: str | None = None,
) -> TranscriptReplay:
    from agentverse.config.loader import apply_overrides
    from agentverse.config.research import convert_research_config
    from agentverse.environments.tasksolving.environment import TaskSolvingEnvironment
    from agentverse.llms.client import LLMClient
    from agentverse.testing.fake_server import FakeOpenAIServer
    from dataloader import load_samples

    responder = TranscriptReplay.from_file(transcript)
    conversion = convert_research_config(config_path, layout=layout, benchmark=benchmark)  # type: ignore[arg-type]
    sample = load_samples(benchmark, problems, limit=1)[0]
    async with FakeOpenAIServer(responder) as fake:
        overrides = {"llm.base_urls": [fake.base_url], "llm.retry_backoff_s": 0.01, "llm.max_retries": 0}
        config = apply_overrides(conversion.config, overrides, str(config_path))
        llm = LLMClient.from_config(config.llm)
        try:
            result = await TaskSolvingEnvironment(config, llm).solve(sample)
        finally:
            await llm.aclose()
    responder.roles_sent = [call.agent_type for call in result.calls for _ in range(call.requests)]
    return responder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Replay a research transcript and compare our requests with it.")
    parser.add_argument("config", type=Path, help="A research-format task config.")
    parser.add_argument("transcript", type=Path, help="The research code's recorded requests (JSON lines).")
    parser.add_argument("problems", type=Path, help="The problem file the transcript was recorded on.")
    parser.add_argument("--benchmark", required=True, help="The benchmark the config is for, e.g. math500.")
    parser.add_argument("--layout", choices=["api", "local"], help="The research code path (default: by model).")
    args = parser.parse_args(argv)
    from agentverse.config.loader import ConfigError
    from dataloader import DataError

    try:
        result = asyncio.run(
            replay(args.config, args.transcript, args.problems, benchmark=args.benchmark, layout=args.layout)
        )
    except (ConfigError, DataError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except (OSError, ValueError, KeyError) as error:  # an unreadable or malformed transcript
        print(f"error: {args.transcript}: cannot replay it ({type(error).__name__}: {error})", file=sys.stderr)
        return 2
    print(result.summary())
    return 0 if result.exact else 1


if __name__ == "__main__":
    raise SystemExit(main())
