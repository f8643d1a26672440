"""One typed settings object, read from the environment (``TRAX_`` prefix) and ``.env``."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal, Self

from platformdirs import user_cache_dir, user_data_dir
from pydantic import (
    Field,
    NonNegativeFloat,
    SecretStr,
    TypeAdapter,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

MB = 1024 * 1024
S3_BUCKET_REQUIRED = "TRAX_STORAGE_BACKEND=s3 needs a bucket: set TRAX_S3_BUCKET"
LEFTOVERS_TOO_SOON = (
    "TRAX_LEFTOVER_SECONDS ({leftover:.0f}) must be longer than TRAX_JOB_TIME_LIMIT_SECONDS "
    "({limit:.0f}): a running job's files would be removed"
)
_PRICES = TypeAdapter(dict[str, tuple[NonNegativeFloat, NonNegativeFloat]])
#: How much longer than the job time limit working files are kept by default.
_LEFTOVER_MARGIN_SECONDS = 3600.0


def _default_threads() -> int:
    """CTranslate2 intra-op threads: every core we are allowed to run on."""
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)


class Settings(BaseSettings):
    """Trax configuration. Every field can be set as ``TRAX_<NAME>`` in the environment."""

    model_config = SettingsConfigDict(
        env_prefix="TRAX_", env_file=".env", extra="ignore", frozen=True
    )

    data_dir: Path = Field(
        default_factory=lambda: Path(user_data_dir("trax", appauthor=False)),
        description="Where the embedded database and local media storage live.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy async URL; default: SQLite at <data_dir>/trax.db.",
    )
    model_cache_dir: Path = Field(
        default_factory=lambda: Path(user_cache_dir("trax", appauthor=False)) / "models",
        description="Where assembled and downloaded models are kept.",
    )
    default_model: str = Field(default="base", description="Model used when none is given.")
    extra_models: str = Field(
        default="",
        description="Comma-separated model names API users may ask for besides the offline "
        "ones `trax models` lists (e.g. `small,medium`: downloaded from the hub on first use).",
    )
    multipass_model: str | None = Field(
        default=None,
        description="A larger model the multipass stage re-decodes weak regions with (e.g. "
        "`small`); default: the model of the transcript it refines.",
    )
    diarization_model_dir: Path | None = Field(
        default=None,
        description="Directory holding the diarized stage's two ONNX files (default: the copies "
        "shipped with trax). Files are checked against their pinned SHA-256 before loading.",
    )
    api_any_model: bool = Field(
        default=False,
        description="Let API users name any model, including hub ids and directories on the "
        "server (off: only the offline models and TRAX_EXTRA_MODELS).",
    )
    max_file_bytes: int = Field(default=500 * MB, gt=0, description="Largest accepted input.")
    max_duration_seconds: float = Field(
        default=6 * 3600.0, gt=0, description="Longest accepted input, in seconds."
    )
    window_seconds: float = Field(
        default=600.0,
        ge=60.0,
        description="Audio is decoded and transcribed in windows of about this length.",
    )
    cpu_threads: int = Field(default_factory=_default_threads, ge=1)
    batch_size: int = Field(default=8, ge=1, description="Batched-inference batch size.")
    compute_type: str = Field(default="int8", description="CTranslate2 compute type.")
    model_idle_seconds: float = Field(
        default=300.0, gt=0, description="Unload a model after this long without work."
    )
    broker_url: str | None = Field(
        default=None,
        description="redis://… to queue jobs in Redis for `trax worker` processes; "
        "default: an in-process worker pool.",
    )
    queue_namespace: str = Field(default="trax", description="Prefix of the broker's keys.")
    worker_threads: int = Field(
        default=8, ge=1, description="Jobs in flight per worker process (their audio is batched)."
    )
    job_max_attempts: int = Field(default=3, ge=1, description="Tries before a job fails.")
    job_time_limit_seconds: float = Field(
        default=3 * 3600.0, gt=0, description="A job running longer than this fails."
    )
    lease_seconds: float = Field(
        default=60.0, gt=0, description="A running job whose heartbeat is older is re-queued."
    )
    sweep_interval_seconds: float = Field(
        default=15.0, gt=0, description="How often workers look for lost or stalled jobs."
    )
    leftover_seconds: float | None = Field(
        default=None,
        gt=0,
        description="Partial uploads, downloads and scratch copies untouched this long are "
        "removed (sooner when their process on this host is gone); default: the job time limit "
        "plus an hour. Must be longer than any upload or job.",
    )
    storage_backend: Literal["local", "s3"] = Field(
        default="local",
        description="Where media bytes are kept: under <data_dir>, or in an S3-compatible bucket.",
    )
    s3_bucket: str | None = Field(
        default=None, description="The bucket (must exist) when the storage backend is s3."
    )
    s3_prefix: str = Field(default="", description="Key prefix inside the bucket, e.g. `trax/`.")
    s3_endpoint_url: str | None = Field(
        default=None,
        description="URL of an S3-compatible server (MinIO, Ceph …); default: AWS S3.",
    )
    s3_region: str | None = Field(
        default=None, description="S3 region; default: boto3's usual configuration."
    )
    s3_access_key_id: str | None = Field(
        default=None, description="S3 access key; default: boto3's usual credential chain."
    )
    s3_secret_access_key: SecretStr | None = Field(
        default=None, description="S3 secret key; default: boto3's usual credential chain."
    )
    jwt_secret: SecretStr | None = Field(
        default=None,
        description="Key that signs access tokens; default: generated once into "
        "<data_dir>/jwt-secret. Set it when several API hosts share one database.",
    )
    access_token_minutes: float = Field(
        default=15.0, gt=0, description="Lifetime of a JWT access token."
    )
    allow_registration: bool = Field(
        default=True, description="Whether anyone may create an account with the API."
    )
    login_rate_limit: str = Field(
        default="10/minute",
        description="Login attempts allowed per client address and email (limits syntax); "
        "counted in Redis when a broker URL is set, else in process.",
    )
    login_address_rate_limit: str = Field(
        default="60/minute",
        description="Login attempts allowed per client address, whatever the emails.",
    )
    registration_rate_limit: str = Field(
        default="20/hour", description="Registrations allowed per client address."
    )
    trusted_proxies: str = Field(
        default="",
        description="Comma-separated addresses or networks of reverse proxies whose "
        "X-Forwarded-For names the client; default: none (the peer is the client).",
    )
    max_json_bytes: int = Field(
        default=1 * MB,
        gt=0,
        description="Largest request body other than a media upload (JSON, forms), in bytes.",
    )
    outbound_allow_loopback: bool = Field(
        default=False,
        description="Let URL ingest and webhooks reach 127.0.0.1/::1 (local development only).",
    )
    outbound_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        description="Connect/read timeout of URL downloads and webhooks (each step; see the "
        "deadlines for the whole).",
    )
    download_deadline_seconds: float = Field(
        default=600.0,
        gt=0,
        description="Longest a URL download may take in all, however slowly the server sends.",
    )
    webhook_deadline_seconds: float = Field(
        default=30.0,
        gt=0,
        description="Longest one webhook delivery attempt may take in all (connect, send, "
        "answer); a slower one is a timeout, retried later.",
    )
    webhook_worker_threads: int = Field(
        default=2,
        ge=1,
        description="Webhook deliveries in flight per process, on threads of their own: "
        "deliveries never take the threads of transcription jobs.",
    )
    webhook_test_rate_limit: str = Field(
        default="10/minute",
        description="Test events (ping) allowed per webhook endpoint (limits syntax).",
    )
    ws_max_connections_per_user: int = Field(
        default=20, ge=1, description="Open WebSockets allowed per user on each API process."
    )
    webhook_max_attempts: int = Field(
        default=8, ge=1, description="Delivery attempts before a webhook delivery fails."
    )
    webhook_min_backoff_seconds: float = Field(
        default=5.0, gt=0, description="First retry delay of a failed delivery (doubles, jitter)."
    )
    webhook_max_backoff_seconds: float = Field(
        default=3600.0, gt=0, description="Longest delay between delivery attempts."
    )

    llm_base_url: str = Field(
        default="https://api.deepseek.com/v1",
        description="Base URL of the OpenAI-compatible chat API the enhanced stage calls "
        "(`…/v1`: OpenAI, DeepSeek, a local llama.cpp, Ollama or vLLM server).",
    )
    llm_api_key: SecretStr | None = Field(
        default=None,
        description="API key of the chat API; unset, the enhanced stage is refused (a local "
        "server without keys takes any string).",
    )
    llm_model: str = Field(
        default="deepseek-chat", description="Chat model the enhanced stage uses."
    )
    llm_timeout_seconds: float = Field(
        default=120.0, gt=0, description="Longest one chat call may take before it is retried."
    )
    llm_concurrency: int = Field(
        default=4, ge=1, le=64, description="Chat calls in flight at once for one transcript."
    )
    llm_max_attempts: int = Field(
        default=5,
        ge=1,
        description="Tries of one chat call on 429, 5xx, timeouts (backoff with jitter, "
        "`Retry-After` honoured).",
    )
    llm_max_cost_usd: float | None = Field(
        default=0.10,
        gt=0,
        description="Most money the LLM may cost per transcript (all its enhanced versions); "
        "the stage stops before a call that would go over.",
    )
    llm_prices: str = Field(
        default="",
        description="Prices per million prompt and completion tokens, by model, as JSON (e.g. "
        '`{"my-model": [0.28, 0.42]}`): added to and overriding the built-in table.',
    )
    cpu_hour_usd: float = Field(
        default=0.04, ge=0, description="Price of one CPU-hour, for the compute cost of versions."
    )

    @field_validator("data_dir", "model_cache_dir")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return value.expanduser()

    @field_validator("llm_prices")
    @classmethod
    def _price_table(cls, value: str) -> str:
        if value.strip():
            _PRICES.validate_json(value)  # fails fast, naming what is wrong
        return value

    @property
    def llm_price_table(self) -> dict[str, tuple[float, float]]:
        """``TRAX_LLM_PRICES`` as {model: (prompt, completion)} USD per million tokens."""
        return _PRICES.validate_json(self.llm_prices) if self.llm_prices.strip() else {}

    @model_validator(mode="after")
    def _s3_needs_a_bucket(self) -> Self:
        if self.storage_backend == "s3" and not self.s3_bucket:
            raise ValueError(S3_BUCKET_REQUIRED)
        return self

    @model_validator(mode="after")
    def _leftovers_outlive_jobs(self) -> Self:
        leftover, limit = self.leftover_seconds, self.job_time_limit_seconds
        if leftover is not None and leftover <= limit:
            raise ValueError(LEFTOVERS_TOO_SOON.format(leftover=leftover, limit=limit))
        return self

    @property
    def leftover_age_seconds(self) -> float:
        """Working files untouched for longer than this are abandoned."""
        if self.leftover_seconds is not None:
            return self.leftover_seconds
        return self.job_time_limit_seconds + _LEFTOVER_MARGIN_SECONDS

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to the embedded SQLite file."""
        return self.database_url or f"sqlite+aiosqlite:///{self.data_dir / 'trax.db'}"

    @property
    def extra_model_names(self) -> list[str]:
        return [n.strip() for n in self.extra_models.split(",") if n.strip()]

    @property
    def media_dir(self) -> Path:
        """Root of local media storage."""
        return self.data_dir / "media"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (read once)."""
    return Settings()
