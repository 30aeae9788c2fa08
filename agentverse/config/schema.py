"""The typed, strict task configuration (one YAML file per benchmark and model).

Every model rejects unknown keys; constrained types catch wrong values at load time.
The layout follows AgentVerse's task configs: `environment.rule.{ceo, role_assigner,
decision_maker, executor, evaluator}` and a list of `agents` with `agent_type`.
"""

from __future__ import annotations

from string import Template
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

PositiveInt = Annotated[int, Field(gt=0)]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GenerationConfig(StrictModel):
    """Sampling settings for one call. Per-call overrides make new objects (`model_copy`)."""

    max_tokens: PositiveInt = Field(description="Most tokens to generate (the CEO may override it per round).")
    temperature: float = Field(default=0.7, ge=0.0, le=2.0, description="Sampling temperature.")
    top_p: float = Field(default=0.95, gt=0.0, le=1.0, description="Nucleus sampling mass.")
    stop: tuple[str, ...] = Field(default=(), description="Stop strings.")
    seed: int | None = Field(default=None, description="Sampling seed, when the server honours it.")
    thinking_token_budget: PositiveInt | None = Field(
        default=None,
        description="Most tokens of thinking, enforced by the server (vLLM's thinking_token_budget, served with "
        "THINKING_BUDGET=1); set per call by `llm.budget_forcing: server`.",
    )


def check_base_url(url: str) -> str:
    """A base URL with an http(s) scheme, a host and a valid port; without the trailing slash."""
    parsed = urlsplit(url.strip())
    if parsed.scheme not in ("http", "https"):
        raise ValueError(f"base URL must start with http:// or https://, got {url!r}")
    try:
        parsed.port  # noqa: B018  (raises for a port that is not a number in range)
    except ValueError:
        raise ValueError(f"base URL has an invalid port: {url!r}") from None
    if not parsed.hostname:
        raise ValueError(f"base URL has no host: {url!r}")
    if parsed.username or parsed.password or parsed.query:
        # A key in the URL would be written into every record and error; name a key variable instead.
        raise ValueError("base URL must not hold credentials or a query string; use api_key_env for the key")
    return url.strip().rstrip("/")


