"""Transcription options from any edge, checked once, with the same limits for the CLI and the API.

The CLI is the operator on their own machine: it may name any model (a size name, a model
directory, a hub id). API users may only name the models the server offers (the offline ones
``trax models`` lists plus ``TRAX_EXTRA_MODELS``), unless the operator sets
``TRAX_API_ANY_MODEL``: a client's model name is never resolved against the server's disk or
sent to the hub on its own say.
"""

from __future__ import annotations

from trax import errors
from trax.config import Settings
from trax.engine.models import offline_models
from trax.engine.options import TranscribeOptions

TASKS = ("transcribe", "translate")
BEAM_SIZE_MIN, BEAM_SIZE_MAX = 1, 10
MAX_PROMPT_CHARS = 2000
MAX_MODEL_CHARS = 512

UNKNOWN_LANGUAGE = "unknown language code {code!r} (use an ISO 639-1 code such as en, de, fr)"
ENGLISH_ONLY = "model {model} is English-only: it cannot {what}"
UNKNOWN_TASK = "must be transcribe or translate, not {task!r}"
BEAM_RANGE = "must be between {low} and {high}, not {value}"
PROMPT_TOO_LONG = "is {length} characters long, over the {limit}-character limit"
MODEL_NOT_OFFERED = "{model!r} is not offered by this server; choose one of: {names}"
EMPTY = "must not be empty"


def offered_models(settings: Settings) -> list[str]:
    """The model names API users may ask for."""
    names = [m.name for m in offline_models(settings.model_cache_dir)]
    names += [settings.default_model, *settings.extra_model_names]
    return list(dict.fromkeys(names))


def check_model(settings: Settings, model: str, *, trusted: bool, field: str = "model") -> str:
    """A model name the caller may use: any for the operator, else one the server offers."""
    name = model.strip()
    if not name:
        raise errors.InvalidOptionError(field, EMPTY)
    if not trusted and not settings.api_any_model:
        offered = offered_models(settings)
        if name not in offered or len(name) > MAX_MODEL_CHARS:
            raise errors.InvalidOptionError(
                field, MODEL_NOT_OFFERED.format(model=name[:80], names=", ".join(offered))
            )
    return name


def normalize_language(code: str | None) -> str | None:
    """``EN`` → ``en``; blank → None (detect); unknown codes are refused."""
    if code is None or not code.strip():
        return None
    from faster_whisper.tokenizer import _LANGUAGE_CODES  # loaded only when a language is given

    normalized = code.strip().lower()
    if normalized not in _LANGUAGE_CODES:
        raise errors.InvalidOptionError("language", UNKNOWN_LANGUAGE.format(code=code))
    return normalized


def _english_only(model: str) -> bool:
    return model.rstrip("/").lower().endswith(".en")


def transcribe_options(
    settings: Settings,
    *,
    trusted: bool,
    model: str | None = None,
    language: str | None = None,
    task: str = "transcribe",
    beam_size: int = 5,
    vad: bool = True,
    initial_prompt: str | None = None,
    hotwords: str | None = None,
) -> TranscribeOptions:
    """Checked options; :class:`~trax.errors.InvalidOptionError` names the first bad one.
    ``trusted``: the operator (CLI), who may name any model."""
    name = check_model(settings, model or settings.default_model, trusted=trusted)
    code = normalize_language(language)
    if task not in TASKS:
        raise errors.InvalidOptionError("task", UNKNOWN_TASK.format(task=task))
    if _english_only(name) and code not in (None, "en"):
        raise errors.InvalidOptionError(
            "language", ENGLISH_ONLY.format(model=name, what=f"transcribe {code!r}")
        )
    if _english_only(name) and task == "translate":
        raise errors.InvalidOptionError("task", ENGLISH_ONLY.format(model=name, what="translate"))
    if not BEAM_SIZE_MIN <= beam_size <= BEAM_SIZE_MAX:
        raise errors.InvalidOptionError(
            "beam_size", BEAM_RANGE.format(low=BEAM_SIZE_MIN, high=BEAM_SIZE_MAX, value=beam_size)
        )
    prompts = {"initial_prompt": initial_prompt or None, "hotwords": hotwords or None}
    for field, prompt in prompts.items():
        if prompt is not None and len(prompt) > MAX_PROMPT_CHARS:
            reason = PROMPT_TOO_LONG.format(length=len(prompt), limit=MAX_PROMPT_CHARS)
            raise errors.InvalidOptionError(field, reason)
    return TranscribeOptions(model=name, language=code, task=task, beam_size=beam_size, vad=vad,
                             **prompts)  # fmt: skip
