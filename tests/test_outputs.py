"""Every output people ask for (issue 20): frame ranges, stills and thumbnails, GIF, muted
and audio-only renders — checked on decoded pixels, frame hashes and samples."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from hyperframes_lambda import render, still
from hyperframes_lambda.browser import pool as browser_pool
from hyperframes_lambda.capture import page_capture
from hyperframes_lambda.config import parse_config
from hyperframes_lambda.errors import CompositionError, InvalidConfigError
from hyperframes_lambda.lint import page_run as lint_page_run
from hyperframes_lambda.media.audio_mix import audio_samples
from hyperframes_lambda.media.probe import audio_sample_count, decode_frames, probe
from hyperframes_lambda.stages import plan as plan_stage
from hyperframes_lambda.timing import frame_at, frames_between

from .conftest import COMPOSITIONS, to_rgb
from .media_fixtures import media_project
from .pipeline_helpers import run_pipeline

KNOWN = COMPOSITIONS / "known-pixels"
SEAMS = COMPOSITIONS / "seams"
AUDIO_MUX = Path("/work/shared/conformance/fixtures/audio-mux-parity")


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---- the arithmetic and the Config: no browser -----------------------------------------


def test_seconds_are_the_frames_shown_then() -> None:
    assert frames_between(1.0, 3.0, 30) == (30, 89)
    assert frames_between(0.0, 0.5, Fraction(30000, 1001)) == (0, 14)
    assert frame_at(3.5, 30) == 105
    assert frame_at(0.7, 30) == 21  # the decimal written, not the float just below it
    assert frame_at(0.0, 24) == 0


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"frameRange": [9, 3]}, "Config.frameRange: the last frame 3 is before the first 9"),
        ({"frameRange": [-1, 3]}, "Config.frameRange: the first frame must be >= 0"),
        ({"frameRange": "30-89"}, "Config.frameRange: Input should be a valid"),
        ({"gifLoop": 2}, "gifLoop applies to gif only (format is mp4)"),
        ({"format": "gif", "gifLoop": -2}, "Config.gifLoop"),
        ({"everyNthFrame": 2, "format": "webm"}, "everyNthFrame applies to gif only"),
        ({"format": "wav", "audioBitrate": "128k"}, "audioBitrate does not apply"),
        ({"audioBitrate": "loud"}, "Config.audioBitrate: must look like"),
        ({"format": "mp3", "muted": True}, "muted contradicts the audio-only format mp3"),
        ({"format": "aac", "thumbnail": 1.0}, "thumbnail needs frames"),
        ({"thumbnail": -1}, "Config.thumbnail"),
        ({"format": "flac"}, "Config.format"),
    ],
)
def test_config_errors_name_the_field(config: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidConfigError) as caught:
        parse_config(config)
    assert message in str(caught.value)
    assert caught.value.code == "INVALID_CONFIG"


def test_new_options_leave_existing_plans_unchanged() -> None:
    """encoder.json (hashed into every plan) gains no key unless an option is used."""
    from hyperframes_lambda.media.encode import EncoderSettings

    plain = EncoderSettings(fps=Fraction(30), width=320, height=180).to_json()
    assert "frame_step" not in plain and "gif_loop" not in plain and "audio_bitrate" not in plain
    gif = EncoderSettings(fps=Fraction(30), width=320, height=180, format="gif", gif_loop=3)
    assert EncoderSettings.from_json(gif.to_json()) == gif


# ---- frame ranges ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def full_seams(tmp_path_factory: pytest.TempPathFactory) -> dict[int, str]:
    run = run_pipeline(SEAMS, tmp_path_factory.mktemp("full"), {"maxParallelChunks": 1})
    assert run.plan.total_frames == 90
    return run.frame_hashes


@pytest.mark.slow
@pytest.mark.parametrize("chunks", [1, 3])
def test_a_frame_range_captures_the_full_renders_frames(
    full_seams: dict[int, str], tmp_path: Path, chunks: int
) -> None:
    run = run_pipeline(SEAMS, tmp_path, {"frameRange": [30, 61], "maxParallelChunks": chunks})
    assert run.plan.total_frames == 32 and run.plan.frame_range == (30, 61)
    assert len(run.chunks) == chunks
    assert sorted(run.frame_hashes) == list(range(30, 62)), "only the range is captured"
    assert run.frame_hashes == {i: full_seams[i] for i in range(30, 62)}
    info = probe(run.output.path)
    assert info.frame_count == 32
    assert info.duration == pytest.approx(32 / 30, abs=1 / 30)


@pytest.mark.slow
def test_a_range_past_the_end_names_frame_range(tmp_path: Path) -> None:
    with pytest.raises(InvalidConfigError, match=r"Config.frameRange \[50, 90\]: the composition"):
        plan_stage.plan(SEAMS, {"frameRange": [50, 90]}, tmp_path / "plan")
    assert not (tmp_path / "plan").exists()


@pytest.mark.slow
def test_from_to_seconds_render_those_frames(tmp_path: Path) -> None:
    dump = tmp_path / "frames"
    result = render(KNOWN, tmp_path / "x.mp4", time_range=(0.5, 1.0), dump_frames=dump)
    assert result.frames == 15
    assert sorted(p.name for p in dump.iterdir())[0] == "frame_000015.jpg"
    assert probe(tmp_path / "x.mp4").frame_count == 15


# ---- stills and thumbnails ------------------------------------------------------------


@pytest.fixture(scope="module")
def png_sequence(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("seq") / "frames"
    render(KNOWN, out)
    assert len(list(out.glob("frame_*.png"))) == 60
    return out


@pytest.mark.slow
def test_png_stills_are_the_captured_frames(png_sequence: Path, tmp_path: Path) -> None:
    results = still(KNOWN, tmp_path / "poster.png", frames=[0, 45], times=[1.0])
    assert [r.frame for r in results] == [0, 45, 30]
    assert [r.path.name for r in results] == [
        "poster-000000.png", "poster-000045.png", "poster-000030.png",
    ]  # fmt: skip
    for result in results:
        captured = png_sequence / f"frame_{result.frame + 1:06d}.png"
        assert result.path.read_bytes() == captured.read_bytes(), f"frame {result.frame}"
    one = still(KNOWN, tmp_path / "one.png", times=[1.5])
    assert one[0].path == tmp_path / "one.png" and one[0].frame == 45


@pytest.mark.slow
def test_jpeg_and_webp_stills(png_sequence: Path, tmp_path: Path) -> None:
    reference = to_rgb((png_sequence / "frame_000031.png").read_bytes()).astype(int)
    lossless = still(KNOWN, tmp_path / "p.webp", frames=[30])[0]
    assert lossless.path.read_bytes()[8:12] == b"WEBP"
    assert np.array_equal(to_rgb(lossless.path.read_bytes()).astype(int), reference)
    sizes = {}
    for quality in (30, 95):
        shot = still(KNOWN, tmp_path / f"p{quality}.jpg", frames=[30], quality=quality)[0]
        data = shot.path.read_bytes()
        assert data[:3] == b"\xff\xd8\xff"
        sizes[quality] = len(data)
        error = np.abs(to_rgb(data).astype(int) - reference).mean()
        assert error < (6 if quality == 95 else 15), f"q{quality}: mean error {error:.1f}"
    assert sizes[30] < sizes[95]


@pytest.mark.slow
def test_a_still_past_the_end_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidConfigError, match=r"frame 60 is not in the composition: it has 60"):
        still(KNOWN, tmp_path / "p.png", frames=[60])
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_a_render_writes_its_thumbnail_beside_the_output(
    png_sequence: Path, tmp_path: Path
) -> None:
    result = render(KNOWN, tmp_path / "promo.mp4", thumbnail_at=1.0, frame_range=(0, 9))
    assert result.frames == 10
    thumb = tmp_path / "promo.png"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["promo.mp4", "promo.png"]
    # Frame 30 (outside the rendered range: the thumbnail is any frame of the composition),
    # opaque, with the pixels the png-sequence render captured.
    expected = to_rgb((png_sequence / "frame_000031.png").read_bytes())
    assert np.array_equal(to_rgb(thumb.read_bytes()), expected)


# ---- GIF ------------------------------------------------------------------------------


def gif_loop_count(data: bytes) -> int | None:
    """The NETSCAPE2.0 loop count, or None without the extension (plays once)."""
    at = data.find(b"NETSCAPE2.0")
    return None if at < 0 else int.from_bytes(data[at + 13 : at + 15], "little")


def gif_delays(data: bytes) -> list[int]:
    """Each frame's delay (centiseconds), from its graphic control extension."""
    delays, at = [], 0
    while (at := data.find(b"\x21\xf9\x04", at)) >= 0:
        delays.append(int.from_bytes(data[at + 4 : at + 6], "little"))
        at += 8
    return delays


