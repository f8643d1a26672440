"""Burned-in captions as an ASS (Advanced SubStation Alpha) script, built with pysubs2.

The caption layout is :func:`trax.captions.formats.build_word_cues` (the same cues as SRT and
VTT). Lines are broken by us, so the script turns libass's own wrapping off. The frame is
described as 1080 lines high (``PlayResY``) at the video's aspect ratio, so a style's sizes are
pixels of a 1080-line frame whatever the resolution.

Styles, colours, alignment, margins and times are pysubs2 objects; the only text-level codes
written are the line break (``\\N``) and the reset to a named style (``{\\rHighlight}``, ``{\\r}``)
that marks the spoken word in karaoke, since ASS has no other way to style part of a line.
"""

from __future__ import annotations

import pysubs2

from trax.captions.formats import WordCue, build_word_cues
from trax.captions.styles import RenderStyle, rgba
from trax.engine.result import TranscriptDocument

PLAY_RES_Y = 1080
BASE, HIGHLIGHT = "Caption", "Highlight"
_ALIGNMENT = {
    "bottom": pysubs2.Alignment.BOTTOM_CENTER,
    "middle": pysubs2.Alignment.MIDDLE_CENTER,
    "top": pysubs2.Alignment.TOP_CENTER,
}
_BREAK = r"\N"
#: libass reads "{...}" as override codes and "\N", "\n", "\h" as breaks: words must not.
_TEXT_SAFE = str.maketrans({"{": "(", "}": ")", "\\": "\\\u2060"})


def _colour(value: str) -> pysubs2.Color:
    r, g, b, opacity = rgba(value)
    return pysubs2.Color(r, g, b, 255 - opacity)  # ASS alpha: 0 opaque, 255 transparent


def _style(style: RenderStyle, text_colour: str) -> pysubs2.SSAStyle:
    return pysubs2.SSAStyle(
        fontname=style.font,
        fontsize=float(style.font_size),
        bold=style.bold,
        primarycolor=_colour(text_colour),
        secondarycolor=_colour(text_colour),
        outlinecolor=_colour(style.back_colour if style.box else style.outline_colour),
        backcolor=_colour(style.back_colour),
        borderstyle=3 if style.box else 1,
        outline=style.outline,
        shadow=style.shadow,
        alignment=_ALIGNMENT[style.position],
        marginl=40,
        marginr=40,
        marginv=style.margin,
    )


def speaker_style(index: int) -> str:
    return f"Speaker{index + 1}"


def build_ass(doc: TranscriptDocument, style: RenderStyle, width: int, height: int) -> str:
    """The ASS script of ``doc`` in ``style`` for a ``width`` x ``height`` frame."""
    subs = pysubs2.SSAFile()
    subs.info.update(
        {
            "PlayResX": str(round(PLAY_RES_Y * width / height)),
            "PlayResY": str(PLAY_RES_Y),
            "WrapStyle": "2",  # no automatic wrapping: the layout broke the lines
            "ScaledBorderAndShadow": "yes",
        }
    )
    subs.styles = {
        BASE: _style(style, style.text_colour),
        HIGHLIGHT: _style(style, style.highlight_colour),
    }
    cues = build_word_cues(doc, style.layout())
    speakers = list(dict.fromkeys(w.speaker for c in cues for w in c.words if w.speaker))
    for i, _speaker in enumerate(speakers):
        colour = style.speaker_colours[i % len(style.speaker_colours)]
        subs.styles[speaker_style(i)] = _style(style, colour)
    for cue in cues:
        speaker = next((w.speaker for w in cue.words if w.speaker), None)
        name = speaker_style(speakers.index(speaker)) if speaker else BASE
        if style.karaoke:
            subs.events.extend(_karaoke_events(cue, name))
        else:
            text = _text(cue, None)
            subs.events.append(_event(cue.cue.start, cue.cue.end, text, name))
    return subs.to_string("ass")


def _event(start: float, end: float, text: str, style: str) -> pysubs2.SSAEvent:
    return pysubs2.SSAEvent(start=round(start * 1000), end=round(end * 1000), text=text,
                            style=style)  # fmt: skip


def _text(cue: WordCue, spoken: int | None) -> str:
    """The cue's lines; with ``spoken``, that word in the highlight style."""
    parts: list[str] = []
    line = 0
    for i, word in enumerate(cue.words):
        if word.line != line:
            parts.append(_BREAK)
            line = word.line
        else:
            parts.append(word.sep)
        text = word.text.translate(_TEXT_SAFE)
        parts.append(f"{{\\r{HIGHLIGHT}}}{text}{{\\r}}" if i == spoken else text)
    return "".join(parts)


def _karaoke_events(cue: WordCue, style: str) -> list[pysubs2.SSAEvent]:
    """One event per spoken word: from its start to the next word's (the last: the cue's end),
    the whole cue shown with that word highlighted. Together they cover the cue exactly."""
    start, end = cue.cue.start, cue.cue.end
    starts = [min(max(w.start, start), end) for w in cue.words]
    for i in range(1, len(starts)):
        starts[i] = max(starts[i], starts[i - 1])
    bounds = [*starts, end]
    events = []
    for i in range(len(cue.words)):
        a, b = bounds[i], bounds[i + 1]
        if round(b * 100) > round(a * 100):  # ASS times are centiseconds
            events.append(_event(a, b, _text(cue, i), style))
    if not events:
        events.append(_event(start, end, _text(cue, None), style))
    return events
