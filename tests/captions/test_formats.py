"""Caption layout and export formats, checked through what a viewer or parser would see."""

from __future__ import annotations

import io
import random
import re
from datetime import timedelta
from itertools import pairwise

import pytest
import srt
import webvtt

from trax.captions.formats import (
    CaptionStyle,
    Cue,
    ExportFormat,
    build_cues,
    render,
    suffix,
)
from trax.engine.result import Provenance, Segment, TranscriptDocument, Word

JFK = (
    "And so my fellow Americans, ask not what your country can do for you, "
    "ask what you can do for your country."
)
# (word, start, end): roughly how the sentence is spoken in the well-known 11 s recording
JFK_TIMINGS = [
    ("And", 0.30, 0.52),
    ("so", 0.52, 0.80),
    ("my", 0.80, 1.10),
    ("fellow", 1.10, 1.50),
    ("Americans,", 1.50, 2.40),
    ("ask", 3.20, 3.60),
    ("not", 3.60, 4.20),
    ("what", 4.40, 4.70),
    ("your", 4.70, 5.00),
    ("country", 5.00, 5.40),
    ("can", 5.40, 5.70),
    ("do", 5.70, 5.90),
    ("for", 5.90, 6.10),
    ("you,", 6.10, 6.80),
    ("ask", 7.40, 7.80),
    ("what", 7.80, 8.10),
    ("you", 8.10, 8.30),
    ("can", 8.30, 8.50),
    ("do", 8.50, 8.70),
    ("for", 8.70, 8.90),
    ("your", 8.90, 9.20),
    ("country.", 9.20, 10.50),
]
_VOCAB_TEXT = (
    "the a of to and in that it is was for on are with as I his they be at one have this from "
    "or had by word but what some we can out other were all there when up use your how said an "
    "each she which do their time if will way about many then them write would like so these "
    "her long make thing see him two has look more day could go come did number sound no most "
    "people my over know water than call first who may down side been now find any new work "
    "part take get place made live where after back little only round man year came show every "
    "good me give our under name very through just form sentence great think say help low line"
)
VOCAB = _VOCAB_TEXT.split()


def _doc(segments: list[Segment], duration: float = 0.0) -> TranscriptDocument:
    return TranscriptDocument(
        language="en",
        language_probability=0.98,
        duration=duration or max((s.end for s in segments), default=0.0),
        segments=tuple(segments),
        provenance=Provenance(stage="basic", model="tiny", options={}, engine={}),
    )


def _segment(sid: int, words: list[Word], text: str | None = None) -> Segment:
    return Segment(
        id=sid,
        start=words[0].start if words else 0.0,
        end=words[-1].end if words else 0.0,
        text=text if text is not None else "".join(w.text for w in words),
        avg_logprob=-0.2,
        no_speech_prob=0.01,
        words=tuple(words),
    )


def _words(timings: list[tuple[str, float, float]]) -> list[Word]:
    return [Word(start=s, end=e, text=" " + t, probability=0.9) for t, s, e in timings]


def jfk_doc() -> TranscriptDocument:
    return _doc([_segment(0, _words(JFK_TIMINGS))], duration=11.0)


def monologue_doc(n_words: int = 360, seed: int = 7) -> TranscriptDocument:
    """A long synthetic talk: sentences of 6-25 words, commas, a few long pauses, segments."""
    rng = random.Random(seed)
    segments: list[Segment] = []
    words: list[Word] = []
    t, in_sentence = 0.5, 0
    for i in range(n_words):
        text = rng.choice(VOCAB)
        text = text.capitalize() if in_sentence == 0 else text
        in_sentence += 1
        end_sentence = in_sentence >= rng.randint(6, 25) or i == n_words - 1
        if end_sentence:
            text, in_sentence = text + rng.choice(".?!"), 0
        elif rng.random() < 0.08:
            text += ","
        duration = 0.12 + 0.06 * len(text)
        words.append(Word(start=t, end=t + duration, text=" " + text, probability=0.9))
        t += duration + (rng.choice([0.05, 0.3, 0.9, 2.5]) if end_sentence else 0.02)
        if end_sentence and (len(words) > 20 or i == n_words - 1):
            segments.append(_segment(len(segments), words))
            words = []
    return _doc(segments)


