"""Media storage: local disk, and a real S3-protocol server (moto, in its own process)."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio.to_thread
import psutil
import pytest
from pydantic import SecretStr, ValidationError

from trax.config import S3_BUCKET_REQUIRED, Settings
from trax.media.service import Limits, stage_file
from trax.runtime import build_storage, open_runtime
from trax.storage import LocalStorage, S3Storage, Storage

from .conftest import KEY_ID, REGION, SECRET, S3Server, copy_media

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

MiB = 1 << 20


@pytest.fixture
def s3_storage(s3: S3Client, bucket: str, tmp_path: Path) -> S3Storage:
    return S3Storage(s3, bucket, prefix="trax", scratch_dir=tmp_path / "scratch")


@pytest.fixture(params=["local", "s3"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    if request.param == "local":
        return LocalStorage(tmp_path / "store")
    s3_store: S3Storage = request.getfixturevalue("s3_storage")
    return s3_store


def stored_keys(storage: Storage) -> list[str]:
    """Every object the storage holds, by key."""
    if isinstance(storage, LocalStorage):
        media = storage.root / "media"
        return sorted(
            p.relative_to(storage.root).as_posix() for p in media.rglob("*") if p.is_file()
        )
    assert isinstance(storage, S3Storage)
    listing = storage.client.list_objects_v2(Bucket=storage.bucket)
    return sorted(o["Key"].removeprefix(storage.prefix) for o in listing.get("Contents", []))


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(MiB):
            digest.update(block)
    return digest.hexdigest()


def read_copy(storage: Storage, key: str) -> bytes:
    with storage.local_copy(key) as path:
        return path.read_bytes()


# --- every backend -----------------------------------------------------------------------------


def test_a_recording_is_stored_under_its_sha256(storage: Storage, media: Path) -> None:
    source = media / "jfk.flac"
    sha = sha256_of(source)

    stored = storage.put_file(source, ".FLAC")

    assert stored.sha256 == sha
    assert stored.size == source.stat().st_size
    assert stored.key == f"media/{sha[:2]}/{sha}.flac"
    assert storage.exists(stored.key)
    assert stored_keys(storage) == [stored.key]
    assert read_copy(storage, stored.key) == source.read_bytes()


def test_the_same_bytes_twice_are_one_object(storage: Storage, media: Path, tmp_path: Path) -> None:
    renamed = copy_media(media / "sample.wav", tmp_path / "in", "other-name.wav")

    first = storage.put_file(media / "sample.wav", ".wav")
    second = storage.put_file(renamed, ".wav")

    assert second == first
    assert stored_keys(storage) == [first.key]


def test_different_recordings_are_different_objects(storage: Storage, media: Path) -> None:
    a = storage.put_file(media / "jfk.flac", ".flac")
    b = storage.put_file(media / "apollo11.mp3", ".mp3")

    assert stored_keys(storage) == sorted([a.key, b.key])
    assert read_copy(storage, b.key) == (media / "apollo11.mp3").read_bytes()


def test_delete_removes_the_object_and_tolerates_a_missing_one(
    storage: Storage, media: Path
) -> None:
    stored = storage.put_file(media / "hotwords.mp3", ".mp3")

    storage.delete(stored.key)
    storage.delete(stored.key)

    assert not storage.exists(stored.key)
    assert stored_keys(storage) == []
    with pytest.raises(FileNotFoundError), storage.local_copy(stored.key):
        pass


# --- S3 ----------------------------------------------------------------------------------------


def test_s3_objects_live_under_the_prefix(s3_storage: S3Storage, media: Path) -> None:
    stored = s3_storage.put_file(media / "jfk.flac", ".flac")

    head = s3_storage.client.head_object(Bucket=s3_storage.bucket, Key=f"trax/{stored.key}")
    assert head["ContentLength"] == stored.size
    assert head["Metadata"] == {"sha256": stored.sha256}


def test_s3_skips_uploading_bytes_it_already_has(s3_storage: S3Storage, media: Path) -> None:
    uploads: list[str] = []

    def count(event_name: str, **_: Any) -> None:
        uploads.append(event_name)

    events = s3_storage.client.meta.events
    events.register("before-call.s3.PutObject", count)
    events.register("before-call.s3.CreateMultipartUpload", count)

    s3_storage.put_file(media / "jfk.flac", ".flac")
    s3_storage.put_file(media / "jfk.flac", ".flac")

    assert len(uploads) == 1


def test_s3_local_copy_is_a_scratch_file_removed_on_exit(
    s3_storage: S3Storage, media: Path
) -> None:
    stored = s3_storage.put_file(media / "jfk.flac", ".flac")

    with s3_storage.local_copy(stored.key) as path:
        assert path.parent == s3_storage.scratch_dir
        assert path.suffix == ".flac"
        assert path.read_bytes() == (media / "jfk.flac").read_bytes()

    assert not path.exists()
    assert list(s3_storage.scratch_dir.iterdir()) == []


def test_s3_missing_object_leaves_no_scratch_file(s3_storage: S3Storage) -> None:
    with pytest.raises(FileNotFoundError), s3_storage.local_copy("media/00/nothing.flac"):
        pass

    assert list(s3_storage.scratch_dir.iterdir()) == []


def test_local_copy_of_local_storage_is_the_stored_file(tmp_path: Path, media: Path) -> None:
    storage = LocalStorage(tmp_path / "store")
    stored = storage.put_file(media / "jfk.flac", ".flac")

    with storage.local_copy(stored.key) as path:
        assert path == storage.local_path(stored.key)

    assert path.exists()


@dataclass
class PeakRss:
    """The largest growth of this process's resident memory while the block runs."""

    interval: float = 0.002
    growth: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)

    def __enter__(self) -> PeakRss:
        process = psutil.Process()
        baseline = process.memory_info().rss

        def sample() -> None:
            while not self._stop.is_set():
                self.growth = max(self.growth, process.memory_info().rss - baseline)
                time.sleep(self.interval)

        self._thread = threading.Thread(target=sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def random_file(path: Path, size: int) -> Path:
    with path.open("wb") as f:
        for _ in range(size // MiB):
            f.write(os.urandom(MiB))
    return path


def test_s3_large_files_stream_in_parts(s3_storage: S3Storage, tmp_path: Path) -> None:
    size = 40 * MiB
    big = random_file(tmp_path / "big.wav", size)
    # Warm up (connection pool, transfer threads) so that only the transfers are measured.
    warm = s3_storage.put_file(big, ".wav")
    with s3_storage.local_copy(warm.key):
        s3_storage.delete(warm.key)

    with PeakRss() as upload:
        stored = s3_storage.put_file(big, ".wav")
    with PeakRss() as download, s3_storage.local_copy(stored.key) as copy:
        copied_sha = sha256_of(copy)

    head = s3_storage.client.head_object(Bucket=s3_storage.bucket, Key=f"trax/{stored.key}")
    assert head["ContentLength"] == size
    assert head["ETag"].strip('"').endswith("-5")  # five 8 MiB parts
    assert copied_sha == stored.sha256
    assert upload.growth < size // 4, f"upload grew RSS by {upload.growth / MiB:.1f} MiB"
    assert download.growth < size // 4, f"download grew RSS by {download.growth / MiB:.1f} MiB"


# --- configuration and the runtime -------------------------------------------------------------


def test_s3_backend_needs_a_bucket(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match=S3_BUCKET_REQUIRED):
        Settings(data_dir=tmp_path, storage_backend="s3")


def test_local_is_the_default_backend(tmp_path: Path) -> None:
    storage = build_storage(Settings(data_dir=tmp_path))

    assert isinstance(storage, LocalStorage)
    assert storage.root == tmp_path


@pytest.mark.anyio
async def test_the_runtime_stages_media_in_the_configured_bucket(
    s3_server: S3Server, s3: S3Client, bucket: str, tmp_path: Path, media: Path
) -> None:
    settings = Settings(
        data_dir=tmp_path / "data",
        storage_backend="s3",
        s3_bucket=bucket,
        s3_prefix="/tenant-a/",
        s3_endpoint_url=s3_server.endpoint_url,
        s3_region=REGION,
        s3_access_key_id=KEY_ID,
        s3_secret_access_key=SecretStr(SECRET),
    )
    source = media / "jfk.flac"

    async with open_runtime(settings) as rt:
        staged = await stage_file(rt.storage, source, Limits(max_bytes=10 * MiB, max_duration=60))
        copied = await anyio.to_thread.run_sync(read_copy, rt.storage, staged.stored.key)

    assert isinstance(rt.storage, S3Storage)
    assert staged.probe.duration == pytest.approx(11.0, abs=0.5)
    head = s3.head_object(Bucket=bucket, Key=f"tenant-a/{staged.stored.key}")
    assert head["ContentLength"] == source.stat().st_size
    assert copied == source.read_bytes()
    assert list((tmp_path / "data" / "scratch").iterdir()) == []
