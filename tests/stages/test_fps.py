"""Any whole frame rate or exact rational (25, 12, 30000/1001) on every path.

Fast tests cover the plumbing (CLI, encoder settings, plan hash, ffmpeg arguments);
the slow ones render real compositions and read the rate back from ffmpeg.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest

from hyperframes_lambda.cli import build_parser
from hyperframes_lambda.compile.composition import read_composition
from hyperframes_lambda.errors import OutputVerificationError
from hyperframes_lambda.handler.events import PlanResultPayload
from hyperframes_lambda.media.audio_mix import audio_samples
from hyperframes_lambda.media.encode import EncoderSettings, StreamingEncoder, track_timescale
from hyperframes_lambda.media.ffmpeg import ffmpeg_exe
from hyperframes_lambda.media.probe import probe
from hyperframes_lambda.stages.assemble import verify_video
from hyperframes_lambda.stages.plan_hash import compute_plan_hash
from hyperframes_lambda.stages.render_size import resolve_fps
from hyperframes_lambda.timing import fps_json

from ..conftest import COMPOSITIONS
from ..media_fixtures import ffmpeg, media_project
from ..pipeline_helpers import decoded, run_pipeline

NTSC = Fraction(30000, 1001)


def video_stream_line(path: Path) -> str:
    """The ``Stream #0:0…: Video: …, 29.97 fps, …`` line of ``ffmpeg -i``."""
    result = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    lines = [line for line in result.stderr.splitlines() if "Stream #" in line and "Video:" in line]
    assert lines, result.stderr
    return lines[0]


def reported_fps(path: Path) -> str:
    match = re.search(r", ([0-9.]+) fps,", video_stream_line(path))
    assert match, video_stream_line(path)
    return match.group(1)


# ---- plumbing ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arg", "fps"), [("25", Fraction(25)), ("12", Fraction(12)), ("30000/1001", NTSC)]
)
def test_cli_fps_takes_any_rate(arg: str, fps: Fraction) -> None:
    args = build_parser().parse_args(["render", "p", "-o", "o.mp4", "--fps", arg])
    assert args.fps == fps


