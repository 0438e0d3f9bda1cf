"""Video clips, mixed audio and remote assets through plan → 4 chunks → assemble.

The remote files (an image and an audio track) are served by a real HTTP server on
127.0.0.1 that is shut down right after planning: chunk workers must not need it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hyperframes_lambda.media.audio_mix import audio_samples
from hyperframes_lambda.media.probe import probe
from hyperframes_lambda.stages.assemble import AssembleResult, assemble
from hyperframes_lambda.stages.plan import PlanResult, plan
from hyperframes_lambda.stages.render_chunk import render_chunk

from ..media_fixtures import media_project
from ..pipeline_helpers import decoded, run_pipeline

pytestmark = pytest.mark.slow

RED, GREEN, BLUE, WHITE, BLACK = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255), (0, 0, 0)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[PlanResult, AssembleResult]:
    work = tmp_path_factory.mktemp("media")
    with media_project(work) as project:
        planned = plan(
            project,
            {"maxParallelChunks": 4, "quality": "high"},
            work / "plan",
            work / "plan.tar.gz",
        )
    # The remote server is gone now; every chunk renders from the plan alone.
    chunks = [
        render_chunk(
            planned.plan_dir, i, work / "chunks" / f"{i:04d}.mp4", expected_hash=planned.plan_hash
        )
        for i in range(planned.chunk_count)
    ]
    output = assemble(
        planned.plan_dir,
        [c.path for c in chunks],
        work / "out.mp4",
        expected_hashes=[c.sha256 for c in chunks],
    )
    return planned, output


def colour_at(frame: np.ndarray, x: int, y: int) -> tuple[int, int, int]:
    patch = frame[y - 3 : y + 4, x - 3 : x + 4].reshape(-1, 3).mean(axis=0)
    return (int(patch[0]), int(patch[1]), int(patch[2]))


def close(
    actual: tuple[int, int, int], expected: tuple[int, int, int], tolerance: int = 40
) -> bool:
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))


def test_plan_has_audio_and_four_chunks(rendered: tuple[PlanResult, AssembleResult]) -> None:
    planned, output = rendered
    assert planned.has_audio and planned.chunk_count == 4 and planned.total_frames == 60
    assert (planned.plan_dir / "audio.m4a").is_file()
    info = probe(output.path)
    assert info.frame_count == 60 and info.has_audio


@pytest.mark.parametrize(
    ("frame", "held", "looped"),
    [
        (0, GREEN, BLACK),  # held starts 0.3 s into the source; looped has not started
        (10, BLUE, BLACK),  # t = 0.333: held's source t = 0.633
        (16, BLUE, RED),  # t = 0.533: looped starts at its source's beginning
        (25, WHITE, GREEN),  # t = 0.833: held's source t = 1.133
        (45, WHITE, WHITE),  # t = 1.5: held's source ended at t = 0.9, last frame held
        (52, WHITE, RED),  # t = 1.733: looped wrapped around its 1.2 s source
    ],
)
def test_video_frames_follow_media_start_loop_and_hold(
    rendered: tuple[PlanResult, AssembleResult],
    frame: int,
    held: tuple[int, int, int],
    looped: tuple[int, int, int],
) -> None:
    frames = decoded(rendered[1].path, 320, 180)
    assert close(colour_at(frames[frame], 50, 28), held), colour_at(frames[frame], 50, 28)
    assert close(colour_at(frames[frame], 160, 28), looped), colour_at(frames[frame], 160, 28)


def test_remote_image_was_localised(rendered: tuple[PlanResult, AssembleResult]) -> None:
    frame = decoded(rendered[1].path, 320, 180)[30]
    assert close(colour_at(frame, 240, 20), (255, 0, 255))


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(samples.astype(np.float64) ** 2)))


def tone_amplitude(samples: np.ndarray, frequency: float) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples)))) / (len(samples) / 4)
    bins = np.fft.rfftfreq(len(samples), 1 / 48000)
    return float(spectrum[np.argmin(np.abs(bins - frequency))])


def test_soundtrack_length_and_levels(rendered: tuple[PlanResult, AssembleResult]) -> None:
    samples = audio_samples(rendered[1].path)
    assert samples.shape == (96000, 2), "exactly frames / fps seconds at 48 kHz"
    left = samples[:, 0]

    def window(a: float, b: float) -> np.ndarray:
        return left[int(a * 48000) : int(b * 48000)]

    assert rms(window(0.05, 0.45)) < 0.002  # nothing before 0.5 s
    low_only = window(0.6, 0.95)
    assert rms(low_only) == pytest.approx(0.4 * 0.5 / np.sqrt(2), rel=0.05)
    assert tone_amplitude(low_only, 440) == pytest.approx(0.2, rel=0.08)
    assert tone_amplitude(low_only, 1000) < 0.01
    both = window(1.05, 1.45)
    assert tone_amplitude(both, 440) == pytest.approx(0.2, rel=0.08)
    # The mono 1 kHz source is not attenuated by a -3 dB upmix, and tracks are summed.
    assert tone_amplitude(both, 1000) == pytest.approx(0.3, rel=0.08)
    assert rms(both) == pytest.approx(np.sqrt(0.2**2 / 2 + 0.3**2 / 2), rel=0.05)
    high_only = window(1.55, 1.95)
    assert tone_amplitude(high_only, 440) < 0.01
    assert np.allclose(samples[48000 * 3 // 2 :, 0], samples[48000 * 3 // 2 :, 1], atol=1e-3)


@pytest.mark.parametrize(("fmt", "name"), [("webm", "out.webm"), ("mov", "out.mov")])
def test_soundtrack_in_webm_and_mov_is_exact(tmp_path: Path, fmt: str, name: str) -> None:
    with media_project(tmp_path) as project:
        run = run_pipeline(project, tmp_path / "run", {"format": fmt, "maxParallelChunks": 2}, name)
    assert probe(run.output.path).has_audio
    assert audio_samples(run.output.path).shape == (96000, 2)
