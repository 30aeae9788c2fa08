#!/usr/bin/env python
"""Resolve the LLaMA-Factory config that run/train.sh trains with, and write it to a file.

Layers, in increasing priority: the base YAML (--base), the smoke-mode settings (--smoke), the
environment variables (MODEL_PATH, LEARNING_RATE, ..., DEEPSPEED, WANDB_PROJECT; see
ENVIRONMENT_TO_KEY), then the key=value arguments. A value of null (or ~) removes the key.
Then output_dir must be set, no credential may reach the file (a key named like one, or a value
that holds the value of an environment variable named like one), and --resume picks the
checkpoint to continue from: auto (the last complete checkpoint-N in output_dir), never, or a path.

The resolved YAML goes to --output under a one-line header, output_dir is printed on stdout, and
progress messages go to stderr. A user mistake is one line on stderr, "[train.sh] error: ...",
and exit status 2; no credential is ever printed.

It needs only the standard library and PyYAML, since it runs in the training virtual environment.

Usage: python scripts/resolve_train_config.py --base FILE --output FILE [--resume auto|never|PATH]
       [--smoke] [--] [key=value ...]
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

import yaml

LOG_PREFIX = "[train.sh]"
HEADER = "# Resolved by run/train.sh from {base}; this is the file llamafactory-cli trains with.\n"

DEEPSPEED_DIRECTORY = "LLaMA-Factory/examples/deepspeed"
# DEEPSPEED value -> the deepspeed argument (None removes it); anything else must be a .json path.
DEEPSPEED_PRESETS: dict[str, str | None] = {
    "z3": f"{DEEPSPEED_DIRECTORY}/ds_z3_config.json",
    "z3_offload": f"{DEEPSPEED_DIRECTORY}/ds_z3_offload_config.json",
    "none": None,
    "off": None,
}
DEFAULT_DEEPSPEED = "z3_offload"
SMOKE_DEEPSPEED = "none"

# CPU smoke mode: the embedded SmolLM2 (MODEL_PATH and DATASET_DIR are set by run/train.sh).
SMOKE_OVERRIDES = (
    "template=smollm2",
    "bf16=false",
    "fp16=false",
    "flash_attn=auto",
    "cutoff_len=512",
    "max_steps=3",
    "save_steps=3",
    "save_total_limit=2",
    "logging_steps=1",
    "output_dir=.cache/smoke/output",
    "preprocessing_num_workers=1",
    "dataloader_num_workers=0",
)

# Each environment variable that is set and not empty overrides its key, in this order.
ENVIRONMENT_TO_KEY = {
    "MODEL_PATH": "model_name_or_path",
    "TEMPLATE": "template",
    "DATASET": "dataset",
    "DATASET_DIR": "dataset_dir",
    "CUTOFF_LEN": "cutoff_len",
    "LEARNING_RATE": "learning_rate",
    "WEIGHT_DECAY": "weight_decay",
    "NUM_TRAIN_EPOCHS": "num_train_epochs",
    "LR_SCHEDULER_TYPE": "lr_scheduler_type",
    "WARMUP_RATIO": "warmup_ratio",
    "PER_DEVICE_TRAIN_BATCH_SIZE": "per_device_train_batch_size",
    "GRADIENT_ACCUMULATION_STEPS": "gradient_accumulation_steps",
    "BF16": "bf16",
    "FLASH_ATTN": "flash_attn",
    "OUTPUT_DIR": "output_dir",
    "SAVE_STEPS": "save_steps",
    "SAVE_TOTAL_LIMIT": "save_total_limit",
    "MAX_STEPS": "max_steps",
    "LOGGING_STEPS": "logging_steps",
    "MAX_SAMPLES": "max_samples",
    "RUN_NAME": "run_name",
    "SEED": "seed",
}

SECRET_KEYS = frozenset({"hf_hub_token", "ms_hub_token", "om_hub_token"})
SECRET_KEY_PATTERN = re.compile(r"(api_key|secret|password)", re.IGNORECASE)
SECRET_ENVIRONMENT_PATTERN = re.compile(r"(TOKEN|API_KEY|SECRET|PASSWORD)", re.IGNORECASE)
# Shorter values of credential-named variables (a flag such as "1") would match ordinary values.
SHORTEST_SECRET = 8

Config = dict[str, Any]


class ConfigError(ValueError):
    """A user mistake: reported as one line, without a traceback."""


class _ArgumentParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise ConfigError(message)


def log(message: str) -> None:
    print(f"{LOG_PREFIX} {message}", file=sys.stderr)


def parse_value(text: str) -> object:
    """key=value text to a typed value (YAML 1.1 reads 1e-5 as a string, so numbers go first)."""
    lowered = text.strip().lower()
    if lowered in {"true", "false"}:
        return lowered == "true"
    if lowered in {"null", "~"}:
        return None
    for number_type in (int, float):
        try:
            return number_type(text)
        except ValueError:
            pass
    return text


def split_override(item: str) -> tuple[str, object]:
    """'key=value' to (key, typed value). The text is never echoed: it may hold a credential."""
    key, separator, text = item.partition("=")
    key = key.strip()
    if not separator:
        raise ConfigError("an override has no '=' (expected key=value)")
    if not key:
        raise ConfigError("override without a key: an argument starts with '=' (expected key=value)")
    return key, parse_value(text)


def apply_overrides(config: Mapping[str, Any], overrides: Sequence[str]) -> Config:
    """A copy of config with each key=value applied in order; a null value removes the key."""
    merged = dict(config)
    for item in overrides:
        key, value = split_override(item)
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def deepspeed_override(choice: str) -> str:
    """The deepspeed=... override for a DEEPSPEED value: a preset name or an existing .json file."""
    if choice in DEEPSPEED_PRESETS:
        preset = DEEPSPEED_PRESETS[choice]
        return f"deepspeed={'null' if preset is None else preset}"
    if choice.endswith(".json"):
        if not Path(choice).is_file():
            raise ConfigError(f"DEEPSPEED: no such file {choice}")
        return f"deepspeed={choice}"
    raise ConfigError(f"DEEPSPEED must be z3, z3_offload, none or a .json path, not '{choice}'")


def environment_overrides(environment: Mapping[str, str], smoke: bool = False) -> list[str]:
    """The key=value overrides the environment asks for: ENVIRONMENT_TO_KEY, deepspeed, report_to."""
    overrides = [f"{key}={environment[name]}" for name, key in ENVIRONMENT_TO_KEY.items() if environment.get(name)]
    default_deepspeed = SMOKE_DEEPSPEED if smoke else DEFAULT_DEEPSPEED
    overrides.append(deepspeed_override(environment.get("DEEPSPEED") or default_deepspeed))
    overrides.append("report_to=wandb" if environment.get("WANDB_PROJECT") else "report_to=none")
    return overrides


def layered_overrides(environment: Mapping[str, str], smoke: bool, arguments: Sequence[str]) -> list[str]:
    """All overrides in increasing priority: smoke mode, then the environment, then the arguments."""
    smoke_layer = list(SMOKE_OVERRIDES) if smoke else []
    return [*smoke_layer, *environment_overrides(environment, smoke), *arguments]


def credential_values(environment: Mapping[str, str]) -> list[str]:
    """Values of the environment variables named like credentials (HF_TOKEN, WANDB_API_KEY, ...)."""
    return [
        value
        for name, value in environment.items()
        if SECRET_ENVIRONMENT_PATTERN.search(name) and len(value) >= SHORTEST_SECRET
    ]


def refuse_secrets(config: Mapping[str, Any], environment: Mapping[str, str]) -> None:
    """Raise ConfigError, naming the key (never the value), when a credential would be written."""
    for key in config:
        if key in SECRET_KEYS or SECRET_KEY_PATTERN.search(str(key)):
            raise ConfigError(
                f"'{key}' must not be written into a config; pass credentials in the environment (HF_TOKEN)"
            )
    secrets = credential_values(environment)
    for key, value in config.items():
        text = str(value)
        if any(secret in text for secret in secrets):
            raise ConfigError(f"the value of '{key}' contains a credential from the environment; refusing to write it")


def last_checkpoint(output_dir: Path) -> Path | None:
    """Highest checkpoint-N whose trainer_state.json exists (a crash mid-save leaves none)."""
    candidates = []
    for path in output_dir.glob("checkpoint-*"):
        suffix = path.name.removeprefix("checkpoint-")
        if suffix.isdigit() and (path / "trainer_state.json").is_file():
            candidates.append((int(suffix), path))
    return max(candidates)[1] if candidates else None


def choose_resume(config: Mapping[str, Any], resume: str) -> Config:
    """A copy of config set up for RESUME: auto, never, or an explicit checkpoint path."""
    chosen = dict(config)
    if resume == "never":
        chosen.pop("resume_from_checkpoint", None)
        chosen["overwrite_output_dir"] = True
        return chosen
    if resume != "auto":
        chosen["resume_from_checkpoint"] = resume
    elif "resume_from_checkpoint" not in chosen:
        output_dir = Path(str(chosen.get("output_dir", "")))
        checkpoint = last_checkpoint(output_dir)
        if checkpoint is None:
            log(f"no checkpoint in {output_dir}: starting from step 0")
            return chosen
        chosen["resume_from_checkpoint"] = str(checkpoint)
    log(f"resuming from {chosen['resume_from_checkpoint']}")
    if chosen.get("overwrite_output_dir"):
        # LLaMA-Factory deletes trainer_log.jsonl (the loss history) when this is true.
        log("resuming: overwrite_output_dir forced to false")
    chosen["overwrite_output_dir"] = False
    return chosen


def describe_yaml_error(error: yaml.YAMLError) -> str:
    """The problem and its position, without the file's text (which may hold a credential)."""
    problem = getattr(error, "problem", None) or "cannot parse"
    mark = getattr(error, "problem_mark", None)
    position = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return f"{problem}{position}"


