"""The models a team uses: the default endpoint (`llm`) and any named ones (`endpoints`), each
with its own client (concurrency cap, retries, circuit breaker, thinking and context settings).
Every agent calls the client its config names (`agents[i].endpoint`, default: `llm`).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable

from agentverse.config.schema import DEFAULT_ENDPOINT, AgentConfig, EndpointConfig, TaskConfig
from agentverse.llms.base import BACKENDS, Backend, LLMError, ModelLoadError
from agentverse.llms.client import LLMClient
from agentverse.llms.gate import EndpointLoad
from agentverse.llms.openai_backend import EndpointCheckError

# What only the client uses of an endpoint's settings: endpoints differing in these alone can share
# a backend (the backend uses the rest: where and how requests travel, and what they carry).
CLIENT_FIELDS = {
    "thinking",
    "think_prefill",
    "budget_forcing_margin",
    "fit_to_context",
    "context_length",
    "min_reply_tokens",
}


def backend_key(endpoint: EndpointConfig) -> str:
    return json.dumps(endpoint.model_dump(mode="json", exclude=CLIENT_FIELDS), sort_keys=True)


class ModelPool:
    def __init__(self, clients: dict[str, LLMClient]) -> None:
        if DEFAULT_ENDPOINT not in clients:
            raise ValueError("a model pool needs the default endpoint")
        self.clients = clients

    @classmethod
    def from_config(cls, config: TaskConfig, backends: dict[str, Backend] | None = None) -> ModelPool:
        """One client per endpoint. With `backends` (a cache shared by several pools, e.g. the
        points of a sweep), endpoints that differ only in what the client does (thinking, context
        fitting) share one backend: one connection cap, retry policy and circuit per server."""
        named = {DEFAULT_ENDPOINT: config.llm, **config.endpoints}
        if backends is None:
            return cls({name: LLMClient.from_config(endpoint, name) for name, endpoint in named.items()})
        clients = {}
        for name, endpoint in named.items():
            key = backend_key(endpoint)
            if key not in backends:
                backends[key] = BACKENDS.get(endpoint.backend)(endpoint)
            clients[name] = LLMClient(endpoint, backends[key], name)
        return cls(clients)

    @classmethod
    def of(cls, models: LLMClient | ModelPool) -> ModelPool:
        """A pool as is, or a single client as a pool of one (every agent on the default endpoint)."""
        return models if isinstance(models, ModelPool) else cls({DEFAULT_ENDPOINT: models})

    @property
    def default(self) -> LLMClient:
        return self.clients[DEFAULT_ENDPOINT]

    def for_agent(self, agent: AgentConfig | None) -> LLMClient:
        name = agent.endpoint if agent is not None and agent.endpoint is not None else DEFAULT_ENDPOINT
        try:
            return self.clients[name]
        except KeyError:
            raise KeyError(f"no client for endpoint {name!r} (this pool has {sorted(self.clients)})") from None

    async def check(self) -> list[str]:
        """Every endpoint's pre-run check; a named endpoint's warnings and errors carry its name."""
        warnings: list[str] = []
        for name, client in self.clients.items():
            try:
                found = await client.check()
            except EndpointCheckError as error:
                if name == DEFAULT_ENDPOINT:
                    raise
                raise EndpointCheckError(f"endpoint {name!r} ({client.config.model}): {error}") from None
            warnings += [f"endpoint {name!r}: {warning}" if name != DEFAULT_ENDPOINT else warning for warning in found]
        return warnings

    async def prepare(self, report: Callable[[str], None]) -> None:
        """Load every in-process model now, each reported as its own step with its own time."""
        for client in self.clients.values():
            message = client.loading_message()
            if message is None:
                continue
            report(message)
            started = time.perf_counter()
            try:
                await client.prepare()
            except (OSError, ValueError, RuntimeError, LLMError) as error:
                if isinstance(error, ModelLoadError):
                    raise
                raise ModelLoadError(f"cannot load model {client.config.model!r}: {error}") from None
            report(f"model loaded in {time.perf_counter() - started:.1f} s")

    @property
    def unreachable(self) -> bool:
        """Some endpoint has every replica down: the roles on it cannot be served, so no problem can."""
        return any(client.unreachable for client in self.clients.values())

    def unreachable_message(self) -> str:
        return "; ".join(
            f"{name}: {client.unreachable_message()}" for name, client in self.clients.items() if client.unreachable
        )

    def request_cap(self) -> int:
        """Problems worth having in flight: what the default endpoint (where most calls go) takes."""
        return self.default.request_cap()

    def load(self) -> list[EndpointLoad]:
        return [load for client in self.clients.values() for load in client.load()]

    @property
    def notices(self) -> list[str]:
        return [notice for client in self.clients.values() for notice in client.notices]

    async def aclose(self) -> None:
        await asyncio.gather(*(client.aclose() for client in self.clients.values()))