def overlapping_doc() -> TranscriptDocument:
    """Word timings that overlap and even run backwards, as alignment sometimes produces."""
    timings = [
        ("Well,", 0.0, 0.5),
        ("this", 0.4, 0.9),
        ("is", 0.3, 0.6),
        ("where", 0.6, 1.4),
        ("timings", 1.2, 1.2),
        ("overlap.", 1.2, 1.0),
        ("Then", 1.0, 1.1),
        ("they", 1.05, 1.1),
        ("run", 1.1, 1.1),
        ("on", 1.1, 1.1),
    ] + [(w, 1.1 + 0.3 * k, 1.5 + 0.3 * k) for k, w in enumerate(("and", "on") * 20)]
    return _doc([_segment(0, _words(timings))])


def _norm(text: str) -> str:
    return " ".join(text.split())


def _check_cues(cues: list[Cue], doc: TranscriptDocument, style: CaptionStyle) -> None:
    assert cues
    for cue in cues:
        assert 1 <= len(cue.lines) <= style.max_lines, cue
        assert all(0 < len(line) <= style.max_line_chars for line in cue.lines), cue
        assert all(line == _norm(line) for line in cue.lines), cue
        assert 0 < cue.end - cue.start <= style.max_cue_seconds + 1e-9, cue
    for a, b in pairwise(cues):
        assert a.end <= b.start, (a, b)
    assert _norm(" ".join(c.text for c in cues)) == _norm("".join(w.text for w in doc.words))


def _check_srt(text: str, style: CaptionStyle) -> list[srt.Subtitle]:
    subs = list(srt.parse(text))
    for sub in subs:
        lines = sub.content.split("\n")
        assert len(lines) <= style.max_lines
        assert all(len(line) <= style.max_line_chars for line in lines)
        assert timedelta(0) < sub.end - sub.start <= timedelta(seconds=style.max_cue_seconds)
    for a, b in pairwise(subs):
        assert a.end <= b.start
    return subs


def _check_vtt(text: str, style: CaptionStyle) -> list[webvtt.Caption]:
    assert text.startswith("WEBVTT\n")
    timing = re.compile(r"^(\d{2}:\d{2}:\d{2}\.\d{3}) --> (\d{2}:\d{2}:\d{2}\.\d{3})$")
    stamps = [line for line in text.splitlines() if "-->" in line]
    assert all(timing.match(line) for line in stamps), stamps
    captions = webvtt.from_string(text).captions
    for cap in captions:
        assert len(cap.lines) <= style.max_lines
        assert all(len(line) <= style.max_line_chars for line in cap.lines)
        duration_ms = cap.end_time.in_milliseconds() - cap.start_time.in_milliseconds()
        assert 0 < duration_ms <= style.max_cue_seconds * 1000
    for a, b in pairwise(captions):
        assert a.end_time.in_milliseconds() <= b.start_time.in_milliseconds()
    return captions


DOCS = {"jfk": jfk_doc, "monologue": monologue_doc, "overlapping": overlapping_doc}


@pytest.mark.parametrize("name", sorted(DOCS))
@pytest.mark.parametrize("style", [CaptionStyle(), CaptionStyle(max_line_chars=20)])
def test_cues_respect_layout_limits_and_keep_every_word(name: str, style: CaptionStyle) -> None:
    doc = DOCS[name]()
    _check_cues(build_cues(doc, style), doc, style)


@pytest.mark.parametrize("name", sorted(DOCS))
@pytest.mark.parametrize("style", [CaptionStyle(), CaptionStyle(max_line_chars=20)])
def test_srt_and_vtt_parse_and_respect_limits(name: str, style: CaptionStyle) -> None:
    doc = DOCS[name]()
    subs = _check_srt(render(doc, ExportFormat.SRT, style), style)
    captions = _check_vtt(render(doc, ExportFormat.VTT, style), style)
    cues = build_cues(doc, style)
    assert [s.content for s in subs] == [c.text for c in cues]
    assert [c.text for c in captions] == [c.text for c in cues]
    assert [s.start.total_seconds() for s in subs] == [c.start for c in cues]
    assert [c.end_time.in_milliseconds() for c in captions] == [round(c.end * 1000) for c in cues]


def test_jfk_breaks_after_the_commas() -> None:
    cues = build_cues(jfk_doc())
    assert [c.lines for c in cues] == [
        ("And so my fellow Americans,",),
        ("ask not what your country can do for you,",),
        ("ask what you can do for your country.",),
    ]
    assert cues[0].start == pytest.approx(0.30)
    assert cues[-1].end == pytest.approx(10.50)