def load_base_config(base: str) -> Config:
    """The base YAML as a mapping (an empty file is an empty config)."""
    try:
        text = Path(base).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"no such config: {base}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{base}: not UTF-8 text") from None
    except OSError as error:
        raise ConfigError(f"cannot read {base}: {error.strerror}") from None
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError(f"{base}: not valid YAML: {describe_yaml_error(error)}") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        kind = type(loaded).__name__
        raise ConfigError(f"{base}: the top level must be a mapping of LLaMA-Factory arguments, not a {kind}")
    return loaded


def resolve_config(base: str, resume: str, overrides: Sequence[str], environment: Mapping[str, str]) -> Config:
    """The base YAML with the overrides applied, checked for secrets, set up for resuming."""
    config = apply_overrides(load_base_config(base), overrides)
    if "output_dir" not in config:
        raise ConfigError("output_dir is not set")
    refuse_secrets(config, environment)
    return choose_resume(config, resume)


def render_config(config: Mapping[str, Any], base: str) -> str:
    """The text of the resolved file: a header naming the base config, then the YAML in key order."""
    return HEADER.format(base=base) + yaml.safe_dump(dict(config), sort_keys=False)


def write_text(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"cannot write {path}: {error.strerror}") from None


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = _ArgumentParser(
        prog="resolve_train_config.py",
        description="Resolve the LLaMA-Factory config run/train.sh trains with (see the module docstring).",
    )
    parser.add_argument("--base", required=True, help="base LLaMA-Factory YAML")
    parser.add_argument("--output", required=True, type=Path, help="where to write the resolved YAML")
    parser.add_argument("--resume", default="auto", help="auto (default), never, or a checkpoint path")
    parser.add_argument("--smoke", action="store_true", help="apply the CPU smoke-mode settings")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="applied last; put them after --")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None, environment: Mapping[str, str] | None = None) -> int:
    """Write the resolved config to --output and print its output_dir; 2 on a user mistake."""
    environment = os.environ if environment is None else environment
    try:
        arguments = parse_arguments(argv)
        overrides = layered_overrides(environment, arguments.smoke, arguments.overrides)
        config = resolve_config(arguments.base, arguments.resume, overrides, environment)
        write_text(arguments.output, render_config(config, arguments.base))
    except ConfigError as error:
        log(f"error: {error}")
        return 2
    print(config["output_dir"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
