"""prepare_data end to end with injected loaders: no network is touched."""

from __future__ import annotations

import functools
import http.server
import importlib.util
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from datasets import Dataset

from dataloader import DataError, GatedDatasetError, SourceUnavailableError, load_samples
from dataloader.prepare import prepare_benchmark

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "data"
SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "prepare_data.py"


def raw_rows(benchmark: str) -> list[dict[str, Any]]:
    lines = (FIXTURES / f"{benchmark}.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


class FakeHub:
    """Stands in for `datasets.load_dataset`: records the call, returns an in-memory Dataset."""

    def __init__(self, rows: list[dict[str, Any]] | None = None, error: Exception | None = None) -> None:
        self.rows = rows or []
        self.error = error
        self.calls: list[tuple[str, str | None, str]] = []

    def __call__(self, path: str, name: str | None = None, *, split: str) -> Dataset:
        self.calls.append((path, name, split))
        if self.error is not None:
            raise self.error
        return Dataset.from_list(self.rows)


@pytest.mark.parametrize("benchmark", ["aime2024", "math500", "gpqa_diamond", "mbpp_sanitized"])
def test_prepare_writes_a_file_that_round_trips(benchmark: str, tmp_path: Path) -> None:
    hub = FakeHub(raw_rows(benchmark))
    result = prepare_benchmark(benchmark, tmp_path, loader=hub)
    assert result.path == tmp_path / benchmark / "test.jsonl"
    assert result.count == len(raw_rows(benchmark))
    assert load_samples(benchmark, result.path) == load_samples(benchmark, FIXTURES / f"{benchmark}.jsonl")
    assert [path.name for path in result.path.parent.iterdir()] == ["test.jsonl"]  # no temp file left


def test_loader_is_called_with_the_module_hub_source(tmp_path: Path) -> None:
    hub = FakeHub(raw_rows("mbpp_sanitized"))
    prepare_benchmark("mbpp_sanitized", tmp_path, loader=hub)
    assert hub.calls == [("google-research-datasets/mbpp", "sanitized", "test")]
    prepare_benchmark("mbpp_sanitized", tmp_path, source="someone/mbpp-mirror", loader=hub)
    assert hub.calls[-1] == ("someone/mbpp-mirror", "sanitized", "test")


def test_gpqa_file_keeps_the_unshuffled_raw_fields(tmp_path: Path) -> None:
    result = prepare_benchmark("gpqa_diamond", tmp_path, loader=FakeHub(raw_rows("gpqa_diamond")))
    first = json.loads(result.path.read_text(encoding="utf-8").splitlines()[0])
    assert first["target"] == "The z-component of the spin"
    assert "permutation" not in first["metadata"]
    assert {sample.target for sample in load_samples("gpqa_diamond", result.path, shuffle_options=False)} == {"B"}


def test_limit_and_the_size_note(tmp_path: Path) -> None:
    limited = prepare_benchmark("math500", tmp_path, limit=2, loader=FakeHub(raw_rows("math500")))
    assert limited.count == 2 and limited.notes == []
    full = prepare_benchmark("math500", tmp_path, loader=FakeHub(raw_rows("math500")))
    assert any("expected 500" in note for note in full.notes)


def test_exact_duplicates_are_dropped_and_conflicting_ids_rejected(tmp_path: Path) -> None:
    rows = raw_rows("aime2024")
    result = prepare_benchmark("aime2024", tmp_path, loader=FakeHub([*rows, rows[0]]))
    assert result.count == len(rows) and any("duplicate" in note for note in result.notes)
    with pytest.raises(DataError, match="record 5, field 'id': duplicate id '60'"):
        prepare_benchmark("aime2024", tmp_path, loader=FakeHub([*rows, {**rows[1], "id": 60}]))


def test_a_bad_hub_record_is_named_and_the_old_file_survives(tmp_path: Path) -> None:
    good = prepare_benchmark("math500", tmp_path, loader=FakeHub(raw_rows("math500")))
    before = good.path.read_bytes()
    broken = [*raw_rows("math500")[:2], {**raw_rows("math500")[2], "answer": ""}]
    with pytest.raises(DataError, match=r"hub HuggingFaceH4/MATH-500, record 3, field 'answer'"):
        prepare_benchmark("math500", tmp_path, loader=FakeHub(broken))
    assert good.path.read_bytes() == before


class GatedRepoError(Exception):
    """Named like huggingface_hub's error; `datasets` re-raises it as DatasetNotFoundError."""


def test_gated_dataset_gives_login_instructions(tmp_path: Path) -> None:
    refusal = RuntimeError("Dataset 'Idavidrein/gpqa' is a gated dataset on the Hub.")
    refusal.__cause__ = GatedRepoError("401 Client Error")
    with pytest.raises(GatedDatasetError) as caught:
        prepare_benchmark("gpqa_diamond", tmp_path, loader=FakeHub(error=refusal))
    message = str(caught.value)
    assert "https://huggingface.co/datasets/Idavidrein/gpqa" in message
    assert "huggingface-cli login" in message and "HF_TOKEN" in message


def test_unreachable_hub_falls_back_to_the_humaneval_package(tmp_path: Path) -> None:
    hub = FakeHub(error=ConnectionError("Couldn't reach 'openai/openai_humaneval' on the Hub"))
    result = prepare_benchmark("humaneval", tmp_path, loader=hub)
    assert result.count == 164 and "offline" in result.origin and result.notes
    assert len(load_samples("humaneval", result.path)) == 164


def test_offline_flag_never_calls_the_hub(tmp_path: Path) -> None:
    hub = FakeHub(error=AssertionError("the hub must not be called"))
    assert prepare_benchmark("humaneval", tmp_path, offline=True, limit=3, loader=hub).count == 3
    assert hub.calls == []


def test_unreachable_hub_without_offline_copy_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SourceUnavailableError, match="cannot reach HuggingFaceH4/MATH-500"):
        prepare_benchmark("math500", tmp_path, loader=FakeHub(error=ConnectionError("no route")))