def test_jfk_without_pauses_breaks_lines_and_cues_at_commas() -> None:
    # the same sentence spoken evenly, with no pauses to help
    timings = [(w, 0.45 * i, 0.45 * i + 0.4) for i, (w, _, _) in enumerate(JFK_TIMINGS)]
    doc = _doc([_segment(0, _words(timings))])
    cues = build_cues(doc)
    _check_cues(cues, doc, CaptionStyle())
    assert all(line.endswith((",", ".")) for c in cues for line in c.lines[-1:]), cues
    assert len(cues) == 2
    assert cues[0].lines[0].endswith(",")


def test_narrow_style_is_respected() -> None:
    style = CaptionStyle(max_line_chars=20)
    cues = build_cues(jfk_doc(), style)
    assert max(len(line) for c in cues for line in c.lines) <= 20
    assert any(len(c.lines) == 2 for c in cues)
    assert all(len(c.text.split()) >= 3 for c in cues), "no stranded words"


def test_one_line_style_and_short_cues() -> None:
    style = CaptionStyle(max_lines=1, max_cue_seconds=2.0, min_cue_seconds=0.5)
    doc = monologue_doc(200, seed=3)
    cues = build_cues(doc, style)
    _check_cues(cues, doc, style)
    assert all(len(c.lines) == 1 for c in cues)


def test_pause_forces_a_new_cue() -> None:
    doc = _doc([_segment(0, _words([("Hello", 0.0, 0.4), ("there", 0.4, 0.8), ("you", 1.6, 2.0)]))])
    assert [c.text for c in build_cues(doc)] == ["Hello there", "you"]
    assert [c.text for c in build_cues(doc, CaptionStyle(pause_seconds=1.0))] == ["Hello there you"]


def test_short_cue_is_stretched_into_silence_but_not_over_the_next() -> None:
    doc = _doc(
        [_segment(0, _words([("Yes.", 1.0, 1.2), ("No.", 2.0, 2.3), ("Maybe.", 5.0, 5.4)]))],
        duration=5.6,
    )
    cues = build_cues(doc)
    assert [(c.start, c.end) for c in cues] == [(1.0, 2.0), (2.0, 3.0), (5.0, 5.6)]


def test_long_word_is_hard_wrapped() -> None:
    long = "Pneumonoultramicroscopicsilicovolcanoconiosis-related"
    doc = _doc([_segment(0, _words([("It's", 0.0, 0.3), (long, 0.3, 2.0), ("bad.", 2.0, 2.4)]))])
    style = CaptionStyle(max_line_chars=20)
    cues = build_cues(doc, style)
    lines = [line for c in cues for line in c.lines]
    assert all(len(line) <= 20 for line in lines)
    assert "".join("".join(lines).split()) == "It's" + long + "bad."


def test_segments_without_words_fall_back_to_segment_text() -> None:
    text = " ".join(["this segment has no word timings at all"] * 6) + "."
    seg = Segment(
        id=0, start=2.0, end=22.0, text=text, avg_logprob=-0.3, no_speech_prob=0.1, words=()
    )
    doc = _doc([seg, _segment(1, _words([("Then", 23.0, 23.3), ("words.", 23.3, 23.8)]))])
    style = CaptionStyle()
    cues = build_cues(doc, style)
    assert all(len(line) <= 42 for c in cues for line in c.lines)
    assert all(c.end - c.start <= 7.0 for c in cues)
    assert cues[0].start == 2.0
    assert _norm(" ".join(c.text for c in cues)) == text + " Then words."
    assert all(a.end <= b.start for a, b in pairwise(cues))


def test_glued_words_are_joined_without_spaces() -> None:
    words = [
        Word(start=0.0, end=0.3, text="我们", probability=0.9),
        Word(start=0.3, end=0.6, text="今天", probability=0.9),
        Word(start=0.6, end=1.0, text="开会。", probability=0.9),
    ]
    doc = _doc([_segment(0, words)])
    assert [c.text for c in build_cues(doc)] == ["我们今天开会。"]