class EndpointConfig(StrictModel):
    """Which model answers, and where. Every agent uses the same model, as in the paper."""

    backend: Literal["openai", "transformers"] = Field(
        default="openai", description="`openai`: any OpenAI-compatible server; `transformers`: in-process."
    )
    model: str = Field(
        min_length=1,
        description="Served model name (openai), or `embedded:smollm2` / a local folder (transformers).",
    )
    base_urls: list[str] = Field(
        default_factory=lambda: ["http://127.0.0.1:8000/v1"],
        min_length=1,
        description="One or more OpenAI-compatible base URLs; requests are spread across them.",
    )
    api_key_env: str | None = Field(
        default=None, description="Name of the env var holding the API key; none for a local server."
    )
    thinking: bool = Field(default=False, description="Reasoning model: generation starts inside <think>.")
    think_prefill: str = Field(
        default="<think>\n",
        min_length=1,
        description="What a thinking model's reply is prefilled with (the research code: `<think>`, no newline).",
    )
    budget_forcing: Literal["length", "research", "server"] = Field(
        default="length",
        description="`length`: a thinking model whose reply is cut while thinking gets `</think>` and a short "
        "budget to answer. `research`: the research code's local path: when the reply reaches max_tokens - 200 "
        "tokens (server usage), a second request continues `<think>` + reply + `</think>` (`<Final Answer>:` "
        "for a model that does not think); a thinking model's empty answer is asked again up to 3 times. "
        "Serve without a reasoning parser, so that the thoughts come back in the text. `server`: one request; "
        "vLLM ends the thinking at max_tokens itself (thinking_token_budget) and the answer gets "
        "min(context - B, B / 2) more tokens (serve with THINKING_BUDGET=1).",
    )
    budget_forcing_margin: Annotated[int, Field(ge=0)] = Field(
        default=200,
        description="`research` forcing starts when a reply reaches max_tokens minus this many tokens (200 in the "
        "research code the paper's traces came from; its latest openai.py uses 800).",
    )
    fit_to_context: bool = Field(
        default=True,
        description="Lower max_tokens when the estimated prompt plus max_tokens would exceed context_length; "
        "false sends every budget as configured (paper-exact mode: the research code does not fit them; a "
        "server that rejects prompt + max_tokens above its context then fails such calls as context_overflow).",
    )
    continuation_api: Literal["chat", "completions"] = Field(
        default="chat",
        description="How to continue a prefilled assistant message: vLLM chat `continue_final_message`, "
        "or the raw completions endpoint with a ChatML prompt.",
    )
    context_length: PositiveInt = Field(default=32768, description="Model context; bounds the forced answer.")
    min_reply_tokens: PositiveInt = Field(
        default=64,
        description="Fewest tokens a reply may be given: a prompt that leaves less room in the context is "
        "not sent and fails as context_overflow (a model-side failure, counted).",
    )
    max_concurrency: PositiveInt | Literal["auto"] = Field(
        default=256,
        description="Requests in flight per endpoint (transformers: the largest batch). The default fits vLLM's "
        "default batch (256 sequences); `auto` follows the server's queue in vLLM's /metrics (fewer when "
        "requests wait there, more when none do while ours wait for the cap), and stays at 256 without metrics.",
    )
    endpoints_file: str | None = Field(
        default=None,
        description="A file with one base URL per line, reread while running: replicas added to it join the "
        "run, replicas removed from it get no new requests (replaces base_urls when given).",
    )
    timeout_s: float | None = Field(
        default=None,
        gt=0,
        description="Timeout of one HTTP request; default: timeout_floor_s + max_tokens / min_tokens_per_s, "
        "so a frozen server is given up on in proportion to what was asked of it.",
    )
    min_tokens_per_s: float = Field(
        default=10.0, gt=0, description="Slowest generation speed (tokens/s of one request) worth waiting for."
    )
    timeout_floor_s: float = Field(default=60.0, gt=0, description="Part of the default timeout that any request gets.")

    def request_timeout(self, max_tokens: int) -> float:
        """Seconds one request may take before it counts as a timeout (and is retried)."""
        if self.timeout_s is not None:
            return self.timeout_s
        return self.timeout_floor_s + max_tokens / self.min_tokens_per_s

    max_retries: int = Field(default=4, ge=0, le=20, description="Retries of transient errors per request.")
    retry_backoff_s: float = Field(default=1.0, ge=0, description="First backoff; doubles with jitter.")
    circuit_breaker_failures: PositiveInt = Field(
        default=5,
        description="Consecutive connection failures after which an endpoint is marked down (its work goes "
        "to the other replicas; with all down the run stops).",
    )

    @model_validator(mode="after")
    def _check_auto(self) -> EndpointConfig:
        if self.max_concurrency == "auto" and self.backend != "openai":
            raise ValueError("max_concurrency: auto reads a server's queue; the transformers backend needs a number")
        return self

    def cap(self) -> int:
        """The cap on requests in flight to start from (`auto` starts at vLLM's default batch)."""
        return 256 if self.max_concurrency == "auto" else self.max_concurrency

    @field_validator("base_urls", mode="before")
    @classmethod
    def _accept_single_url(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value

    @field_validator("base_urls")
    @classmethod
    def _check_urls(cls, value: list[str]) -> list[str]:
        return [check_base_url(url) for url in value]


class CEORuleConfig(StrictModel):
    type: str = Field(default="basic", description="`basic` (the paper's CEO) or `none` (fixed team/budget).")
    honor_stop: bool = Field(
        default=True, description="A CEO Stop ends the problem; false reproduces the research code."
    )
    min_recruits: PositiveInt = Field(default=2, description="Fewest agents (solver included).")
    max_recruits: PositiveInt | None = Field(
        default=3, description="Most agents (4 for AIME, 3 elsewhere); null: no cap, as in the research code."
    )
    budget: Literal["menu", "clamp"] = Field(
        default="menu",
        description="How the CEO's token budget is used: `menu` snaps it to the nearest `token_menu` entry; "
        "`clamp` keeps it within `token_range` (the research code: [2048, 32000]).",
    )
    token_menu: list[PositiveInt] = Field(
        default_factory=lambda: [2048, 4096, 8192, 16384, 32000],
        min_length=1,
        description="Budgets the CEO may choose; other values snap to the nearest entry.",
    )
    token_range: tuple[PositiveInt, PositiveInt] = Field(
        default=(2048, 32000), description="The bounds of a clamped budget (`budget: clamp`)."
    )

    @model_validator(mode="after")
    def _check_bounds(self) -> CEORuleConfig:
        if self.max_recruits is not None and self.min_recruits > self.max_recruits:
            raise ValueError("min_recruits must not exceed max_recruits")
        if list(self.token_menu) != sorted(set(self.token_menu)):
            raise ValueError("token_menu must be strictly increasing")
        if self.token_range[0] > self.token_range[1]:
            raise ValueError("token_range must be [low, high] with low <= high")
        return self


class RoleAssignerRuleConfig(StrictModel):
    type: str = Field(default="role_description", description="How experts are recruited.")
    cnt_agents: PositiveInt = Field(default=2, description="Team size (solver included) without a CEO.")


class DecisionMakerRuleConfig(StrictModel):
    type: str = Field(default="vertical-solver-first", description="Discussion structure.")
    max_inner_turns: PositiveInt = Field(default=3, description="Review/revise rounds inside one round.")
    share_critiques: bool = Field(
        default=True,
        description="Each disagreeing critique reaches every critic's memory too, as in the method (the research "
        "code broadcasts it to the whole team); false: only the solver and its author see it.",
    )


class ExecutorRuleConfig(StrictModel):
    type: str = Field(default="none", description="`none`, `code-test` or `concept-coverage`.")
    cpu_time_s: PositiveInt = Field(
        default=10, description="CPU-second limit of one code run; the wall clock is a generous multiple of it."
    )
    memory_mb: PositiveInt = Field(default=1024, description="Address-space limit of one code run.")


class EvaluatorRuleConfig(StrictModel):
    type: str = Field(default="basic", description="How the solution is judged.")


class RuleConfig(StrictModel):
    ceo: CEORuleConfig = Field(default_factory=CEORuleConfig, description="Resource allocation each round.")
    role_assigner: RoleAssignerRuleConfig = Field(default_factory=RoleAssignerRuleConfig, description="Recruitment.")
    decision_maker: DecisionMakerRuleConfig = Field(default_factory=DecisionMakerRuleConfig, description="Discussion.")
    executor: ExecutorRuleConfig = Field(default_factory=ExecutorRuleConfig, description="Evidence for the evaluator.")
    evaluator: EvaluatorRuleConfig = Field(default_factory=EvaluatorRuleConfig, description="Judgement and advice.")


class EnvironmentConfig(StrictModel):
    env_type: Literal["task-basic"] = Field(default="task-basic", description="The task-solving loop.")
    max_turn: PositiveInt = Field(default=2, description="Most rounds per problem.")
    rule: RuleConfig = Field(default_factory=RuleConfig, description="The components of one round.")


# The research code's history windows: the solver sends its last 5 messages, critics their last 3.
RESEARCH_WINDOWS: dict[str, int] = {"solver": 5, "critic": 3}


class MemoryConfig(StrictModel):
    memory_type: Literal["chat_history"] = Field(default="chat_history", description="Agent memory kind.")
    layout: Literal["turns", "research-api", "research-local"] = Field(
        default="turns",
        description="How the history appears in a request. `turns`: the agent's own messages as its assistant "
        "turns, the others' as user turns `[sender]: content`; `research-api`: every history message as an "
        "assistant message `[sender]: content` (the research code's API path); `research-local`: the history "
        "flattened into the user message (its local-model path).",
    )
    window: Annotated[int, Field(ge=0)] | Literal["all"] | None = Field(
        default=None,
        description="Most history messages sent (`all`: no limit); default: the research values, 5 for the "
        "solver and 3 for critics (the other agents get no history).",
    )

    def window_for(self, agent_type: str) -> int | None:
        """The window as a count, None for no limit."""
        if self.window == "all":
            return None
        return self.window if self.window is not None else RESEARCH_WINDOWS.get(agent_type, 0)


class OutputParserConfig(StrictModel):
    type: str = Field(description="Parser key: ceo, role_assigner, solver, code-solver, critic, evaluator.")


AgentType = Literal["ceo", "role_assigner", "solver", "critic", "evaluator"]

# The placeholders each agent's templates may use; anything else is a config error.
PLACEHOLDERS: dict[str, frozenset[str]] = {
    "ceo": frozenset({"task_description", "solution", "advice", "resources", "max_recruits", "token_menu"}),
    "role_assigner": frozenset({"task_description", "advice", "cnt_agents", "cnt_critic_agents"}),
    "solver": frozenset({"task_description", "role_description", "direction", "advice", "critiques"}),
    "critic": frozenset({"task_description", "role_description", "direction", "solution"}),
    "evaluator": frozenset({"task_description", "solution", "result", "all_role_description"}),
}


DEFAULT_ENDPOINT = "default"  # the name of the `llm` endpoint


class AgentConfig(StrictModel):
    agent_type: AgentType = Field(description="Which role in the loop this agent plays.")
    endpoint: str | None = Field(
        default=None,
        description="The named endpoint (a key of `endpoints`) this agent's calls go to; default: `llm`.",
    )
    name: str = Field(min_length=1, description="Display name used in traces.")
    role_description: str = Field(default="", description="Default role (replaced by recruitment).")
    prepend_prompt_template: str = Field(default="", description="System prompt template (${placeholders}).")
    append_prompt_template: str = Field(min_length=1, description="User prompt template (${placeholders}).")
    max_retry: PositiveInt = Field(default=3, description="Attempts when the reply cannot be parsed.")
    memory: MemoryConfig = Field(default_factory=MemoryConfig, description="How the agent remembers.")
    output_parser: OutputParserConfig = Field(description="How the reply becomes a typed object.")
    llm: GenerationConfig = Field(description="This agent's sampling settings.")

    @model_validator(mode="after")
    def _check_placeholders(self) -> AgentConfig:
        allowed = PLACEHOLDERS[self.agent_type]
        for field_name in ("prepend_prompt_template", "append_prompt_template"):
            template = Template(getattr(self, field_name))
            if not template.is_valid():
                raise ValueError(f"{field_name}: malformed ${{placeholder}} syntax")
            unknown = set(template.get_identifiers()) - allowed
            if unknown:
                raise ValueError(
                    f"{field_name}: unknown placeholder(s) {sorted(unknown)} for a {self.agent_type}; "
                    f"allowed: {sorted(allowed)}"
                )
        return self


class TaskInfo(StrictModel):
    name: str = Field(min_length=1, description="Benchmark name (a data loader key).")
    kind: Literal["math", "multiple-choice", "code", "concept-coverage"] = Field(
        description="Answer kind; selects the grader."
    )


class TaskConfig(StrictModel):
    """One task config: the benchmark, the model endpoint, the loop's rules and the agents."""

    task: TaskInfo = Field(description="Which benchmark and which kind of answer.")
    prompts: dict[str, str] = Field(default_factory=dict, description="Prompt texts referenced by anchors.")
    llm: EndpointConfig = Field(description="The default model, and where it is served (endpoint `default`).")
    endpoints: dict[str, EndpointConfig] = Field(
        default_factory=dict,
        description="More models by name, each with its own client, cap, retries and thinking settings; an "
        "agent picks one with `endpoint:`.",
    )
    environment: EnvironmentConfig = Field(default_factory=EnvironmentConfig, description="The loop's rules.")
    agents: list[AgentConfig] = Field(min_length=1, description="One entry per agent type.")

    @model_validator(mode="after")
    def _check_endpoints(self) -> TaskConfig:
        if DEFAULT_ENDPOINT in self.endpoints:
            raise ValueError(f"endpoints: {DEFAULT_ENDPOINT!r} is the name of `llm`; give this endpoint another name")
        defined = [DEFAULT_ENDPOINT, *self.endpoints]
        for index, agent in enumerate(self.agents):
            if agent.endpoint is not None and agent.endpoint not in defined:
                raise ValueError(
                    f"agents[{index}] ({agent.agent_type}).endpoint: unknown endpoint {agent.endpoint!r}; "
                    f"defined: {', '.join(defined)}"
                )
        return self

    @model_validator(mode="after")
    def _check_agents(self) -> TaskConfig:
        counts = {agent_type: 0 for agent_type in PLACEHOLDERS}
        for agent in self.agents:
            counts[agent.agent_type] += 1
        required = {"role_assigner", "solver", "critic", "evaluator"}
        if self.environment.rule.ceo.type != "none":
            required.add("ceo")
        missing = sorted(agent_type for agent_type in required if counts[agent_type] == 0)
        if missing:
            raise ValueError(f"agents: missing agent_type(s) {missing}")
        duplicated = sorted(agent_type for agent_type, count in counts.items() if count > 1)
        if duplicated:
            raise ValueError(f"agents: agent_type(s) {duplicated} given more than once")
        return self

    def agent(self, agent_type: str) -> AgentConfig:
        for agent in self.agents:
            if agent.agent_type == agent_type:
                return agent
        raise KeyError(f"no agent of type {agent_type!r} in this config")

    def optional_agent(self, agent_type: str) -> AgentConfig | None:
        """The agent of this type, or None (a config without a CEO may have no CEO agent)."""
        return next((agent for agent in self.agents if agent.agent_type == agent_type), None)
