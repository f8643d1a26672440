"""Where media bytes live: a small protocol with local-disk and S3-compatible implementations.

Objects are content-addressed: the key is derived from the SHA-256 of the bytes, so storing the
same file twice keeps one copy. Keys are relative to the storage (``media/ab/<sha256>.flac``), so
the same key names the same bytes on every backend. Methods block: async callers run them in a
thread.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Protocol

from trax import workfiles

if TYPE_CHECKING:
    from boto3.s3.transfer import TransferConfig
    from botocore.exceptions import ClientError
    from mypy_boto3_s3 import S3Client

_CHUNK = 1 << 20
_PART = 8 * _CHUNK


def _transfer_config() -> TransferConfig:
    """Multipart above 8 MiB in 8 MiB parts, at most 4 in flight, and at most 8 downloaded
    chunks (256 KiB each) waiting for the disk: memory stays bounded whatever the file size."""
    from boto3.s3.transfer import TransferConfig  # boto3 costs ~0.5 s to import: only for S3

    return TransferConfig(
        multipart_threshold=_PART,
        multipart_chunksize=_PART,
        max_concurrency=4,
        max_io_queue=8,
        use_threads=True,
    )


NO_SUCH_OBJECT = "no stored object with key {key!r}"
#: The folders objects are kept in: uploaded media, and renders made from it.
MEDIA, RENDERS = "media", "renders"


@dataclass(frozen=True)
class StoredObject:
    key: str
    sha256: str
    size: int


class Storage(Protocol):
    def put_file(self, source: Path, suffix: str, folder: str = MEDIA) -> StoredObject:
        """Copy ``source`` in, hashing it on the way, under ``folder``; returns where it went."""
        ...

    def local_copy(self, key: str) -> contextlib.AbstractContextManager[Path]:
        """A local file with the object's bytes while the context is open (for decoding).

        Raises :class:`FileNotFoundError` when there is no such object.
        """
        ...

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None:
        """Remove the object; no error when it is already gone."""
        ...


def content_key(sha256: str, suffix: str, folder: str = MEDIA) -> str:
    """The storage key of bytes with this digest: ``media/ab/<sha256><suffix>`` (renders of
    captions into video live in ``renders/``, apart from the media that users upload)."""
    return f"{folder}/{sha256[:2]}/{sha256}{suffix.lower()}"


class LocalStorage:
    """Objects as files under ``root``: ``media/ab/<sha256><suffix>``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def put_file(self, source: Path, suffix: str, folder: str = MEDIA) -> StoredObject:
        incoming = self.root / workfiles.INCOMING
        incoming.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        fd, tmp_name = tempfile.mkstemp(dir=incoming, prefix=workfiles.owner_prefix())
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as dst, source.open("rb") as src:
                while block := src.read(_CHUNK):
                    digest.update(block)
                    dst.write(block)
                    size += len(block)
            sha = digest.hexdigest()
            key = content_key(sha, suffix, folder)
            target = self.root / key
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
        return StoredObject(key=key, sha256=sha, size=size)

    def local_path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise ValueError(f"storage key escapes the storage root: {key}")
        return path

    @contextlib.contextmanager
    def local_copy(self, key: str) -> Iterator[Path]:
        """The stored file itself: no copy is made."""
        path = self.local_path(key)
        if not path.is_file():
            raise FileNotFoundError(NO_SUCH_OBJECT.format(key=key))
        yield path

    def exists(self, key: str) -> bool:
        return self.local_path(key).is_file()

    def delete(self, key: str) -> None:
        self.local_path(key).unlink(missing_ok=True)


def s3_client(
    *,
    endpoint_url: str | None = None,
    region: str | None = None,
    access_key_id: str | None = None,
    secret_access_key: str | None = None,
) -> S3Client:
    """A thread-safe S3 client. Credentials not given come from boto3's usual chain.

    With an ``endpoint_url`` (MinIO, moto, Ceph …) buckets are addressed by path, which every
    S3-compatible server understands, instead of by host name.
    """
    import boto3.session  # ~0.5 s to import: only when S3 is configured (keeps the CLI fast)
    from botocore.config import Config

    session = boto3.session.Session(
        aws_access_key_id=access_key_id,
        aws_secret_access_key=secret_access_key,
        region_name=region,
    )
    config = Config(
        s3={"addressing_style": "path" if endpoint_url else "auto"}, retries={"mode": "standard"}
    )
    return session.client("s3", endpoint_url=endpoint_url, config=config)


def _client_error() -> type[ClientError]:
    """botocore's error class, imported only where S3 is used (botocore and the ssl and email
    modules it pulls in would cost every CLI command that opens the library)."""
    from botocore.exceptions import ClientError

    return ClientError


def _is_missing(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}


class S3Storage:
    """Objects in an S3 bucket under ``prefix``: ``<prefix>/media/ab/<sha256><suffix>``.

    Uploads and downloads stream in parts (never a whole file in memory). Decoding needs a local
    file, so :meth:`local_copy` downloads to ``scratch_dir`` for as long as it is open.
    """

    def __init__(
        self, client: S3Client, bucket: str, *, scratch_dir: Path, prefix: str = ""
    ) -> None:
        self.client = client
        self.bucket = bucket
        self.transfer = _transfer_config()
        self.scratch_dir = scratch_dir
        stripped = prefix.strip("/")
        self.prefix = f"{stripped}/" if stripped else ""

    def _name(self, key: str) -> str:
        return self.prefix + key

    def _size(self, key: str) -> int | None:
        """The stored object's size, or None when there is none."""
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self._name(key))
        except _client_error() as exc:
            if _is_missing(exc):
                return None
            raise
        return head["ContentLength"]

    def put_file(self, source: Path, suffix: str, folder: str = MEDIA) -> StoredObject:
        digest = hashlib.sha256()
        size = 0
        with source.open("rb") as src:
            while block := src.read(_CHUNK):
                digest.update(block)
                size += len(block)
        sha = digest.hexdigest()
        key = content_key(sha, suffix, folder)
        # Content-addressed: an object of the same size under this key holds these bytes
        # (S3 makes an object visible only once its upload is complete).
        if self._size(key) != size:
            self.client.upload_file(
                str(source),
                self.bucket,
                self._name(key),
                ExtraArgs={"Metadata": {"sha256": sha}},
                Config=self.transfer,
            )
        return StoredObject(key=key, sha256=sha, size=size)

    @contextlib.contextmanager
    def local_copy(self, key: str) -> Iterator[Path]:
        """Download to a private temporary file in ``scratch_dir``; removed on exit."""
        self.scratch_dir.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(
            dir=self.scratch_dir, prefix=workfiles.owner_prefix(), suffix=PurePosixPath(key).suffix
        )
        os.close(fd)
        path = Path(name)
        try:
            try:
                self.client.download_file(self.bucket, self._name(key), name, Config=self.transfer)
            except _client_error() as exc:
                if _is_missing(exc):
                    raise FileNotFoundError(NO_SUCH_OBJECT.format(key=key)) from exc
                raise
            yield path
        finally:
            path.unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        return self._size(key) is not None

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._name(key))
