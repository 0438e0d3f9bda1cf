"""A clip's volume changed over time by the timeline (issue 18, item 3).

HyperFrames' producer samples each sounding clip's ``volume`` on its page at the output
frame rate while seeking the timeline, and mixes the curve it finds (hyperframes@0.8.170);
we mixed the clip's flat ``data-volume``, so a fade-out tweened by GSAP stayed loud. Our
composition tweens one tone from 1 to 0.2 over 1-3 s and another from its data-volume 0.5
to 0.9 over 0.5-1.5 s; a third stays at 0.5. Each tone's level is read in windows of the
mix (a lock-in at its frequency), and a render in 3 chunks must give the same audio.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from hyperframes_lambda.media.audio_mix import audio_samples
from hyperframes_lambda.runner.local_render import RenderOptions, render_local
from hyperframes_lambda.stages.plan import VOLUME_JSON, plan

from ..conftest import COMPOSITIONS
from ..media_fixtures import ffmpeg

pytestmark = pytest.mark.slow

RATE = 48000
AMPLITUDE = 0.25
WINDOW = 0.1  # s: a whole number of cycles of 440, 660 and 880 Hz


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("volume-tween") / "project"
    shutil.copytree(COMPOSITIONS / "volume-tween", root)
    (root / "media").mkdir()
    for frequency in (440, 660, 880):
        ffmpeg(
            "-f", "lavfi", "-i", f"sine=frequency={frequency}:sample_rate={RATE}:duration=4",
            "-af", f"volume={AMPLITUDE / 0.125}", "-c:a", "pcm_s16le",
            str(root / "media" / f"a{frequency}.wav"),
        )  # fmt: skip
    return root


@pytest.fixture(scope="module")
def renders(project: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    work = tmp_path_factory.mktemp("volume-tween-out")
    whole, chunked = work / "whole.mp4", work / "chunked.mp4"
    render_local(project, whole, RenderOptions(pages=1, lint=False))
    render_local(project, chunked, RenderOptions(chunks=3, workers=1, pages=1, lint=False))
    return whole, chunked


def level(samples: npt.NDArray[np.float32], frequency: int, at: float) -> float:
    """The tone's amplitude in the window centred on ``at`` s, relative to the source's."""
    first = round((at - WINDOW / 2) * RATE)
    x = samples[first : first + round(WINDOW * RATE), 0].astype(float)
    t = (first + np.arange(len(x))) / RATE
    return float(2 * abs(np.mean(x * np.exp(-2j * np.pi * frequency * t)))) / AMPLITUDE


def test_mix_follows_the_tweened_volume(renders: tuple[Path, Path]) -> None:
    samples = audio_samples(renders[0])
    # 440 Hz: 1 until 1 s, linear to 0.2 at 3 s, then 0.2 (a window on a linear ramp reads
    # its value at the centre; at 1 s and 3 s half the window is on the ramp).
    for at, want in [(0.5, 1.0), (1.0, 0.995), (1.4, 0.84), (1.8, 0.68), (2.2, 0.52),
                     (2.6, 0.36), (3.0, 0.205), (3.5, 0.2)]:  # fmt: skip
        assert level(samples, 440, at) == pytest.approx(want, abs=0.01), f"440 Hz at {at} s"
    # 660 Hz: its data-volume 0.5 until 0.5 s, then up to 0.9 at 1.5 s.
    for at, want in [(0.25, 0.5), (1.0, 0.7), (2.0, 0.9), (3.5, 0.9)]:
        assert level(samples, 660, at) == pytest.approx(want, abs=0.01), f"660 Hz at {at} s"
    # 880 Hz: untouched, at its data-volume.
    for at in (0.5, 1.5, 2.5, 3.5):
        assert level(samples, 880, at) == pytest.approx(0.5, abs=0.01), f"880 Hz at {at} s"


def test_chunked_render_has_the_same_audio(renders: tuple[Path, Path]) -> None:
    whole, chunked = (audio_samples(path) for path in renders)
    assert whole.shape == chunked.shape
    assert np.array_equal(whole, chunked)


def test_plan_keeps_only_changing_curves(project: Path, tmp_path: Path) -> None:
    """An audio-only plan too: a script naming `volume` sends it to the page (the HTML
    alone cannot tell the curve); only the clips whose volume moves get one."""
    result = plan(project, {"format": "wav"}, tmp_path / "plan")
    curves = json.loads((result.plan_dir / VOLUME_JSON).read_text())
    assert [c["id"] for c in curves] == ["fading", "loud"]
    fading = dict((t, g) for t, g in curves[0]["curve"])
    assert fading[1.0] == 1.0 and fading[3.0] == 0.2 and fading[2.0] == pytest.approx(0.6)
