"""`data-playback-start` and `data-has-audio`, read as HyperFrames' producer reads them.

`data-playback-start` (HyperFrames' newer name for `data-media-start`, and the one that wins
when both are numbers >= 0) sets where a clip starts in its file; we read only the older
name, so a clip started 1 s in showed its first second (issue 18, item 3: 4.9 dB against
the reference CLI's render of our own composition). An unmuted `<video
data-has-audio="false">` adds no sound to the reference's soundtrack; we mixed it in.
`data-fade-in` / `data-fade-out` ramp a clip's sound linearly at its ends; we ignored them (measured on our own composition: a flat tone where the reference ramps).
Each through the page (a video render) and through the HTML alone (an audio-only render,
which starts no browser).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from hyperframes_lambda.media.probe import decode_image
from hyperframes_lambda.runner.local_render import RenderOptions, render_local

from ..conftest import COMPOSITIONS
from ..media_fixtures import colour_video, ffmpeg, tone

pytestmark = pytest.mark.slow

W, H = 320, 180
RATE = 48000


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("media-offsets") / "project"
    shutil.copytree(COMPOSITIONS / "media-offsets", root)
    media = root / "media"
    media.mkdir()
    colour_video(media / "colors.mp4")  # red, lime, blue, white: 0.3 s each
    tone(media / "tone.wav", 660, 0.25, 2)
    ffmpeg(
        "-f", "lavfi", "-i", "color=c=gray:s=160x90:r=30:d=1",
        "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate={RATE}:duration=1",
        "-af", "volume=2", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac",
        "-shortest", str(media / "a440.mp4"),
    )  # fmt: skip
    return root


@pytest.fixture(scope="module")
def video_render(project: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    work = tmp_path_factory.mktemp("media-offsets-video")
    out = work / "out.mp4"
    render_local(project, out, RenderOptions(dump_frames=work / "f", pages=1, lint=False))
    return out, sorted((work / "f").glob("frame_*"))[0]


def first_frame(path: Path) -> npt.NDArray[np.uint8]:
    raw = decode_image(path.read_bytes(), W, H, "rgb24")
    return np.frombuffer(raw, np.uint8).reshape(H, W, 3)


def near(pixel: npt.NDArray[np.uint8], rgb: tuple[int, int, int]) -> bool:
    return bool(np.abs(pixel.astype(int) - np.array(rgb)).max() < 60)


def tone_levels(path: Path, work: Path) -> dict[int, float]:
    """Amplitude spectrum of the soundtrack at 440 and 660 Hz (mono, whole track)."""
    pcm = work / f"{path.stem}.pcm"
    ffmpeg("-i", str(path), "-ac", "1", "-ar", str(RATE), "-f", "s16le", str(pcm))
    samples = np.frombuffer(pcm.read_bytes(), np.int16).astype(float) / 32768
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples)))) / len(samples)
    freqs = np.fft.rfftfreq(len(samples), 1 / RATE)
    return {f: float(spectrum[np.abs(freqs - f) < 5].max()) for f in (440, 660)}


def test_playback_start_sets_the_offset(video_render: tuple[Path, Path]) -> None:
    frame = first_frame(video_render[1])
    assert near(frame[45, 80], (0, 255, 0)), (
        f"#ps shows {tuple(frame[45, 80])}, not lime (0.3 s in)"
    )


def test_playback_start_wins_over_media_start(video_render: tuple[Path, Path]) -> None:
    frame = first_frame(video_render[1])
    assert near(frame[45, 240], (0, 0, 255)), (
        f"#both shows {tuple(frame[45, 240])}, not blue (0.6 s in)"
    )


def soundtrack(route: str, project: Path, video_render: tuple[Path, Path], work: Path) -> Path:
    if route == "page":
        return video_render[0]
    out = work / "out.wav"  # an audio-only output: the plan reads the HTML, no browser
    render_local(project, out, RenderOptions(lint=False))
    return out


@pytest.mark.parametrize("route", ["page", "html"])
def test_has_audio_false_keeps_a_video_silent(
    route: str, project: Path, video_render: tuple[Path, Path], tmp_path: Path
) -> None:
    levels = tone_levels(soundtrack(route, project, video_render, tmp_path), tmp_path)
    assert levels[660] > 0.02, f"the <audio> is missing: {levels}"
    assert levels[440] < levels[660] / 50, f"the data-has-audio=false video sounds: {levels}"


@pytest.mark.parametrize("route", ["page", "html"])
def test_audio_fades_in_and_out(
    route: str, project: Path, video_render: tuple[Path, Path], tmp_path: Path
) -> None:
    out = soundtrack(route, project, video_render, tmp_path)
    pcm = tmp_path / "mono.pcm"
    ffmpeg("-i", str(out), "-ac", "1", "-ar", str(RATE), "-f", "s16le", str(pcm))
    samples = np.frombuffer(pcm.read_bytes(), np.int16).astype(float) / 32768

    def level(lo: float, hi: float) -> float:
        return float(np.sqrt(np.mean(samples[int(lo * RATE) : int(hi * RATE)] ** 2)))

    middle = level(0.25, 0.35)
    assert middle > 0.05, f"the tone is missing: {middle}"
    assert level(0.0, 0.04) < 0.25 * middle, "no fade-in over the first 0.2 s"
    assert level(0.56, 0.6) < 0.25 * middle, "no fade-out over the last 0.2 s"