@pytest.mark.parametrize(
    ("arg", "message"), [("0", "must be 1…240"), ("29.97", "write 30000/1001"), ("x", "1…240")]
)
def test_cli_fps_refuses_bad_rates_naming_the_option(
    arg: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as caught:
        build_parser().parse_args(["render", "p", "-o", "o.mp4", "--fps", arg])
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert "argument --fps" in err and message in err, err


def test_configured_fps_wins_over_data_fps(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text(
        '<div data-composition-id="x" data-width="320" data-height="180" data-fps="12"></div>'
    )
    info = read_composition(tmp_path)
    assert resolve_fps(info, None) == 12
    assert resolve_fps(info, NTSC) == NTSC
    (tmp_path / "index.html").write_text(
        '<div data-composition-id="x" data-width="320" data-height="180"></div>'
    )
    assert resolve_fps(read_composition(tmp_path), None) == 30


def test_encoder_json_keeps_integer_rates_as_ints() -> None:
    whole = EncoderSettings(Fraction(30), 320, 180)
    assert whole.to_json()["fps"] == 30 and isinstance(whole.to_json()["fps"], int)
    assert EncoderSettings.from_json(whole.to_json()) == whole
    ntsc = EncoderSettings(NTSC, 320, 180, format="webm")
    assert ntsc.to_json()["fps"] == "30000/1001"
    assert EncoderSettings.from_json(json.loads(json.dumps(ntsc.to_json()))) == ntsc


def test_track_timescale_holds_every_frame_exactly() -> None:
    for fps in (24, 25, 30, 50, 60, 120, 240, NTSC):
        assert track_timescale(fps) == 90000  # unchanged outputs for the usual rates
    for fps in (7, 11, Fraction(24000, 1001), Fraction(60000, 1001), Fraction(25, 2)):
        scale = track_timescale(fps)
        assert scale % 90000 == 0 and (scale / Fraction(fps)).denominator == 1


def test_plan_hash_text_is_unchanged_for_integer_rates(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("x")

    def digest(fps: Fraction) -> str:
        return compute_plan_hash(
            tmp_path, encoder={"fps": fps_json(fps)}, ffmpeg_version="f", renderer_version="r",
            fps=fps, width=320, height=180, format="mp4",
        )  # fmt: skip

    assert digest(Fraction(30)) == digest(Fraction(60, 2))
    assert digest(NTSC) != digest(Fraction(30)) != digest(Fraction(29))


def test_the_plan_result_carries_fps_as_an_int_or_a_ratio() -> None:
    base = {
        "PlanS3Uri": "s3://b/p", "PlanHash": "h", "ChunkCount": 1, "TotalFrames": 60,
        "Width": 320, "Height": 180, "Format": "mp4", "HasAudio": False, "AudioS3Uri": None,
        "FfmpegVersion": "f", "RendererVersion": "r", "DurationMs": 0,
    }  # fmt: skip
    assert PlanResultPayload(**base, Fps=fps_json(Fraction(25))).model_dump()["Fps"] == 25
    assert PlanResultPayload(**base, Fps=fps_json(NTSC)).model_dump()["Fps"] == "30000/1001"


@pytest.mark.parametrize(
    ("fps", "shown", "seconds"), [(Fraction(25), "25", 0.4), (NTSC, "29.97", 10 * 1001 / 30000)]
)
def test_encoder_writes_the_rate_ffmpeg_reports(
    tmp_path: Path, fps: Fraction, shown: str, seconds: float
) -> None:
    ffmpeg("-f", "lavfi", "-i", "color=c=red:s=64x48", "-frames:v", "1", str(tmp_path / "f.jpg"))
    frame = (tmp_path / "f.jpg").read_bytes()
    out = tmp_path / "out.mp4"
    encoder = StreamingEncoder(EncoderSettings(fps, 64, 48), out, 10, input_format="jpeg")
    for _ in range(10):
        encoder.write(frame)
    encoder.finish()
    assert reported_fps(out) == shown
    verify_video(out, 10, fps, has_audio=False)
    assert probe(out).duration == pytest.approx(seconds, abs=0.006)  # printed to 0.01 s
    with pytest.raises(OutputVerificationError, match="decoded 10 frames, expected 11"):
        verify_video(out, 11, fps, has_audio=False)


# ---- end to end ------------------------------------------------------------------------


def run_cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hyperframes_lambda.cli", *map(str, args)],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip


@pytest.mark.slow
def test_cli_renders_at_25_fps_in_two_chunks(tmp_path: Path) -> None:
    out = tmp_path / "kp.mp4"
    result = run_cli(
        "render", COMPOSITIONS / "known-pixels", "-o", out, "--quiet", "--fps", "25",
        "--chunks", "2", "--workers", "1",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "50 frames" in result.stdout and "at 25 fps" in result.stdout
    info = probe(out)
    assert (info.frame_count, info.width, info.height) == (50, 320, 180)
    assert info.duration == pytest.approx(2.0, abs=1 / 25)
    assert reported_fps(out) == "25"


@pytest.mark.slow
def test_data_fps_12_is_the_default_rate(tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(COMPOSITIONS / "known-pixels", project)
    index = project / "index.html"
    index.write_text(
        index.read_text().replace('data-duration="2"', 'data-duration="2" data-fps="12"')
    )
    out = tmp_path / "kp.mp4"
    result = run_cli("render", project, "-o", out, "--quiet")
    assert result.returncode == 0, result.stderr
    assert probe(out).frame_count == 24 and reported_fps(out) == "12"


@pytest.mark.slow
def test_ntsc_media_render_through_plan_chunks_and_assemble(tmp_path: Path) -> None:
    """30000/1001 from Config: video clips, mixed audio, two chunks concatenated."""
    with media_project(tmp_path) as project:
        run = run_pipeline(project, tmp_path / "run", {"fps": "30000/1001", "maxParallelChunks": 2})
    planned = run.plan
    assert planned.fps == NTSC and planned.total_frames == 60  # ceil(2 s * 29.97)
    assert planned.chunk_count == 2
    document = json.loads((planned.plan_dir / "plan.json").read_text())
    assert document["fps"] == "30000/1001"
    assert json.loads((planned.plan_dir / "meta" / "encoder.json").read_text())["fps"] == (
        "30000/1001"
    )
    out = run.output.path
    info = probe(out)
    assert info.frame_count == 60 and info.has_audio
    assert info.duration == pytest.approx(60 * 1001 / 30000, abs=1 / 29.97)
    assert reported_fps(out) == "29.97"
    assert audio_samples(out).shape == (round(60 * 1001 / 30000 * 48000), 2)
    # The video clips follow the rational frame grid (see test_media_pipeline at 30 fps).
    frames = decoded(out, 320, 180)
    for index, held, looped in [(10, (0, 0, 255), (0, 0, 0)), (25, (255,) * 3, (0, 255, 0))]:
        for x, expected in ((50, held), (160, looped)):
            patch = frames[index][25:32, x - 3 : x + 4].reshape(-1, 3).mean(axis=0)
            assert all(abs(a - e) <= 40 for a, e in zip(patch, expected, strict=True)), (
                index,
                x,
                patch,
            )
