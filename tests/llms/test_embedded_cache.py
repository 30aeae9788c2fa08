"""The embedded model's converted cache: where it lives, what it is keyed by, and that it is whole."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from agentverse.llms import embedded, transformers_backend
from agentverse.llms.embedded import STAGING_PREFIX, cache_root, converted_folder, write_atomically


def test_the_cache_root_follows_the_environment(tmp_path: Path) -> None:
    assert cache_root({"AGENTVERSE_CACHE": str(tmp_path / "mine")}) == tmp_path / "mine"
    assert cache_root({"XDG_CACHE_HOME": str(tmp_path)}) == tmp_path / "agentverse"
    assert cache_root({}) == Path.home() / ".cache" / "agentverse"


def test_the_folder_changes_when_the_gguf_file_does(tmp_path: Path) -> None:
    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"weights")
    first = converted_folder(gguf, tmp_path / "cache")
    assert first == converted_folder(gguf, tmp_path / "cache")
    os.utime(gguf, ns=(gguf.stat().st_atime_ns, gguf.stat().st_mtime_ns + 1_000_000_000))  # reinstalled
    assert converted_folder(gguf, tmp_path / "cache") != first
    assert first.parent == tmp_path / "cache" / "models"


def write_two_files(folder: Path) -> None:
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(b"weights")


def test_a_complete_folder_is_renamed_into_place(tmp_path: Path) -> None:
    target = tmp_path / "cache" / "model"
    assert write_atomically(target, write_two_files) == target
    assert sorted(path.name for path in target.iterdir()) == ["config.json", "model.safetensors"]
    assert [path.name for path in target.parent.iterdir()] == ["model"]  # no staging folder left


def test_a_conversion_that_fails_halfway_leaves_no_folder(tmp_path: Path) -> None:
    target = tmp_path / "cache" / "model"

    def crash_after_one_file(folder: Path) -> None:
        (folder / "config.json").write_text("{}")
        raise KeyboardInterrupt  # Ctrl-C in the middle of writing the weights

    with pytest.raises(KeyboardInterrupt):
        write_atomically(target, crash_after_one_file)
    assert not target.exists() and list(target.parent.iterdir()) == []


def test_staging_left_by_a_killed_conversion_is_removed_once_stale(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    stale, recent = cache / f"{STAGING_PREFIX}old-1", cache / f"{STAGING_PREFIX}running-2"
    for folder in (stale, recent):
        folder.mkdir(parents=True)
        (folder / "config.json").write_text("{}")
    two_hours_ago = time.time() - 7200
    os.utime(stale, (two_hours_ago, two_hours_ago))
    write_atomically(cache / "model", write_two_files)
    assert sorted(path.name for path in cache.iterdir()) == [recent.name, "model"]  # another may still be writing


def test_a_folder_that_holds_files_is_never_written_into(tmp_path: Path) -> None:
    target = tmp_path / "model"
    target.mkdir()
    (target / "half-written.bin").write_bytes(b"x")
    with pytest.raises(FileExistsError, match="not empty"):
        write_atomically(target, write_two_files)
    assert [path.name for path in target.iterdir()] == ["half-written.bin"]


def test_a_writer_that_lost_the_race_keeps_the_winner(tmp_path: Path) -> None:
    target = tmp_path / "model"

    def another_process_finishes_first(folder: Path) -> None:
        write_two_files(folder)
        target.mkdir()
        (target / "config.json").write_text('{"winner": true}')

    assert write_atomically(target, another_process_finishes_first) == target
    assert (target / "config.json").read_text() == '{"winner": true}'
    assert [path.name for path in tmp_path.iterdir()] == ["model"]


@pytest.mark.slow
def test_the_embedded_model_converts_once_then_loads_from_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AGENTVERSE_CACHE", str(tmp_path))
    first = transformers_backend.LoadedModel("embedded:smollm2")  # converts: nothing cached under tmp_path yet
    folder = embedded.embedded_model_folder()
    assert folder.is_dir() and (folder / "config.json").is_file() and folder.parent.parent == tmp_path
    assert "Converting and de-quantizing" not in capfd.readouterr().err  # the library's bars stay quiet

    def no_conversion(*args: object) -> Path:
        raise AssertionError("converted again")

    monkeypatch.setattr(transformers_backend, "convert_gguf", no_conversion)
    second = transformers_backend.LoadedModel("embedded:smollm2")
    prompt = [{"role": "user", "content": "Name three colours."}]
    assert first.render(prompt) == second.render(prompt) and second.eos_token_ids == first.eos_token_ids
    for loaded in (first, second):
        assert loaded.model.dtype.is_floating_point and loaded.context_length == first.context_length