def test_a_missing_hub_dataset_is_a_data_error_not_a_traceback(tmp_path: Path) -> None:
    from datasets.exceptions import DatasetNotFoundError

    missing = DatasetNotFoundError("Dataset 'someone/typo' doesn't exist on the Hub")
    with pytest.raises(SourceUnavailableError, match="cannot load someone/typo: Dataset 'someone/typo'"):
        prepare_benchmark("math500", tmp_path, source="someone/typo", loader=FakeHub(error=missing))


def test_commongen_without_source_says_where_to_get_it(tmp_path: Path) -> None:
    with pytest.raises(SourceUnavailableError) as caught:
        prepare_benchmark("commongen", tmp_path)
    assert "madaan/self-refine" in str(caught.value)
    assert "data/tasks/cg/commongen_hard.jsonl" in str(caught.value)


def test_commongen_from_a_local_file(tmp_path: Path) -> None:
    result = prepare_benchmark("commongen", tmp_path / "out", source=str(FIXTURES / "commongen.jsonl"))
    assert result.count == 3
    assert load_samples("commongen", result.path) == load_samples("commongen", FIXTURES / "commongen.jsonl")


def test_a_json_array_source_and_a_bad_line_in_a_jsonl_source(tmp_path: Path) -> None:
    array = tmp_path / "concepts.json"
    array.write_text(json.dumps(raw_rows("commongen")), encoding="utf-8")
    assert prepare_benchmark("commongen", tmp_path / "out", source=str(array)).count == 3
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"concepts": ["a", "b"]}\n{"concepts": \n', encoding="utf-8")
    with pytest.raises(DataError, match=r"broken\.jsonl, line 2: invalid JSON"):
        prepare_benchmark("commongen", tmp_path / "out", source=str(broken))


@pytest.fixture
def local_server() -> Iterator[str]:
    """A plain HTTP server on localhost serving the fixture directory."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(FIXTURES))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_commongen_from_a_url(tmp_path: Path, local_server: str) -> None:
    result = prepare_benchmark("commongen", tmp_path, source=f"{local_server}/commongen.jsonl")
    assert result.count == 3
    with pytest.raises(SourceUnavailableError, match="cannot download"):
        prepare_benchmark("commongen", tmp_path, source=f"{local_server}/missing.jsonl")


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("prepare_data_script", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fake_hub_loader(hub: FakeHub) -> Callable[[], FakeHub]:
    return lambda: hub


def test_script_prints_counts_and_exit_codes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("dataloader.prepare.hub_loader", fake_hub_loader(FakeHub(raw_rows("aime2024"))))
    script = load_script()
    assert script.main(["aime2024", "--out-dir", str(tmp_path)]) == 0
    assert "aime2024: wrote 4 samples" in capsys.readouterr().out
    assert script.main(["commongen", "--out-dir", str(tmp_path)]) == 1
    assert "madaan/self-refine" in capsys.readouterr().err


def test_script_reports_gated_datasets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    refusal = GatedRepoError("Access to dataset Idavidrein/gpqa is restricted.")
    monkeypatch.setattr("dataloader.prepare.hub_loader", fake_hub_loader(FakeHub(error=refusal)))
    assert load_script().main(["gpqa_diamond", "--out-dir", str(tmp_path)]) == 1
    assert "huggingface-cli login" in capsys.readouterr().err


def test_script_rejects_bad_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    script = load_script()
    for argv in ([], ["math-500"], ["math500", "aime2024", "--source", "x.jsonl"]):
        with pytest.raises(SystemExit) as caught:
            script.main(argv)
        assert caught.value.code == 2
    assert "valid: aime2024" in capsys.readouterr().err
