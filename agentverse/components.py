"""Every registry a config `type:` may name, gathered for validation and lookup."""

from __future__ import annotations

from agentverse.agents.output_parsers import PARSERS
from agentverse.environments.tasksolving.rules.ceo import CEO_RULES
from agentverse.environments.tasksolving.rules.decision_maker import DECISION_MAKERS
from agentverse.environments.tasksolving.rules.evaluator import EVALUATORS
from agentverse.environments.tasksolving.rules.executor import EXECUTORS
from agentverse.environments.tasksolving.rules.role_assigner import ROLE_ASSIGNERS
from agentverse.registry import Registry

REGISTRIES: dict[str, Registry] = {
    "ceo": CEO_RULES,
    "role_assigner": ROLE_ASSIGNERS,
    "decision_maker": DECISION_MAKERS,
    "executor": EXECUTORS,
    "evaluator": EVALUATORS,
    "output_parser": PARSERS,
}
