"""The CLI end to end: real renders, verified by decoding; bad input fails cleanly."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hyperframes_lambda.media.probe import decode_frames, probe

from .conftest import COMPOSITIONS, EXAMPLES, to_rgb

pytestmark = pytest.mark.slow


def run_cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hyperframes_lambda.cli", *map(str, args)],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def test_example_renders_with_exact_frames_size_and_duration(tmp_path: Path) -> None:
    out = tmp_path / "title.mp4"
    result = run_cli("render", EXAMPLES / "title-card", "-o", out, "--quiet")
    assert result.returncode == 0, result.stderr
    summary = result.stdout.splitlines()
    assert len(summary) == 3, summary
    assert summary[0] == f"{out}: 120 frames, 1920x1080 at 30 fps (4.00 s), " + (
        f"{out.stat().st_size / 1024:.1f} KiB"
    )
    assert summary[1].startswith("took ") and "1 chunk on 1 worker" in summary[1]
    info = probe(out)
    assert (info.frame_count, info.width, info.height) == (120, 1920, 1080)
    assert info.video_codec == "h264" and info.pixel_format == "yuv420p"
    assert info.duration == pytest.approx(4.0, abs=1 / 30)
    assert not info.has_audio


def test_encoded_frames_match_the_captured_screenshots(tmp_path: Path) -> None:
    """Each decoded frame is its own screenshot (right order, nothing dropped or doubled)."""
    out, dump = tmp_path / "kp.mp4", tmp_path / "frames"
    result = run_cli(
        "render", COMPOSITIONS / "known-pixels", "-o", out, "--quiet", "--quality", "high",
        "--dump-frames", dump,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    shots = sorted(dump.glob("frame_*.png"))
    assert len(shots) == 60
    decoded = [
        np.frombuffer(f, np.uint8).reshape(180, 320, 3) for f in decode_frames(out, 320, 180)
    ]
    assert len(decoded) == 60
    for index, (shot, frame) in enumerate(zip(shots, decoded, strict=True)):
        reference = to_rgb(shot.read_bytes())
        own = psnr(frame, reference)
        assert own > 35, f"frame {index}: {own:.1f} dB against its own screenshot"
        if index + 1 < len(shots):  # and it is closer to its own screenshot than the next one
            assert own > psnr(frame, to_rgb(shots[index + 1].read_bytes()))


@pytest.mark.parametrize(
    ("project", "message", "extra", "status"),
    [
        ("no-entry", "index.html does not exist", (), 2),  # the command line names no entry
        ("no-id", "no element with data-composition-id", (), 1),
        ("zero-duration", "duration is 0", (), 1),
        ("throws", "boom: scene config missing", (), 1),
        ("unreachable", "https://assets.invalid/brand/logo.png", ("--strict-assets",), 1),
        ("missing-local", " images/not-there.png", ("--strict-assets",), 1),  # as written
        ("empty-script", '<script src=""> (<script> number 1 in', ("--strict-assets",), 1),
    ],
)
def test_bad_input_fails_clearly_and_leaves_nothing(
    tmp_path: Path, project: str, message: str, extra: tuple[str, ...], status: int
) -> None:
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    result = run_cli(
        "render", COMPOSITIONS / "bad" / project, "-o", out_dir / "video.mp4", "--quiet", *extra
    )
    assert result.returncode == status, result.stderr
    assert message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    if status == 1:  # the contract: one line "error [CODE]: message"
        errors = [line for line in result.stderr.splitlines() if line.startswith("error [")]
        assert len(errors) == 1 and message in errors[0], result.stderr
    assert list(out_dir.iterdir()) == [], "a failed render must leave no file behind"


@pytest.mark.parametrize(
    ("project", "url"),
    [
        ("unreachable", "https://assets.invalid/brand/logo.png"),
        ("missing-local", "image images/not-there.png is not in the project"),
    ],
)
def test_a_missing_image_renders_broken_and_warns(tmp_path: Path, project: str, url: str) -> None:
    """As HyperFrames does: an image that cannot be had is not fatal (unless strict)."""
    out = tmp_path / "video.mp4"
    result = run_cli("render", COMPOSITIONS / "bad" / project, "-o", out, "--quiet")
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert any(url in line for line in warnings), warnings
    assert not any("/compiled/" in line for line in warnings), "the author's paths, not ours"
    assert probe(out).frame_count > 0


def test_an_empty_script_src_warns_and_renders(tmp_path: Path) -> None:
    """As a browser (and HyperFrames): the <script> fires an error event, the page goes on."""
    out = tmp_path / "video.mp4"
    result = run_cli("render", COMPOSITIONS / "bad" / "empty-script", "-o", out, "--quiet")
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert any('<script src=""> (<script> number 1 in' in line for line in warnings), warnings
    assert probe(out).frame_count == 30


def test_failed_render_keeps_the_previous_good_output(tmp_path: Path) -> None:
    out = tmp_path / "video.mp4"
    out.write_bytes(b"previous good render")
    result = run_cli("render", COMPOSITIONS / "bad" / "throws", "-o", out, "--quiet")
    assert result.returncode == 1
    assert out.read_bytes() == b"previous good render"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["video.mp4"]


def test_size_must_keep_the_aspect_ratio(tmp_path: Path) -> None:
    result = run_cli(
        "render",
        EXAMPLES / "title-card",
        "-o",
        tmp_path / "x.mp4",
        "--width",
        "1000",
        "--height",
        "1000",
    )
    assert result.returncode == 1
    assert "aspect ratio" in result.stderr and "1000x1000" in result.stderr


def test_missing_browser_names_both_install_routes(tmp_path: Path) -> None:
    fake = tmp_path / "no-such-chrome"
    env_result = subprocess.run(
        [sys.executable, "-m", "hyperframes_lambda.cli", "render", str(EXAMPLES / "title-card"),
         "-o", str(tmp_path / "x.mp4")],
        capture_output=True, text=True, check=False,
        env={**__import__("os").environ, "HYPERFRAMES_CHROME_PATH": str(fake)},
    )  # fmt: skip
    assert env_result.returncode == 1
    # UPPER_SNAKE like every CLI code (on Lambda, SPEC §10 keeps the reference's name).
    (line,) = [x for x in env_result.stderr.splitlines() if x.startswith("error")]
    assert "Traceback" not in env_result.stderr
    assert line.startswith(f"error [CHROME_BINARY_UNAVAILABLE]: HYPERFRAMES_CHROME_PATH={fake}")
    assert "hyperframes-lambda browser install" in line
    assert "apt-get install chromium-headless-shell" in line
    assert not (tmp_path / "x.mp4").exists()
    assert shutil.which("true")  # sanity: PATH intact for the next tests


def test_stage_commands_plan_render_chunk_assemble(tmp_path: Path) -> None:
    import json

    planned = run_cli(
        "plan",
        COMPOSITIONS / "known-pixels",
        tmp_path / "p",
        "--config",
        '{"maxParallelChunks": 2}',
    )
    assert planned.returncode == 0, planned.stderr
    plan = json.loads(planned.stdout)
    assert plan["chunkCount"] == 2 and (tmp_path / "p" / "plan.tar.gz").is_file()
    chunks = []
    for index in range(2):
        rendered = run_cli(
            "render-chunk", tmp_path / "p" / "plan.tar.gz", str(index), tmp_path / f"{index}.mp4",
            "--plan-hash", plan["planHash"],
        )  # fmt: skip
        assert rendered.returncode == 0, rendered.stderr
        chunks.append(json.loads(rendered.stdout))
    assembled = run_cli(
        "assemble", tmp_path / "p" / "plan.tar.gz", tmp_path / "out.mp4", tmp_path / "0.mp4", tmp_path / "1.mp4",
        "--hashes", ",".join(c["sha256"] for c in chunks),
    )  # fmt: skip
    assert assembled.returncode == 0, assembled.stderr
    assert json.loads(assembled.stdout)["framesEncoded"] == 60
    assert probe(tmp_path / "out.mp4").frame_count == 60
    wrong = run_cli(
        "render-chunk", tmp_path / "p" / "plan", "0", tmp_path / "x.mp4", "--plan-hash", "f" * 64
    )
    assert wrong.returncode == 1 and "error [PLAN_HASH_MISMATCH]" in wrong.stderr
