"""scripts/resolve_train_config.py: layers, overrides, secret refusal, resume choice, bad-input messages.

Fast and offline: plain function calls and one subprocess of the CLI; no training venv.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
SCRIPT = REPO_ROOT / "scripts" / "resolve_train_config.py"
PAPER_CONFIG = REPO_ROOT / "LLaMA-Factory" / "examples" / "train_full" / "qwen2.5_32b_m500_full_sft.yaml"
FAKE_TOKEN = "hf_FakeUnitTestToken0123456789abcdef"


def load_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("resolve_train_config", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


resolver = load_module()


def write_yaml(path: Path, content: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(content, sort_keys=False), encoding="utf-8")
    return path


def run_main(arguments: list[str], environment: dict[str, str] | None = None) -> int:
    return resolver.main(arguments, environment if environment is not None else {})


def base_config(tmp_path: Path, **values: Any) -> Path:
    return write_yaml(tmp_path / "base.yaml", {"output_dir": str(tmp_path / "output"), **values})


# --- values and overrides ---


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("true", True),
        ("FALSE", False),
        ("null", None),
        ("~", None),
        ("7", 7),
        (" 5", 5),
        ("1e-5", 1e-5),
        ("0.05", 0.05),
        ("qwen", "qwen"),
        ("LLaMA-Factory/data", "LLaMA-Factory/data"),
        ("", ""),
    ],
)
def test_parse_value_types(text: str, expected: object) -> None:
    value = resolver.parse_value(text)
    assert value == expected and type(value) is type(expected)


def test_overrides_apply_in_order_and_null_removes() -> None:
    config = {"a": 1, "b": "x", "c": True}
    merged = resolver.apply_overrides(config, ["a=2", "a=3", "b=null", "d=k=v", " e =1e-5"])
    assert merged == {"a": 3, "c": True, "d": "k=v", "e": 1e-5}
    assert config == {"a": 1, "b": "x", "c": True}  # the input is left alone
    assert list(resolver.apply_overrides({"a": 1, "b": 2}, ["a=9", "z=0"])) == ["a", "b", "z"]  # keys keep their place


def test_layers_smoke_then_environment_then_arguments() -> None:
    environment = {"TEMPLATE": "from-environment", "SAVE_STEPS": "5", "SEED": ""}
    overrides = resolver.layered_overrides(environment, True, ["save_steps=9"])
    merged = resolver.apply_overrides({"template": "qwen", "seed": 42}, overrides)
    assert merged["template"] == "from-environment"  # the environment beats smoke mode
    assert merged["save_steps"] == 9  # an argument beats the environment
    assert merged["seed"] == 42  # an empty variable keeps the YAML's value
    assert merged["max_steps"] == 3 and merged["bf16"] is False  # smoke mode's own values
    assert "deepspeed" not in merged  # smoke mode defaults to DEEPSPEED=none


def test_environment_variables_map_to_their_keys() -> None:
    environment = {name: f"value-{index}" for index, name in enumerate(resolver.ENVIRONMENT_TO_KEY)}
    merged = resolver.apply_overrides({}, resolver.environment_overrides(environment))
    for index, (name, key) in enumerate(resolver.ENVIRONMENT_TO_KEY.items()):
        assert merged[key] == f"value-{index}", name
    assert merged["deepspeed"].endswith("ds_z3_offload_config.json") and merged["report_to"] == "none"


def test_every_documented_variable_is_mapped() -> None:
    usage = (REPO_ROOT / "run" / "train.sh").read_text(encoding="utf-8").split("set -euo pipefail")[0]
    for name, key in resolver.ENVIRONMENT_TO_KEY.items():
        assert name in usage, name
        assert name == "MODEL_PATH" or name == key.upper(), name


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("z3", "deepspeed=LLaMA-Factory/examples/deepspeed/ds_z3_config.json"),
        ("z3_offload", "deepspeed=LLaMA-Factory/examples/deepspeed/ds_z3_offload_config.json"),
        ("none", "deepspeed=null"),
        ("off", "deepspeed=null"),
    ],
)
def test_deepspeed_presets(choice: str, expected: str) -> None:
    assert resolver.deepspeed_override(choice) == expected


def test_deepspeed_json_path_must_exist(tmp_path: Path) -> None:
    config = tmp_path / "ds.json"
    config.write_text("{}")
    assert resolver.deepspeed_override(str(config)) == f"deepspeed={config}"
    with pytest.raises(resolver.ConfigError, match="DEEPSPEED: no such file"):
        resolver.deepspeed_override(str(tmp_path / "missing.json"))
    with pytest.raises(
        resolver.ConfigError, match=r"DEEPSPEED must be z3, z3_offload, none or a \.json path, not 'z2'"
    ):
        resolver.deepspeed_override("z2")


def test_report_to_follows_wandb_project() -> None:
    assert "report_to=none" in resolver.environment_overrides({})
    assert "report_to=wandb" in resolver.environment_overrides({"WANDB_PROJECT": "m1"})
    assert "report_to=none" in resolver.environment_overrides({"WANDB_PROJECT": ""})


# --- secrets ---


SECRET_NAMED_KEYS = ["hf_hub_token", "ms_hub_token", "om_hub_token", "wandb_api_key", "db_Password", "secret"]


@pytest.mark.parametrize("key", SECRET_NAMED_KEYS)
def test_secret_keys_are_refused_by_name(key: str) -> None:
    with pytest.raises(resolver.ConfigError, match=f"'{key}' must not be written into a config"):
        resolver.refuse_secrets({"output_dir": "o", key: "x"}, {})


def test_values_holding_an_environment_credential_are_refused() -> None:
    environment = {"HF_TOKEN": FAKE_TOKEN, "SHORT_TOKEN": "1234567", "PLAIN": "ordinary-value"}
    with pytest.raises(resolver.ConfigError, match="the value of 'run_name' contains a credential") as caught:
        resolver.refuse_secrets({"run_name": f"run-{FAKE_TOKEN}"}, environment)
    assert FAKE_TOKEN not in str(caught.value)
    resolver.refuse_secrets({"a": "1234567", "b": "ordinary-value"}, environment)  # short or not a credential


def test_secret_refusal_never_prints_the_credential(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = base_config(tmp_path)
    output = tmp_path / "resolved.yaml"
    environment = {"HF_TOKEN": FAKE_TOKEN}
    for override in [f"hf_hub_token={FAKE_TOKEN}", f"run_name=x-{FAKE_TOKEN}", f"={FAKE_TOKEN}"]:
        assert run_main([f"--base={base}", f"--output={output}", "--", override], environment) == 2
        captured = capsys.readouterr()
        assert FAKE_TOKEN not in captured.out + captured.err
        assert captured.err.startswith("[train.sh] error: ") and captured.err.count("\n") == 1
    assert not output.exists()


# --- resume ---


def make_checkpoint(output_dir: Path, name: str, complete: bool = True) -> Path:
    checkpoint = output_dir / name
    checkpoint.mkdir(parents=True)
    if complete:
        (checkpoint / "trainer_state.json").write_text("{}")
    return checkpoint


def test_last_checkpoint_is_the_highest_complete_step(tmp_path: Path) -> None:
    assert resolver.last_checkpoint(tmp_path / "missing") is None
    make_checkpoint(tmp_path, "checkpoint-9")
    expected = make_checkpoint(tmp_path, "checkpoint-10")  # numerically, not lexically, last
    make_checkpoint(tmp_path, "checkpoint-12", complete=False)  # cut off mid-save
    make_checkpoint(tmp_path, "checkpoint-best")
    assert resolver.last_checkpoint(tmp_path) == expected


def test_resume_auto_picks_the_last_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    checkpoint = make_checkpoint(tmp_path, "checkpoint-4")
    config = {"output_dir": str(tmp_path), "overwrite_output_dir": True}
    chosen = resolver.choose_resume(config, "auto")
    assert chosen["resume_from_checkpoint"] == str(checkpoint) and chosen["overwrite_output_dir"] is False
    assert config["overwrite_output_dir"] is True  # the input is left alone
    assert capsys.readouterr().err.splitlines() == [
        f"[train.sh] resuming from {checkpoint}",
        "[train.sh] resuming: overwrite_output_dir forced to false",
    ]


def test_resume_auto_without_checkpoints_starts_over(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = {"output_dir": str(tmp_path / "output"), "overwrite_output_dir": False}
    assert resolver.choose_resume(config, "auto") == config
    assert capsys.readouterr().err == f"[train.sh] no checkpoint in {tmp_path / 'output'}: starting from step 0\n"


def test_resume_auto_keeps_a_configured_checkpoint(tmp_path: Path) -> None:
    make_checkpoint(tmp_path, "checkpoint-4")
    config = {"output_dir": str(tmp_path), "resume_from_checkpoint": "/chosen/checkpoint-2"}
    chosen = resolver.choose_resume(config, "auto")
    assert chosen["resume_from_checkpoint"] == "/chosen/checkpoint-2" and chosen["overwrite_output_dir"] is False


def test_resume_never_and_explicit_path(tmp_path: Path) -> None:
    make_checkpoint(tmp_path, "checkpoint-4")
    config = {"output_dir": str(tmp_path), "resume_from_checkpoint": "/old"}
    never = resolver.choose_resume(config, "never")
    assert "resume_from_checkpoint" not in never and never["overwrite_output_dir"] is True
    explicit = resolver.choose_resume(config, "/elsewhere/checkpoint-9")
    assert explicit["resume_from_checkpoint"] == "/elsewhere/checkpoint-9" and explicit["overwrite_output_dir"] is False


# --- the command line ---


def test_main_writes_the_resolved_file_and_prints_output_dir(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "resolved.yaml"
    environment = {"OUTPUT_DIR": str(tmp_path / "output"), "LEARNING_RATE": "2e-5", "HF_TOKEN": FAKE_TOKEN}
    arguments = [f"--base={PAPER_CONFIG}", f"--output={output}", "--", "save_steps=7", "--odd=kept"]
    assert run_main(arguments, environment) == 0
    captured = capsys.readouterr()
    assert captured.out == f"{tmp_path / 'output'}\n"
    text = output.read_text(encoding="utf-8")
    header = f"# Resolved by run/train.sh from {PAPER_CONFIG}; this is the file llamafactory-cli trains with.\n"
    assert text.startswith(header)
    config = yaml.safe_load(text)
    paper = yaml.safe_load(PAPER_CONFIG.read_text(encoding="utf-8"))
    assert list(config)[: len(paper)] == list(paper)  # the base's key order is kept
    assert config["learning_rate"] == 2e-5 and config["save_steps"] == 7 and config["--odd"] == "kept"
    assert config["weight_decay"] == paper["weight_decay"] and config["report_to"] == "none"
    assert FAKE_TOKEN not in text + captured.out + captured.err


def test_main_smoke_mode(tmp_path: Path) -> None:
    output = tmp_path / "resolved.yaml"
    environment = {"MODEL_PATH": ".cache/smollm2-hf", "DATASET_DIR": ".cache/smoke/data"}
    assert run_main([f"--base={PAPER_CONFIG}", f"--output={output}", "--smoke"], environment) == 0
    config = yaml.safe_load(output.read_text(encoding="utf-8"))
    assert config["template"] == "smollm2" and config["output_dir"] == ".cache/smoke/output"
    assert config["model_name_or_path"] == ".cache/smollm2-hf" and "deepspeed" not in config


def bad_yaml(tmp_path: Path) -> Path:
    path = tmp_path / "bad.yaml"
    path.write_text(f"hf_token: {FAKE_TOKEN}\nlist: [1\nb: 2\n", encoding="utf-8")
    return path


def top_level_list(tmp_path: Path) -> Path:
    path = tmp_path / "list.yaml"
    path.write_text("- a\n- b\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("make_base", "extra", "environment", "message"),
    [
        (lambda tmp: tmp / "missing.yaml", [], {}, "no such config: {tmp}/missing.yaml"),
        (bad_yaml, [], {}, "{tmp}/bad.yaml: not valid YAML: expected ',' or ']', but got ':' at line 3, column 2"),
        (top_level_list, [], {}, "{tmp}/list.yaml: the top level must be a mapping of LLaMA-Factory arguments"),
        (lambda tmp: write_yaml(tmp / "base.yaml", {"stage": "sft"}), [], {}, "output_dir is not set"),
        (base_config, ["--", "output_dir=null"], {}, "output_dir is not set"),
        (base_config, ["--", "=leaked-text"], {}, "override without a key"),
        (base_config, ["--", "leaked-text"], {}, "an override has no '=' (expected key=value)"),
        (base_config, [], {"DEEPSPEED": "z2"}, "DEEPSPEED must be z3, z3_offload, none or a .json path, not 'z2'"),
        (base_config, ["--output={tmp}"], {}, "cannot write {tmp}: Is a directory"),
        (base_config, ["--resume"], {}, "argument --resume: expected one argument"),
    ],
)
def test_bad_input_is_one_line_naming_the_problem(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    make_base: Any,
    extra: list[str],
    environment: dict[str, str],
    message: str,
) -> None:
    base = make_base(tmp_path)
    extra = [item.format(tmp=tmp_path) for item in extra]
    output = [] if any(item.startswith("--output") for item in extra) else [f"--output={tmp_path / 'out.yaml'}"]
    assert run_main([f"--base={base}", *output, *extra], environment) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    errors = [line for line in captured.err.splitlines() if line.startswith("[train.sh] error: ")]
    assert errors == [captured.err.splitlines()[-1]]  # one line, the last (after the resume choice, if any)
    assert message.format(tmp=tmp_path) in errors[0] and "Traceback" not in captured.err
    assert FAKE_TOKEN not in captured.err and "leaked-text" not in captured.err
    assert not (tmp_path / "out.yaml").exists()


def test_missing_required_arguments() -> None:
    with pytest.raises(resolver.ConfigError, match="the following arguments are required: --base, --output"):
        resolver.parse_arguments([])


def test_command_line_exit_status_without_traceback(tmp_path: Path) -> None:
    base = base_config(tmp_path)
    command = [sys.executable, str(SCRIPT), f"--base={base}", f"--output={tmp_path / 'out.yaml'}"]
    failed = subprocess.run([*command, "--", "hf_hub_token=abc"], capture_output=True, text=True, timeout=60)
    assert failed.returncode == 2 and "Traceback" not in failed.stderr
    assert failed.stderr.startswith("[train.sh] error: 'hf_hub_token' must not be written into a config")
    succeeded = subprocess.run([*command, "--resume=never"], capture_output=True, text=True, timeout=60)
    assert succeeded.returncode == 0 and succeeded.stdout == f"{tmp_path / 'output'}\n"
    assert yaml.safe_load((tmp_path / "out.yaml").read_text())["overwrite_output_dir"] is True
