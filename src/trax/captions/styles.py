"""Caption styles for burned-in captions: named presets plus overrides, checked once.

A style is what a viewer sees: the font (one of the fonts shipped in ``captions/fonts``), its
size, colours, outline or box, where the captions sit, how many characters and lines a caption
takes (the caption layout of :mod:`trax.captions.formats`), a word-by-word highlight (karaoke)
and a colour per speaker. Sizes are pixels of a 1080-line frame, so a style looks the same on any
resolution. Colours are ``#RRGGBB`` or ``#RRGGBBAA`` (AA: opacity, ``ff`` opaque).

:func:`resolve_style` is the one validation the CLI, the API and the worker share: an unknown
preset, an unknown option or a value out of range raises
:class:`~trax.errors.InvalidOptionError` naming it (422 / exit 2).
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trax import errors
from trax.captions import formats

#: The fonts shipped inside the package (``fonts/``, licence beside them), by family name.
FONTS_DIR = Path(__file__).with_name("fonts")
FONTS = ("DejaVu Sans",)
POSITIONS = ("bottom", "middle", "top")
FONT_SIZE = (8, 300)
OUTLINE = (0.0, 20.0)
MARGIN = (0, 540)
FRAME_SIDE = (64, 3840)
_COLOUR = re.compile(r"#[0-9a-fA-F]{6}([0-9a-fA-F]{2})?")

UNKNOWN_STYLE = "unknown style {name!r}; choose from {choices}"
UNKNOWN_OPTION = "unknown style option; choose from {choices}"
NOT_A_COLOUR = "must be a colour like #ffd400 or #00000080, got {value!r}"
WRONG_TYPE = "must be {kind}, got {value!r}"
NOT_ONE_OF = "must be one of {choices}, got {value!r}"
OUT_OF_RANGE = formats.OUT_OF_RANGE
ODD_SIDE = "must be an even number of pixels (H.264 4:2:0 needs it), got {value!r}"
NO_SPEAKER_COLOURS = "give at least one colour"


@dataclass(frozen=True)
class RenderStyle:
    """Everything that decides how burned-in captions look. See the module text."""

    font: str = "DejaVu Sans"
    font_size: int = 54
    bold: bool = True
    text_colour: str = "#ffffff"
    outline_colour: str = "#000000"
    #: The shadow's colour, or the box's with ``box``.
    back_colour: str = "#00000099"
    outline: float = 3.0
    shadow: float = 1.0
    #: An opaque box behind the text instead of an outline.
    box: bool = False
    position: str = "bottom"
    #: Distance from the frame's edge (bottom or top), pixels of a 1080-line frame.
    margin: int = 60
    max_line_chars: int = 42
    max_lines: int = 2
    #: Highlight each word while it is spoken (from the word timings).
    karaoke: bool = False
    highlight_colour: str = "#ffd400"
    #: Text colours of the speakers, in order of first appearance (when the version has them).
    speaker_colours: tuple[str, ...] = ("#ffffff", "#7fdbff", "#ffdc00", "#2ecc40", "#ff851b")
    #: The frame made for audio without video: its colour and size.
    background_colour: str = "#101820"
    width: int = 1280
    height: int = 720

    def __post_init__(self) -> None:
        _choice("font", self.font, FONTS)
        _choice("position", self.position, POSITIONS)
        _within("font_size", self.font_size, FONT_SIZE)
        _within("outline", self.outline, OUTLINE)
        _within("shadow", self.shadow, OUTLINE)
        _within("margin", self.margin, MARGIN)
        for name in ("width", "height"):
            value = getattr(self, name)
            _within(name, value, FRAME_SIDE)
            if value % 2:
                raise errors.InvalidOptionError(name, ODD_SIDE.format(value=value))
        for name in ("text_colour", "outline_colour", "back_colour", "highlight_colour",
                     "background_colour"):  # fmt: skip
            _colour(name, getattr(self, name))
        if not self.speaker_colours:
            raise errors.InvalidOptionError("speaker_colours", NO_SPEAKER_COLOURS)
        for colour in self.speaker_colours:
            _colour("speaker_colours", colour)
        self.layout()  # the caption layout's own limits

    def layout(self) -> formats.CaptionStyle:
        """The caption layout (line length, lines) of this style."""
        return formats.CaptionStyle(max_line_chars=self.max_line_chars, max_lines=self.max_lines)

    def as_dict(self) -> dict[str, Any]:
        values = dataclasses.asdict(self)
        values["speaker_colours"] = list(self.speaker_colours)
        return values


def resolve_style(name: str | None, overrides: Mapping[str, Any] | None = None) -> RenderStyle:
    """The preset ``name`` (default: classic) with ``overrides`` applied, checked."""
    preset_name = (name or DEFAULT_STYLE).strip().lower()
    preset = PRESETS.get(preset_name)
    if preset is None:
        choices = ", ".join(PRESETS)
        raise errors.InvalidOptionError("style", UNKNOWN_STYLE.format(name=name, choices=choices))
    changes = {key: _coerce(key, value) for key, value in (overrides or {}).items()}
    return dataclasses.replace(preset, **changes)


def _coerce(key: str, value: Any) -> Any:
    """``value`` as the type of style option ``key`` (JSON and ``KEY=VALUE`` text both arrive)."""
    if key not in _FIELDS:
        raise errors.InvalidOptionError(key, UNKNOWN_OPTION.format(choices=", ".join(_FIELDS)))
    default = getattr(RenderStyle(), key)
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no", "1", "0"):
            return value.lower() in ("true", "yes", "1")
        raise errors.InvalidOptionError(key, WRONG_TYPE.format(kind="true or false", value=value))
    if isinstance(default, int):
        return _number(key, value, int)
    if isinstance(default, float):
        return _number(key, value, float)
    if isinstance(default, tuple):
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
            raise errors.InvalidOptionError(key, WRONG_TYPE.format(kind="colours", value=value))
        return tuple(i.strip() for i in items)
    if not isinstance(value, str):
        raise errors.InvalidOptionError(key, WRONG_TYPE.format(kind="text", value=value))
    return value.strip()


def _number(key: str, value: Any, kind: type[int] | type[float]) -> int | float:
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            value = None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise errors.InvalidOptionError(key, WRONG_TYPE.format(kind="a number", value=value))
    if kind is int:
        if value != int(value):
            raise errors.InvalidOptionError(key, WRONG_TYPE.format(kind="a whole number",
                                                                   value=value))  # fmt: skip
        return int(value)
    return float(value)


def _within(name: str, value: float, bounds: tuple[float, float]) -> None:
    low, high = bounds
    if not low <= value <= high:
        raise errors.InvalidOptionError(name, OUT_OF_RANGE.format(low=low, high=high, value=value))


def _choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        reason = NOT_ONE_OF.format(choices=", ".join(choices), value=value)
        raise errors.InvalidOptionError(name, reason)


def _colour(name: str, value: str) -> None:
    if not _COLOUR.fullmatch(value):
        raise errors.InvalidOptionError(name, NOT_A_COLOUR.format(value=value))


def rgba(colour: str) -> tuple[int, int, int, int]:
    """``#RRGGBB[AA]`` as (red, green, blue, opacity), each 0-255."""
    digits = colour.lstrip("#")
    alpha = digits[6:8] or "ff"
    return int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16), int(alpha, 16)


PRESETS: dict[str, RenderStyle] = {
    # White bold text with a black outline at the bottom: broadcast captions.
    "classic": RenderStyle(),
    # Classic, with each word turning yellow while it is spoken.
    "karaoke": RenderStyle(karaoke=True),
    # White text on a translucent black box.
    "boxed": RenderStyle(box=True, outline=8.0, shadow=0.0, back_colour="#000000b3"),
    # Short-form video: big, centred, short lines, the spoken word in green.
    "social": RenderStyle(
        font_size=84,
        position="middle",
        outline=5.0,
        max_line_chars=20,
        max_lines=2,
        karaoke=True,
        highlight_colour="#39ff14",
    ),
}
DEFAULT_STYLE = "classic"
_FIELDS = {f.name: f for f in dataclasses.fields(RenderStyle)}