def test_empty_documents() -> None:
    doc = _doc([])
    assert build_cues(doc) == []
    assert render(doc, ExportFormat.TXT) == ""
    assert render(doc, ExportFormat.SRT) == ""
    vtt = render(doc, ExportFormat.VTT)
    assert vtt.startswith("WEBVTT")
    assert webvtt.from_string(vtt).captions == []
    blank = _doc([Segment(id=0, start=0, end=1, text="  ", avg_logprob=0, no_speech_prob=0)])
    assert build_cues(blank) == []
    assert render(blank, ExportFormat.TXT) == ""


def test_special_characters_survive_both_formats() -> None:
    tricky = [("Use", 0.0, 0.3), ("<b>", 0.3, 0.6), ("&", 0.6, 0.8), ("{braces}", 0.8, 1.2)]
    tricky += [("and", 1.2, 1.4), ("C:\\new\\Name", 1.4, 2.0), ("-->", 2.0, 2.2), ("ok.", 2.2, 2.5)]
    doc = _doc([_segment(0, _words(tricky))])
    expected = "Use <b> & {braces} and C:\\new\\Name --> ok."
    subs = list(srt.parse(render(doc, ExportFormat.SRT)))
    assert _norm(" ".join(s.content for s in subs)).replace("\u2060", "") == expected
    captions = webvtt.from_string(render(doc, ExportFormat.VTT)).captions
    vtt_text = _norm(" ".join(c.text for c in captions)).replace("\u2060", "")
    assert vtt_text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&") == expected


def test_millisecond_rounding_never_overlaps() -> None:
    timings = [(f"w{i}", 0.3333 * i + 0.0004, 0.3333 * i + 0.3337) for i in range(60)]
    timings[20] = ("end.", timings[20][1], timings[20][2])
    doc = _doc([_segment(0, _words(timings))])
    style = CaptionStyle(max_cue_seconds=1.0005, min_cue_seconds=0.9995, pause_seconds=0.0001)
    _check_srt(render(doc, ExportFormat.SRT, style), style)
    _check_vtt(render(doc, ExportFormat.VTT, style), style)


def test_txt_paragraphs_split_at_long_pauses() -> None:
    def seg(sid: int, start: float, end: float, text: str) -> Segment:
        return Segment(
            id=sid, start=start, end=end, text=text, avg_logprob=-0.2, no_speech_prob=0.0
        )

    doc = _doc(
        [
            seg(0, 0.0, 2.0, " Good morning everyone."),
            seg(1, 2.5, 4.0, "  Let's   begin."),
            seg(2, 7.0, 9.0, " First item,"),
            seg(3, 12.0, 14.0, " the budget."),
        ]
    )
    assert render(doc, ExportFormat.TXT) == (
        "Good morning everyone. Let's begin.\n\nFirst item, the budget.\n"
    )


def test_txt_long_paragraphs_split_at_sentence_ends() -> None:
    doc = monologue_doc(600, seed=11)
    txt = render(doc, ExportFormat.TXT)
    assert txt.endswith(".\n") or txt.endswith("?\n") or txt.endswith("!\n")
    assert not txt.endswith("\n\n")
    paragraphs = txt.rstrip("\n").split("\n\n")
    assert len(paragraphs) > 3
    assert all(p.endswith((".", "?", "!")) for p in paragraphs)
    assert all(len(p) < 800 for p in paragraphs)
    assert _norm(" ".join(paragraphs)) == _norm(doc.text)


def test_json_round_trips() -> None:
    doc = monologue_doc(50)
    text = render(doc, ExportFormat.JSON)
    assert TranscriptDocument.model_validate_json(text) == doc
    assert text == doc.to_json()


def test_render_from_format_names_and_suffixes() -> None:
    assert [suffix(ExportFormat(n)) for n in ("json", "txt", "srt", "vtt")] == [
        ".json",
        ".txt",
        ".srt",
        ".vtt",
    ]
    vtt = render(jfk_doc(), ExportFormat("vtt"))
    assert vtt.startswith("WEBVTT")
    assert "00:00:00.300 --> " in vtt
    assert len(webvtt.from_buffer(io.StringIO(vtt)).captions) == 3


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_line_chars": 9},
        {"max_lines": 0},
        {"max_cue_seconds": 0},
        {"max_cue_seconds": float("nan")},
        {"min_cue_seconds": -1},
        {"min_cue_seconds": 8.0},
        {"pause_seconds": -0.1},
    ],
)
def test_invalid_style_raises(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        CaptionStyle(**kwargs)  # type: ignore[arg-type]
