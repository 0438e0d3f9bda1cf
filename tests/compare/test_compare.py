"""hyperframes_lambda.compare on generated clips: PSNR with identical frames (inf), a
changed frame found at its index, seams at the right boundary, the audio residual (and the
6 dB that amix's default normalisation hides), the CLI's JSON and exit codes."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hyperframes_lambda.compare import (
    MismatchError,
    chunk_boundaries,
    compare_audio,
    compare_frames,
    psnr,
    residual_dbfs,
    seams,
)
from hyperframes_lambda.compare.video import parse_psnr_stats

from ..compare_clips import decode_frames, moving_frames, render_like, write_frames


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("compare")
    frames = moving_frames(60)
    noisy = frames.copy()
    rng = np.random.default_rng(7)
    noise = rng.integers(-60, 60, noisy[37].shape)
    noisy[37] = np.clip(noisy[37].astype(int) + noise, 0, 255).astype(np.uint8)
    shifted = frames.copy()
    shifted[12] = np.roll(frames[12], 3, axis=1)
    glitch = frames.copy()
    glitch[30] = frames[34]  # one wrong frame at the start of chunk 3 (chunks of 15)
    freeze = frames.copy()
    freeze[45] = frames[44]  # a repeated frame at the start of chunk 4
    return {
        "clean": write_frames(frames, root / "clean.mkv"),
        "noisy": write_frames(noisy, root / "noisy.mkv"),
        "shifted": write_frames(shifted, root / "shifted.mkv"),
        "glitch": write_frames(glitch, root / "glitch.mkv"),
        "freeze": write_frames(freeze, root / "freeze.mkv"),
        "short": write_frames(frames[:59], root / "short.mkv"),
        "tone": render_like(root / "tone.mp4", 30),
        "tone-again": render_like(root / "tone-again.mp4", 30),
        "silence": render_like(root / "silence.mp4", 30, "anullsrc=channel_layout=mono"),
        "stereo-silence": render_like(root / "stereo.mp4", 30, "anullsrc=channel_layout=stereo"),
        "mute": render_like(root / "mute.mp4", 30, None),
    }


def cli(*args: str) -> tuple[int, dict[str, Any]]:
    result = subprocess.run(
        [sys.executable, "-m", "hyperframes_lambda.compare", *args],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    return result.returncode, json.loads(result.stdout)


def test_clips_decode_to_what_was_written(clips: dict[str, Path]) -> None:
    assert np.array_equal(decode_frames(clips["clean"]), moving_frames(60))


# ---- PSNR ------------------------------------------------------------------------------


def test_identical_videos_are_inf_not_a_crash(clips: dict[str, Path]) -> None:
    result = psnr(clips["clean"], clips["clean"])
    assert result.frames == 60 and (result.width, result.height) == (160, 96)
    assert result.identical_frames == 60
    assert math.isinf(result.mean_db) and math.isinf(result.min_db)
    code, doc = cli("psnr", str(clips["clean"]), str(clips["clean"]), "--threshold", "40")
    assert code == 0  # inf passes any bar
    assert doc["mean_db"] == "inf" and doc["min_db"] == "inf" and doc["passed"] is True


def test_noised_frame_is_found_at_its_index(clips: dict[str, Path]) -> None:
    result = psnr(clips["noisy"], clips["clean"])
    assert result.worst_frame == 37
    assert result.identical_frames == 59
    assert result.min_db < 30
    # One bad frame among identical ones: the headline figure is that frame's, not lifted
    # by the 59 identical ones (which are counted apart).
    assert result.differing_frames == 1
    assert result.mean_db == pytest.approx(result.min_db)
    code, doc = cli("psnr", str(clips["noisy"]), str(clips["clean"]), "--min-threshold", "40")
    assert code == 1 and doc["worst_frame"] == 37 and doc["passed"] is False
    code, doc = cli("psnr", str(clips["noisy"]), str(clips["clean"]), "--threshold", "40")
    assert code == 1 and doc["identical_frames"] == 59 and doc["differing_frames"] == 1


def test_shifted_frame_is_found_by_psnr_and_hashes(clips: dict[str, Path]) -> None:
    assert psnr(clips["shifted"], clips["clean"]).worst_frame == 12
    frames = compare_frames(clips["shifted"], clips["clean"])
    assert not frames.equal and frames.first_difference == 12 and frames.differing_frames == 1
    assert compare_frames(clips["clean"], clips["clean"]).equal
    assert cli("frames", str(clips["shifted"]), str(clips["clean"]))[1]["first_difference"] == 12


def test_frame_count_and_size_must_match(clips: dict[str, Path]) -> None:
    with pytest.raises(MismatchError, match="frame counts differ"):
        psnr(clips["short"], clips["clean"])
    with pytest.raises(MismatchError, match="sizes differ"):
        psnr(_scaled(clips["clean"]), clips["clean"])
    code, doc = cli("psnr", str(clips["short"]), str(clips["clean"]))
    assert code == 1 and "59" in doc["error"] and "60" in doc["error"]
    frames = compare_frames(clips["short"], clips["clean"])
    assert frames.first_difference == 59 and frames.differing_frames == 1


def _scaled(source: Path) -> Path:
    out = source.with_name("scaled.mkv")
    if not out.exists():
        from ..compare_clips import ffmpeg

        ffmpeg("-i", str(source), "-vf", "scale=320:192", "-c:v", "ffv1", str(out))
    return out


def test_psnr_stats_parsing_keeps_frame_order_and_inf() -> None:
    text = (
        "n:2 mse_avg:1.00 mse_y:1.00 psnr_avg:48.13 psnr_y:48.13\n"
        "n:1 mse_avg:0.00 mse_y:0.00 psnr_avg:inf psnr_y:inf\n"
    )
    values = parse_psnr_stats(text)
    assert math.isinf(values[0]) and values[1] == pytest.approx(48.13)


def test_missing_input_exits_3(tmp_path: Path, clips: dict[str, Path]) -> None:
    code, doc = cli("psnr", str(tmp_path / "nope.mp4"), str(clips["clean"]))
    assert code == 3 and "no such file" in doc["error"]


# ---- seams -----------------------------------------------------------------------------


def test_no_seams_in_a_clean_render(clips: dict[str, Path]) -> None:
    result = seams(clips["clean"], chunk_boundaries(60, 15))
    assert [b.frame for b in result.boundaries] == [15, 30, 45]
    assert result.seams == []


def test_one_frame_glitch_is_a_seam_at_its_boundary(clips: dict[str, Path]) -> None:
    result = seams(clips["glitch"], chunk_boundaries(60, 15))
    assert result.seams == [30]
    # The frame after the glitch is inside a chunk: it is one outlier of the within-chunk
    # distribution, not a seam, and it does not hide the boundary's.
    code, doc = cli("seams", str(clips["glitch"]), "--chunk-frames", "15")
    assert code == 1 and doc["seams"] == [30]
    # With the clean render as the reference, only the difference counts.
    assert seams(clips["glitch"], [15, 30, 45], clips["clean"]).seams == [30]


def test_a_frozen_frame_at_a_boundary_is_a_seam(clips: dict[str, Path]) -> None:
    result = seams(clips["freeze"], chunk_boundaries(60, 15))
    assert result.seams == [45]
    assert next(b for b in result.boundaries if b.frame == 45).change == 0.0


def test_a_cut_on_a_boundary_is_not_a_seam_when_the_reference_has_it(
    clips: dict[str, Path],
) -> None:
    # The glitched clip as its own reference: its jump at 30 is content, not a seam.
    assert seams(clips["glitch"], [15, 30, 45], clips["glitch"]).seams == []
    assert cli("seams", str(clips["clean"]), "--boundaries", "15,30,45")[0] == 0


# ---- audio -----------------------------------------------------------------------------


def test_identical_aac_cancels_below_minus_90_dbfs(clips: dict[str, Path]) -> None:
    # Two separate encodes of the same tone: the AAC encoder is deterministic.
    level = residual_dbfs(clips["tone"], clips["tone-again"])
    assert level <= -90
    result = compare_audio(clips["tone"], clips["tone-again"])
    assert result.status == "OK"
    code, doc = cli("audio", str(clips["tone"]), str(clips["tone-again"]))
    assert code == 0 and doc["status"] == "OK"
    assert doc["residual_dbfs"] == "-inf" or float(doc["residual_dbfs"]) <= -90


def test_tone_against_silence_is_drift(clips: dict[str, Path]) -> None:
    result = compare_audio(clips["tone"], clips["silence"])
    assert result.status == "DRIFT"
    assert result.residual_dbfs is not None and -25 < result.residual_dbfs < -15  # 1/8 sine
    code, doc = cli("audio", str(clips["tone"]), str(clips["silence"]))
    assert code == 1 and doc["status"] == "DRIFT"
    # A bar above the residual lets it through.
    assert compare_audio(clips["tone"], clips["silence"], threshold_dbfs=0).status == "OK"
    # Another channel layout is reported as such, whatever the bar.
    other = compare_audio(clips["silence"], clips["stereo-silence"], threshold_dbfs=0)
    assert other.status == "layout-mismatch" and other.layout == (
        "48000 Hz mono",
        "48000 Hz stereo",
    )


def test_amix_default_normalisation_hides_6_db(clips: dict[str, Path]) -> None:
    true_level = residual_dbfs(clips["tone"], clips["silence"])
    normalised = residual_dbfs(clips["tone"], clips["silence"], normalize=True)
    assert true_level - normalised == pytest.approx(20 * math.log10(2), abs=0.1)
    _, doc = cli("audio", str(clips["tone"]), str(clips["silence"]), "--normalize")
    assert float(doc["residual_dbfs"]) == pytest.approx(normalised, abs=0.01)


def test_audio_stream_statuses(clips: dict[str, Path]) -> None:
    assert compare_audio(clips["tone"], clips["mute"]).status == "audio-stream-mismatch"
    assert compare_audio(clips["mute"], clips["tone"]).status == "audio-stream-mismatch"
    assert compare_audio(clips["mute"], clips["mute"]).status == "no-audio-on-either"
    assert cli("audio", str(clips["mute"]), str(clips["mute"]))[0] == 0
    assert cli("audio", str(clips["tone"]), str(clips["mute"]))[0] == 1