@pytest.fixture(scope="module")
def gifs(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    root = tmp_path_factory.mktemp("gif")
    return {
        chunks: render(KNOWN, root / f"c{chunks}.gif", chunks=chunks, workers=1).output
        for chunks in (1, 3)
    }


@pytest.mark.slow
def test_gif_frames_loop_and_colours(gifs: dict[int, Path]) -> None:
    data = gifs[1].read_bytes()
    assert data[:6] == b"GIF89a"
    assert gif_loop_count(data) == 0  # forever
    assert probe(gifs[1]).frame_count == 60
    assert sum(gif_delays(data)) == pytest.approx(200, abs=2)  # 2 s
    frames = [np.frombuffer(f, np.uint8).reshape(180, 320, 3).astype(int)
              for f in decode_frames(gifs[1], 320, 180)]  # fmt: skip
    first = frames[0]
    for (y, x), colour in {
        (10, 10): (255, 0, 0),  # the GSAP box at x=0
        (40, 10): (0, 0, 255),  # the WAAPI box
        (170, 300): (0, 0, 0),  # the background
    }.items():
        assert np.abs(first[y, x] - colour).max() <= 12, (y, x, first[y, x])
    # The GSAP box reached x=200 by the last frame.
    assert np.abs(frames[-1][10, 205] - (255, 0, 0)).max() <= 12


@pytest.mark.slow
def test_gif_colours_do_not_jump_at_chunk_seams(gifs: dict[int, Path]) -> None:
    """One palette over the whole render: 3 chunks make the very same GIF as 1."""
    assert sha(gifs[3]) == sha(gifs[1])


@pytest.mark.slow
def test_gif_every_nth_frame_and_loop_count(tmp_path: Path) -> None:
    out = tmp_path / "x.gif"
    result = render(KNOWN, out, every_nth_frame=3, gif_loop=2)
    data = out.read_bytes()
    assert result.frames == 20 and result.fps == 10
    assert probe(out).frame_count == 20
    assert gif_delays(data) == [10] * 20
    assert gif_loop_count(data) == 2
    once = render(KNOWN, tmp_path / "once.gif", gif_loop=-1, frame_range=(0, 4)).output
    assert gif_loop_count(once.read_bytes()) is None


@pytest.mark.slow
def test_a_wide_gif_warns(tmp_path: Path) -> None:
    result = render(KNOWN, tmp_path / "w.gif", width=1440, height=810, frame_range=(0, 1))
    assert any("1440 px wide GIF" in w for w in result.warnings)


# ---- audio ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with media_project(tmp_path_factory.mktemp("media")) as project:
        yield project


@pytest.fixture(scope="module")
def media_mp4(media: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("mp4") / "full.mp4"
    render(media, out, quality="draft")
    assert probe(out).has_audio
    return out


def window_rms(samples: np.ndarray, step: int = 4800) -> np.ndarray:
    usable = len(samples) // step * step
    blocks = samples[:usable].reshape(-1, step, 2)
    return np.sqrt((blocks.astype(np.float64) ** 2).mean(axis=(1, 2)))


@pytest.mark.slow
def test_muted_has_no_audio_stream(media: Path, tmp_path: Path) -> None:
    render(media, tmp_path / "m.mp4", muted=True, quality="draft")
    info = probe(tmp_path / "m.mp4")
    assert not info.has_audio and info.frame_count == 60


@pytest.mark.slow
@pytest.mark.parametrize("name", ["v.m4a", "v.mp3", "v.wav"])
def test_audio_only_outputs_start_no_browser(
    media: Path, media_mp4: Path, tmp_path: Path, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_browser(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("an audio-only render launched a browser")

    for module in (page_capture, browser_pool, lint_page_run):  # every caller of the launcher
        monkeypatch.setattr(module, "launch_browser", no_browser)
    result = render(media, tmp_path / name)
    assert result.capture_mode is None and result.chunks == []
    assert audio_sample_count(tmp_path / name) == 96000  # 2 s at 48 kHz, to the sample
    info = probe(tmp_path / name)
    assert info.has_audio and info.width is None
    # Levels as the mixed soundtrack the mp4 carries (both lossy but wav: 0.1 s windows).
    ours, muxed = window_rms(audio_samples(tmp_path / name)), window_rms(audio_samples(media_mp4))
    assert ours.shape == muxed.shape == (20,)
    loud = muxed > 0.01
    assert loud.sum() >= 10
    assert np.allclose(ours[loud], muxed[loud], rtol=0.05)
    assert (ours[~loud] < 0.01).all()


@pytest.mark.slow
def test_audio_of_a_frame_range_is_the_full_mix_cut_sample_exactly(
    media: Path, tmp_path: Path
) -> None:
    render(media, tmp_path / "full.wav")
    render(media, tmp_path / "part.wav", frame_range=(15, 44))
    full, part = audio_samples(tmp_path / "full.wav"), audio_samples(tmp_path / "part.wav")
    assert part.shape == (48000, 2)  # 30 frames at 30 fps
    assert np.array_equal(part, full[24000:72000])


@pytest.mark.slow
def test_audio_bitrate(media: Path, tmp_path: Path) -> None:
    low = render(media, tmp_path / "low.mp3", audio_bitrate="48k").output
    high = render(media, tmp_path / "high.mp3", audio_bitrate="256k").output
    assert low.stat().st_size * 3 < high.stat().st_size
    assert audio_sample_count(low) == audio_sample_count(high) == 96000


@pytest.mark.slow
def test_a_silent_composition_has_no_audio_only_output(tmp_path: Path) -> None:
    with pytest.raises(CompositionError, match="format wav is audio only, but the composition"):
        render(KNOWN, tmp_path / "x.wav")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
@pytest.mark.skipif(not AUDIO_MUX.is_dir(), reason="conformance fixtures not on this machine")
def test_audio_mux_fixture_as_audio_only(tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(AUDIO_MUX, project)
    video = render(project, tmp_path / "v.mp4", quality="draft", fps=30)
    audio = render(project, tmp_path / "a.wav", fps=30)
    assert audio.frames == video.frames
    expected = round(Fraction(video.frames, 30) * 48000)
    assert audio_sample_count(tmp_path / "a.wav") == expected
    ours = window_rms(audio_samples(tmp_path / "a.wav"))
    muxed = window_rms(audio_samples(tmp_path / "v.mp4"))
    loud = muxed > 0.01
    assert loud.sum() > len(muxed) // 2
    assert np.allclose(ours[loud], muxed[loud], rtol=0.05)
