"""Pipeline stages and presets, checked once for every edge, and how each stage runs.

A *stage* turns a parent transcript version (and the media) into a new version; its *recipe* is
its name and its checked options, and identifies its result: the same parent and recipe are
stored once. ``basic`` is the first transcription (options: :class:`TranscribeOptions`); the
others refine a stored version. A *preset* (``--pipeline v3``) names the stages that follow the
first transcription; ``enhanced`` always runs last.

Stage code is plain engine code (:mod:`trax.engine`); this module only names, checks and calls it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from trax import errors
from trax.config import Settings

if TYPE_CHECKING:  # the engine is imported only where a stage runs
    from trax.engine.asr import Transcriber
    from trax.engine.audio import MediaProbe
    from trax.engine.llm import LlmSession
    from trax.engine.result import TranscriptDocument

BASIC, MULTIPASS, DIARIZED, ENHANCED = "basic", "multipass", "diarized", "enhanced"
#: A person's correction (:mod:`trax.transcripts.edits`): a manual stage, never run.
EDITED = "edited"
STAGES = (BASIC, MULTIPASS, DIARIZED, ENHANCED, EDITED)
#: Stages made by people, not run by workers.
MANUAL = (EDITED,)
#: The stages after the first transcription, per preset (enhanced last whenever it is in one).
PRESETS: dict[str, tuple[str, ...]] = {
    "v1": (),
    "v2": (ENHANCED,),
    "v3": (MULTIPASS,),
    "v4": (MULTIPASS, DIARIZED),
}
#: Stages that refine a stored version and can run in this build.
AVAILABLE = (MULTIPASS, DIARIZED, ENHANCED)

Scalar = str | int | float | bool | None
#: Keys of a job's ``options`` that hold its stages and the version they start from.
STAGES_KEY, PARENT_KEY = "stages", "parent_version"
UNKNOWN_STAGE = "unknown stage {name!r}: choose one of {names}"
NOT_AVAILABLE = "stage {name!r} is not available in this version of trax (available: {names})"
FIRST_STAGE = "basic is the first transcription: transcribe the media again instead"
MANUAL_STAGE = "{name} versions are made by correcting the text (POST …/edits), not run"
UNKNOWN_PIPELINE = "unknown pipeline {name!r}: choose one of {names}"
PIPELINE_NOT_AVAILABLE = "pipeline {name} needs the {stage} stage, which is not available yet"
UNKNOWN_OPTION = "unknown option of stage {stage}; it has: {names}"
BAD_OPTION = "{reason}"
LLM_NOT_CONFIGURED = (
    "the enhanced stage needs a chat API: set TRAX_LLM_API_KEY (any string for a local server "
    "without keys) and, for another provider than DeepSeek, TRAX_LLM_BASE_URL and TRAX_LLM_MODEL"
)
LLM_MODEL_FIXED = "API users get the configured model ({model}); leave options.model out"
ENHANCE_RANGES: dict[str, tuple[float, float]] = {
    "chunk_words": (20, 4000),
    "overlap_words": (0, 500),
    "max_edit_ratio": (0.0, 1.0),
    "max_new_words": (0.0, 1.0),
}
OUT_OF_RANGE = "must be between {low:g} and {high:g}, not {value:g}"


@dataclass(frozen=True)
class StageRequest:
    """A stage with its checked options: a recipe."""

    stage: str
    options: dict[str, Scalar]

    @property
    def recipe_key(self) -> str:
        canonical = json.dumps([self.stage, self.options], sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    def as_dict(self) -> dict[str, Any]:
        return {"stage": self.stage, "options": self.options}

    @classmethod
    def from_dict(cls, value: Mapping[str, Any]) -> StageRequest:
        return cls(stage=str(value["stage"]), options=dict(value.get("options") or {}))


def _multipass(settings: Settings, options: Mapping[str, Any], trusted: bool) -> dict[str, Scalar]:
    from trax.engine.multipass import MultipassOptions
    from trax.transcripts.options import (
        BEAM_RANGE,
        BEAM_SIZE_MAX,
        BEAM_SIZE_MIN,
        MAX_PROMPT_CHARS,
        PROMPT_TOO_LONG,
        check_model,
    )

    checked = _dataclass_options(MULTIPASS, MultipassOptions, options)
    if checked.get("model") is not None:
        checked["model"] = check_model(
            settings, str(checked["model"]), trusted=trusted, field="options.model"
        )
    else:  # the operator's choice: trusted
        checked["model"] = settings.multipass_model
    hotwords = checked.get("hotwords")
    if isinstance(hotwords, str) and len(hotwords) > MAX_PROMPT_CHARS:
        reason = PROMPT_TOO_LONG.format(length=len(hotwords), limit=MAX_PROMPT_CHARS)
        raise errors.InvalidOptionError("options.hotwords", reason)
    beam = checked.get("beam_size")
    if isinstance(beam, int) and not BEAM_SIZE_MIN <= beam <= BEAM_SIZE_MAX:
        reason = BEAM_RANGE.format(low=BEAM_SIZE_MIN, high=BEAM_SIZE_MAX, value=beam)
        raise errors.InvalidOptionError("options.beam_size", reason)
    return MultipassOptions(**checked).as_dict()  # defaults filled in: the recipe is complete


SPEAKERS_RANGE = "must be between 1 and {high}, got {value}"
MIN_OVER_MAX_SPEAKERS = "min_speakers ({low}) must not exceed max_speakers ({high})"
EXACT_AND_RANGE = "give either speakers or min_speakers/max_speakers, not both"


def _diarized(settings: Settings, options: Mapping[str, Any], trusted: bool) -> dict[str, Scalar]:
    from trax.engine.diarization import MAX_SPEAKERS, DiarizeOptions

    checked = _dataclass_options(DIARIZED, DiarizeOptions, options)
    for key in ("speakers", "min_speakers", "max_speakers"):
        value = checked.get(key)
        if value is not None and not 1 <= value <= MAX_SPEAKERS:
            reason = SPEAKERS_RANGE.format(high=MAX_SPEAKERS, value=value)
            raise errors.InvalidOptionError(f"options.{key}", reason)
    low, high = checked.get("min_speakers"), checked.get("max_speakers")
    if checked.get("speakers") is not None and (low is not None or high is not None):
        raise errors.InvalidOptionError("options.speakers", EXACT_AND_RANGE)
    if low is not None and high is not None and low > high:
        reason = MIN_OVER_MAX_SPEAKERS.format(low=low, high=high)
        raise errors.InvalidOptionError("options.min_speakers", reason)
    return DiarizeOptions(**checked).as_dict()


def _dataclass_options(stage: str, cls: type[Any], options: Mapping[str, Any]) -> dict[str, Any]:
    """``options`` checked against the fields of the stage's options dataclass (strict types:
    ``"8"`` is not a beam size)."""
    from pydantic import TypeAdapter, ValidationError

    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    checked: dict[str, Any] = {}
    for key, value in options.items():
        if key not in names:
            reason = UNKNOWN_OPTION.format(stage=stage, names=", ".join(names))
            raise errors.InvalidOptionError(f"options.{key}", reason)
        try:
            checked[key] = TypeAdapter(hints[key]).validate_python(value, strict=True)
        except ValidationError as exc:
            reason = BAD_OPTION.format(reason=exc.errors()[0]["msg"])
            raise errors.InvalidOptionError(f"options.{key}", reason) from exc
    return checked


def _enhanced(settings: Settings, options: Mapping[str, Any], trusted: bool) -> dict[str, Scalar]:
    from trax.engine.enhance import PROMPT_VERSION, EnhanceOptions
    from trax.transcripts.options import MAX_PROMPT_CHARS, PROMPT_TOO_LONG

    if settings.llm_api_key is None:
        raise errors.InvalidOptionError("stage", LLM_NOT_CONFIGURED)
    checked = _dataclass_options(ENHANCED, EnhanceOptions, options)
    model = checked.get("model")
    if model is not None and model != settings.llm_model and not trusted:
        raise errors.InvalidOptionError(
            "options.model", LLM_MODEL_FIXED.format(model=settings.llm_model)
        )
    checked["model"] = model or settings.llm_model
    checked["prompt_version"] = PROMPT_VERSION  # not the caller's to choose
    for name, (low, high) in ENHANCE_RANGES.items():
        value = checked.get(name)
        if isinstance(value, int | float) and not low <= value <= high:
            reason = OUT_OF_RANGE.format(low=low, high=high, value=value)
            raise errors.InvalidOptionError(f"options.{name}", reason)
    vocabulary = checked.get("vocabulary")
    if isinstance(vocabulary, str) and len(vocabulary) > MAX_PROMPT_CHARS:
        reason = PROMPT_TOO_LONG.format(length=len(vocabulary), limit=MAX_PROMPT_CHARS)
        raise errors.InvalidOptionError("options.vocabulary", reason)
    filled: dict[str, Any] = checked
    return EnhanceOptions(**filled).as_dict()


_CHECKS: dict[str, Callable[[Settings, Mapping[str, Any], bool], dict[str, Scalar]]] = {
    MULTIPASS: _multipass,
    DIARIZED: _diarized,
    ENHANCED: _enhanced,
}


def stage_request(
    settings: Settings, stage: str, options: Mapping[str, Any] | None = None, *, trusted: bool
) -> StageRequest:
    """A checked stage and options; :class:`~trax.errors.InvalidOptionError` names what is
    wrong. ``trusted``: the operator (CLI), who may name any model."""
    name = stage.strip().lower()
    if name not in STAGES:
        raise errors.InvalidOptionError(
            "stage", UNKNOWN_STAGE.format(name=stage[:40], names=", ".join(AVAILABLE))
        )
    if name == BASIC:
        raise errors.InvalidOptionError("stage", FIRST_STAGE)
    if name in MANUAL:
        raise errors.InvalidOptionError("stage", MANUAL_STAGE.format(name=name))
    if name not in AVAILABLE:
        raise errors.InvalidOptionError(
            "stage", NOT_AVAILABLE.format(name=name, names=", ".join(AVAILABLE))
        )
    return StageRequest(name, _CHECKS[name](settings, options or {}, trusted))


def pipeline_stages(
    settings: Settings, pipeline: str | None, *, trusted: bool
) -> list[StageRequest]:
    """The stages a preset runs after the first transcription (none for ``v1``/None)."""
    if pipeline is None or not pipeline.strip():
        return []
    name = pipeline.strip().lower()
    if name not in PRESETS:
        raise errors.InvalidOptionError(
            "pipeline", UNKNOWN_PIPELINE.format(name=pipeline[:40], names=", ".join(PRESETS))
        )
    for stage in PRESETS[name]:
        if stage not in AVAILABLE:
            raise errors.InvalidOptionError(
                "pipeline", PIPELINE_NOT_AVAILABLE.format(name=name, stage=stage)
            )
    try:
        return [stage_request(settings, stage, trusted=trusted) for stage in PRESETS[name]]
    except errors.InvalidOptionError as exc:  # e.g. no chat API configured: the preset's fault
        raise errors.InvalidOptionError("pipeline", exc.reason) from exc


def with_stage(
    settings: Settings, requests: Sequence[StageRequest], stage: str, *, trusted: bool
) -> list[StageRequest]:
    """``requests`` with ``stage`` (default options) added if missing, before ``enhanced``."""
    if any(r.stage == stage for r in requests):
        return list(requests)
    added = stage_request(settings, stage, trusted=trusted)
    before = [r for r in requests if r.stage != ENHANCED]
    return [*before, added, *(r for r in requests if r.stage == ENHANCED)]


def job_options(
    base: Mapping[str, Any], requests: Sequence[StageRequest], parent_version: int | None = None
) -> dict[str, Any]:
    """A job's ``options``: ``base`` (the transcription's), plus the stages to run after it
    and the version they start from. Without stages it is ``base`` alone, so a v1 job is the
    same request as before stages existed."""
    options = dict(base)
    if requests:
        options[STAGES_KEY] = [r.as_dict() for r in requests]
    if parent_version is not None:
        options[PARENT_KEY] = parent_version
    return options


ProgressFn = Callable[[float], None]


def run_stage(
    transcriber: Transcriber,
    request: StageRequest,
    media: MediaProbe,
    parent: TranscriptDocument,
    progress: ProgressFn | None = None,
    *,
    llm: LlmSession | None = None,
) -> TranscriptDocument:
    """Run one refining stage (blocking: call it in a worker thread). ``llm``: the chat API
    and the meter of stages that call one (:func:`llm_session`)."""
    if request.stage == ENHANCED:
        from trax.engine.enhance import EnhanceOptions, enhance

        if llm is None:
            raise errors.InvalidOptionError("stage", LLM_NOT_CONFIGURED)

        given: dict[str, Any] = dict(request.options)
        return enhance(parent, EnhanceOptions(**given), llm, progress)
    if request.stage == MULTIPASS:
        from trax.engine.multipass import MultipassOptions, refine

        options: dict[str, Any] = dict(request.options)
        return refine(transcriber, media, parent, MultipassOptions(**options), progress)
    if request.stage == DIARIZED:
        from trax.engine.diarization import DiarizeOptions, diarized_document

        values: dict[str, Any] = dict(request.options)
        return diarized_document(
            media,
            parent,
            DiarizeOptions(**values),
            model_dir=transcriber.config.diarization_model_dir,
            progress=progress,
        )
    raise errors.InvalidOptionError(
        "stage", NOT_AVAILABLE.format(name=request.stage, names=", ".join(AVAILABLE))
    )


def uses_llm(request: StageRequest) -> bool:
    return request.stage == ENHANCED


def llm_session(settings: Settings, request: StageRequest, spent_usd: float) -> LlmSession:
    """The chat API configuration and a fresh meter for one run of ``request``: its budget is
    ``TRAX_LLM_MAX_COST_USD`` less what the transcript's LLM versions cost already."""
    from trax.engine.llm import PRICES, LlmConfig, LlmSession, Meter

    if settings.llm_api_key is None:
        raise errors.InvalidOptionError("stage", LLM_NOT_CONFIGURED)
    config = LlmConfig(
        base_url=settings.llm_base_url,
        api_key=settings.llm_api_key.get_secret_value(),
        model=str(request.options.get("model") or settings.llm_model),
        timeout_s=settings.llm_timeout_seconds,
        concurrency=settings.llm_concurrency,
        max_attempts=settings.llm_max_attempts,
        prices={**PRICES, **settings.llm_price_table},
        cache_dir=settings.data_dir / "llm-cache",
    )
    return LlmSession(config, Meter(config, settings.llm_max_cost_usd, spent_usd))
