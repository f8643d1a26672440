"""Captions burned into real video by the bundled FFmpeg, checked in the pixels: text in the
caption area during a cue and none outside cues, the spoken word in the highlight colour at its
time, text even where fontconfig knows no font, the audio stream copied bit for bit, audio
without video on a coloured frame, and FFmpeg killed when the job stops it."""

from __future__ import annotations

import os
from pathlib import Path

import anyio
import av
import numpy as np
import psutil
import pysubs2
import pytest

from trax import errors
from trax.captions.ass import build_ass
from trax.captions.styles import RenderStyle, resolve_style
from trax.engine.result import TranscriptDocument
from trax.renders import burn

from .conftest import BACKGROUND, SILENCE, SIZE, differing, frame_at, near

GREEN = (0, 255, 0)
BIG = {"font_size": 110}


def render(source: Path, doc: TranscriptDocument, style: RenderStyle, folder: Path) -> Path:
    folder.mkdir()
    src = burn.inspect(source, source.name, style)
    burn.prepare(folder, build_ass(doc, style, src.width, src.height))
    cmd = burn.command(src, style)
    return anyio.run(
        burn.burn, cmd, folder, src.duration, source.name, lambda f: None, lambda: None
    )


def caption_area(frame: np.ndarray) -> np.ndarray:
    return frame[frame.shape[0] * 2 // 3 :]


def first_words(doc: TranscriptDocument) -> list[tuple[float, float, str]]:
    return [(w.start, w.end, w.text.strip()) for w in doc.words]


def test_captions_appear_inside_cues_and_not_outside(
    talk: dict[str, Path], talk_transcript: TranscriptDocument, tmp_path: Path
) -> None:
    out = render(talk["video"], talk_transcript, resolve_style("classic", BIG), tmp_path / "r")
    start, end, _ = first_words(talk_transcript)[1]
    inside = caption_area(frame_at(out, (start + end) / 2))
    before = caption_area(frame_at(out, SILENCE / 2))
    assert differing(inside, BACKGROUND) > 300
    assert differing(before, BACKGROUND) == 0
    # The top of the frame stays the background during the cue: captions sit at the bottom.
    assert differing(frame_at(out, (start + end) / 2)[:60], BACKGROUND) == 0
    with av.open(str(out)) as made:
        video = made.streams.video[0]
        assert (video.codec_context.width, video.codec_context.height) == SIZE


def test_the_spoken_word_is_in_the_highlight_colour_at_its_time(
    talk: dict[str, Path], talk_transcript: TranscriptDocument, tmp_path: Path
) -> None:
    style = resolve_style("karaoke", {**BIG, "highlight_colour": "#00ff00", "max_line_chars": 14})
    out = render(talk["video"], talk_transcript, style, tmp_path / "k")
    words = first_words(talk_transcript)
    centres = []
    for start, end, _text in words[1:3]:  # two words of the first caption, in turn
        green = near(caption_area(frame_at(out, (start + end) / 2)), GREEN)
        assert len(green) > 15
        centres.append(green.mean(axis=0))
    assert np.linalg.norm(centres[1] - centres[0]) > 10  # the highlight moved to the next word
    assert len(near(caption_area(frame_at(out, SILENCE / 2)), GREEN)) == 0
    plain = render(talk["video"], talk_transcript, resolve_style("classic", BIG), tmp_path / "c")
    start, end, _ = words[1]
    assert len(near(caption_area(frame_at(plain, (start + end) / 2)), GREEN)) == 0


def test_text_renders_with_fontconfig_pointed_at_an_empty_configuration(
    talk: dict[str, Path],
    talk_transcript: TranscriptDocument,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    empty = tmp_path / "fonts.conf"
    empty.write_text('<?xml version="1.0"?>\n<fontconfig></fontconfig>\n')
    monkeypatch.setenv("FONTCONFIG_FILE", str(empty))
    out = render(talk["video"], talk_transcript, resolve_style("classic", BIG), tmp_path / "r")
    start, end, _ = first_words(talk_transcript)[1]
    assert differing(caption_area(frame_at(out, (start + end) / 2)), BACKGROUND) > 300
    # Without the bundled fonts the same script draws nothing, and FFmpeg still succeeds.
    folder = tmp_path / "r"
    cmd = [a.replace(":fontsdir=fonts", "") for a in burn.command(
        burn.inspect(talk["video"], "talk", resolve_style("classic")), resolve_style("classic"),
        "blank.mp4")]  # fmt: skip
    blank = anyio.run(burn.burn, cmd, folder, 13.5, "talk", lambda f: None, lambda: None)
    assert differing(caption_area(frame_at(blank, (start + end) / 2)), BACKGROUND) == 0


def test_the_audio_stream_is_copied_not_re_encoded(
    talk: dict[str, Path], talk_transcript: TranscriptDocument, tmp_path: Path
) -> None:
    out = render(talk["video"], talk_transcript, resolve_style("boxed"), tmp_path / "r")

    def audio_packets(path: Path) -> tuple[str, list[bytes]]:
        with av.open(str(path)) as c:
            stream = c.streams.audio[0]
            packets = [bytes(p) for p in c.demux(stream) if p.size][:50]
            return stream.codec_context.name, packets

    assert audio_packets(out) == audio_packets(talk["video"])


def test_audio_without_video_gets_a_coloured_frame_of_the_style_size(
    talk: dict[str, Path], talk_transcript: TranscriptDocument, tmp_path: Path
) -> None:
    style = resolve_style("social", {"width": 256, "height": 144, "background_colour": "#c04000"})
    out = render(talk["audio"], talk_transcript, style, tmp_path / "r")
    with av.open(str(out)) as made:
        video, audio = made.streams.video[0], made.streams.audio[0]
        assert (video.codec_context.width, video.codec_context.height) == (256, 144)
        assert audio.codec_context.name == "flac"
    quiet = frame_at(out, 1.0)
    assert differing(quiet, (192, 64, 0), tolerance=30) == 0
    start, end, _ = first_words(talk_transcript)[1]
    middle = frame_at(out, (start + end) / 2)[40:104]  # social: captions in the middle
    assert differing(middle, (192, 64, 0)) > 200


def test_a_video_shorter_than_its_transcript_is_refused_with_the_reason(
    talk: dict[str, Path], talk_transcript: TranscriptDocument
) -> None:
    source = burn.inspect(talk["short_video"], "short.mp4", RenderStyle())
    with pytest.raises(burn.DurationMismatchError) as refused:
        burn.check_duration(source, talk_transcript.duration, "short.mp4")
    assert "the video is 5.0 s long but the transcript covers 13.5 s" in refused.value.message
    burn.check_duration(burn.inspect(talk["video"], "talk.mp4", RenderStyle()),
                        talk_transcript.duration, "talk.mp4")  # fmt: skip


def test_stopping_the_render_kills_ffmpeg(
    talk: dict[str, Path], talk_transcript: TranscriptDocument, tmp_path: Path
) -> None:
    style = resolve_style("classic", {"width": 1920, "height": 1080})
    folder = tmp_path / "r"
    folder.mkdir()
    src = burn.inspect(talk["audio"], "talk.flac", style)
    burn.prepare(folder, build_ass(talk_transcript, style, src.width, src.height))
    seen: list[float] = []

    def report(fraction: float) -> None:
        seen.append(fraction)

    def check() -> None:
        if seen:
            raise errors.JobAborted("cancelled")

    with pytest.raises(errors.JobAborted):
        anyio.run(burn.burn, burn.command(src, style), folder, src.duration, "t", report, check)
    assert 0 <= seen[0] < 1
    ours = psutil.Process(os.getpid()).children(recursive=True)
    assert not [p for p in ours if "ffmpeg" in p.name()]


def test_styles_are_presets_with_checked_overrides() -> None:
    assert resolve_style(None) == RenderStyle()
    assert resolve_style("Karaoke", {"font_size": "64", "karaoke": "false"}).font_size == 64
    bad: list[tuple[str, dict[str, object], str]] = [
        ("nope", {}, "style"),
        ("classic", {"colour": "#fff"}, "colour"),
        ("classic", {"text_colour": "white"}, "text_colour"),
        ("classic", {"font_size": 1000}, "font_size"),
        ("classic", {"font": "Comic Sans"}, "font"),
        ("classic", {"width": 321}, "width"),
        ("classic", {"max_lines": 0}, "max_lines"),
        ("classic", {"karaoke": 3}, "karaoke"),
    ]
    for name, overrides, field in bad:
        with pytest.raises(errors.InvalidOptionError) as refused:
            resolve_style(name, overrides)
        assert refused.value.field == field


def test_speakers_get_their_own_colours_and_captions(talk_transcript: TranscriptDocument) -> None:
    half = len(talk_transcript.segments) // 2 or 1
    segments = tuple(
        s.model_copy(update={"speaker": "SPEAKER_00" if i < half else "SPEAKER_01"})
        for i, s in enumerate(talk_transcript.segments)
    )
    if len(segments) < 2:  # one segment: split the speakers at its middle word
        seg = segments[0]
        mid = len(seg.words) // 2
        segments = (
            seg.model_copy(update={"words": seg.words[:mid], "speaker": "SPEAKER_00"}),
            seg.model_copy(update={"words": seg.words[mid:], "speaker": "SPEAKER_01"}),
        )
    doc = talk_transcript.model_copy(update={"segments": segments})
    style = resolve_style("classic", {"speaker_colours": ["#ff0000", "#0000ff"]})
    subs = pysubs2.SSAFile.from_string(build_ass(doc, style, *SIZE))
    assert subs.styles["Speaker1"].primarycolor == pysubs2.Color(255, 0, 0, 0)
    assert subs.styles["Speaker2"].primarycolor == pysubs2.Color(0, 0, 255, 0)
    used = [e.style for e in subs.events]
    assert used == sorted(used)
    assert set(used) == {"Speaker1", "Speaker2"}
    first_of_two = next(e for e in subs.events if e.style == "Speaker2")
    words_two = {w.text.strip() for s in segments[1:] for w in s.words}
    assert first_of_two.plaintext.split()[0] in words_two  # a caption never mixes speakers
