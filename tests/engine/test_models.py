"""Model resolution and the one-time, verified, atomic assembly of ``base``."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import pytest

from trax import errors
from trax.engine.models import (
    BASE_DIR_NAME,
    BASE_SHA256,
    LoadOptions,
    ModelCache,
    ModelSource,
    assemble_base,
    offline_models,
    resolve,
)


def test_tiny_en_is_bundled_and_ready(tmp_path: Path) -> None:
    ref = resolve("tiny.en", tmp_path)
    assert ref.source is ModelSource.BUNDLED
    assert (Path(ref.location) / "model.bin").is_file()
    assert not any(tmp_path.iterdir()), "nothing is written for a bundled model"


def test_base_is_assembled_once_verified_and_atomically(tmp_path: Path) -> None:
    results: list[Path] = []
    threads = [
        threading.Thread(target=lambda: results.append(assemble_base(tmp_path))) for _ in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    target = tmp_path / BASE_DIR_NAME
    assert results == [target, target]
    digest = hashlib.sha256((target / "model.bin").read_bytes()).hexdigest()
    assert digest == BASE_SHA256
    assert sorted(p.name for p in target.iterdir()) == [
        "config.json", "model.bin", "tokenizer.json", "vocabulary.json",
    ]  # fmt: skip
    assert [p.name for p in tmp_path.iterdir()] == [BASE_DIR_NAME], "no temporary leftovers"
    mtime = (target / "model.bin").stat().st_mtime_ns
    assert resolve("base", tmp_path).location == str(target)
    assert (target / "model.bin").stat().st_mtime_ns == mtime, "second use does not rebuild"


def test_offline_listing_and_local_directories(tmp_path: Path) -> None:
    tiny = Path(resolve("tiny.en", tmp_path).location)
    names = [m.name for m in offline_models(tmp_path)]
    assert names[:2] == ["tiny.en", "base"]
    local = resolve(str(tiny), tmp_path)
    assert local.source is ModelSource.LOCAL
    with pytest.raises(errors.ModelError, match=r"no model\.bin"):
        resolve(str(tmp_path), tmp_path)


def test_hub_names_keep_the_download_path_and_fail_clearly_offline(tmp_path: Path) -> None:
    ref = resolve("small", tmp_path)
    assert ref.source is ModelSource.HUB
    assert not ref.offline
    with pytest.raises(
        errors.ModelError, match=r"small: cannot load model \(not available offline"
    ):
        ModelCache().get(ref, LoadOptions(cpu_threads=1), tmp_path)
