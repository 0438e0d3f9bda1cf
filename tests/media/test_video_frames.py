"""extract_video_frames: which source frame lands on which index, how many, alpha, bytes.

Two sources: colour blocks (red, green, blue, white, 0.5 s each) for the obvious check, and
an "index" clip whose grey level encodes its own frame number (luma 16 + 3n, lossless
H.264) so every extracted frame can be traced to the exact source frame it shows.
"""

from __future__ import annotations

import hashlib
import math
import re
import shutil
from fractions import Fraction
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from hyperframes_lambda.errors import NotMediaPayloadError, VideoSourceUnrenderableError
from hyperframes_lambda.media.probe import decode_image
from hyperframes_lambda.media.video_frames import (
    ExtractedFrames,
    VideoClip,
    extract_video_frames,
    frame_for_time,
    frames_to_cover,
)

from ..media_fixtures import ffmpeg

FPS = 30
W, H = 64, 48
COLOURS = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)]


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("video-src")
    blocks = "".join(
        f"color=c=0x{r:02x}{g:02x}{b:02x}:size={W}x{H}:rate={FPS}:duration=0.5[c{i}];"
        for i, (r, g, b) in enumerate(COLOURS)
    )
    graph = f"{blocks}[c0][c1][c2][c3]concat=n=4:v=1:a=0"
    ffmpeg("-f", "lavfi", "-i", graph, "-c:v", "libx264", "-pix_fmt", "yuv420p",
           str(d / "blocks.mp4"))  # fmt: skip
    index = (
        f"color=c=black:size={W}x{H}:rate={FPS}:duration=2,"
        "format=yuv420p,geq=lum=16+3*N:cb=128:cr=128"
    )
    ffmpeg("-f", "lavfi", "-i", index, "-c:v", "libx264", "-qp", "0", "-pix_fmt", "yuv420p",
           str(d / "index.mp4"))  # fmt: skip
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:duration=1", str(d / "tone.wav"))
    alpha = f"color=c=red@0.5:size={W}x{H}:rate={FPS}:duration=1,format=rgba"
    ffmpeg("-f", "lavfi", "-i", alpha, "-c:v", "qtrle", str(d / "alpha.mov"))
    alpha_yuv = f"color=c=red@0.5:size={W}x{H}:rate={FPS}:duration=1,format=yuva420p"
    ffmpeg("-f", "lavfi", "-i", alpha_yuv, "-c:v", "libvpx-vp9", str(d / "alpha.webm"))
    return d


def pixels(path: Path, pix_fmt: str = "rgb24") -> npt.NDArray[np.uint8]:
    channels = 4 if pix_fmt == "rgba" else 3
    raw = decode_image(path.read_bytes(), W, H, pix_fmt)
    return np.frombuffer(raw, np.uint8).reshape(H, W, channels)


def source_index(path: Path) -> int:
    """Frame number the index clip encoded into this frame's grey level."""
    grey = float(pixels(path).mean())
    return round(grey * 219 / 255 / 3)  # full-range grey back to (luma - 16) / 3


def extract(
    sources: Path,
    out: Path,
    *,
    start: float = 0.0,
    duration: float | None = None,
    media_start: float = 0.0,
    playback_rate: float = 1.0,
    end: float = 10.0,
) -> ExtractedFrames:
    """Extract from the index clip."""
    clip = VideoClip(sources / "index.mp4", start, duration, media_start, playback_rate)
    frames = extract_video_frames(clip, FPS, out, composition_end=end)
    assert frames is not None
    return frames


def test_media_start_picks_the_second_colour(sources: Path, tmp_path: Path) -> None:
    clip = VideoClip(sources / "blocks.mp4", start=1.0, duration=None, media_start=0.5)
    frames = extract_video_frames(clip, FPS, tmp_path / "f", composition_end=10.0)
    assert (frames.count, frames.ext, frames.width, frames.height) == (45, "jpg", W, H)
    for k, colour in [(0, COLOURS[1]), (14, COLOURS[1]), (15, COLOURS[2]), (44, COLOURS[3])]:
        mean = pixels(tmp_path / "f" / frames.name(k)).reshape(-1, 3).mean(axis=0)
        np.testing.assert_allclose(mean, colour, atol=3)


def test_every_frame_maps_to_the_expected_source_frame(sources: Path, tmp_path: Path) -> None:
    frames = extract(sources, tmp_path / "f", media_start=0.5)
    assert frames.count == 45
    assert [source_index(tmp_path / "f" / frames.name(k)) for k in range(45)] == list(range(15, 60))


def test_playback_rate_is_applied_at_extraction(sources: Path, tmp_path: Path) -> None:
    frames = extract(sources, tmp_path / "f", media_start=0.5, playback_rate=2.0)
    # Frame k shows source time 0.5 + k * 2 / 30: frame 15 is source t = 1.5 (frame 45).
    assert source_index(tmp_path / "f" / frames.name(15)) == 45
    shown = [source_index(tmp_path / "f" / frames.name(k)) for k in range(frames.count)]
    assert shown == [15 + 2 * k for k in range(frames.count)]
    assert frames.count == math.ceil(1.5 * FPS / 2)  # 23 frames until the source ends


def test_slow_and_unaligned_media_start(sources: Path, tmp_path: Path) -> None:
    frames = extract(sources, tmp_path / "f", media_start=0.52, playback_rate=0.5)
    # Last source frame on screen at 0.52 + k / 60 s.
    shown = [source_index(tmp_path / "f" / frames.name(k)) for k in range(frames.count)]
    assert shown == [math.floor((0.52 + k / 60) * FPS + 1e-6) for k in range(frames.count)]
    assert frames.count == math.ceil((2.0 - 0.52) * FPS / 0.5)


@pytest.mark.parametrize(("duration", "count"), [(0.4, 12), (0.41, 13), (1.0, 30)])
def test_clip_shorter_than_source(
    sources: Path, tmp_path: Path, duration: float, count: int
) -> None:
    assert extract(sources, tmp_path / "f", duration=duration).count == count
    assert count == frames_to_cover(duration, FPS)


def test_source_shorter_than_clip_gives_source_frames(sources: Path, tmp_path: Path) -> None:
    # Holding the last frame is the runtime's job: only the 60 real frames are written.
    assert extract(sources, tmp_path / "f", duration=5.0).count == 60
    assert extract(sources, tmp_path / "g", start=1.0, end=1.5).count == 15


def test_re_extraction_gives_identical_bytes(sources: Path, tmp_path: Path) -> None:
    def digest(directory: Path) -> dict[str, str]:
        return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in directory.iterdir()}

    first = extract(sources, tmp_path / "a", media_start=0.3, playback_rate=1.5)
    first_bytes = digest(tmp_path / "a")
    second = extract(sources, tmp_path / "b", media_start=0.3, playback_rate=1.5)
    assert first == second and digest(tmp_path / "b") == first_bytes
    extract(sources, tmp_path / "a", media_start=0.3, playback_rate=1.5)  # replaces in place
    assert digest(tmp_path / "a") == first_bytes
    assert len(first_bytes) == first.count
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b"]  # no staging dirs left


def test_png_when_asked(sources: Path, tmp_path: Path) -> None:
    clip = VideoClip(sources / "blocks.mp4", start=0.0, duration=0.2)
    frames = extract_video_frames(
        clip, FPS, tmp_path / "f", composition_end=1.0, image_format="png"
    )
    assert (frames.count, frames.ext) == (6, "png")
    assert (tmp_path / "f" / "frame_000005.png").exists()


@pytest.mark.parametrize("name", ["alpha.mov", "alpha.webm"])
def test_alpha_source_gives_png_with_alpha(sources: Path, tmp_path: Path, name: str) -> None:
    clip = VideoClip(sources / name, start=0.0, duration=None)
    frames = extract_video_frames(clip, FPS, tmp_path / "f", composition_end=5.0)
    assert (frames.count, frames.ext) == (30, "png")
    rgba = pixels(tmp_path / "f" / "frame_000010.png", "rgba").reshape(-1, 4).mean(axis=0)
    np.testing.assert_allclose(rgba, [255, 0, 0, 128], atol=3)


def test_non_media_is_rejected(tmp_path: Path) -> None:
    fake = tmp_path / "clip.mp4"
    fake.write_text("<html><body>Access Denied</body></html>")
    with pytest.raises(NotMediaPayloadError, match=re.escape(str(fake))):
        extract_video_frames(VideoClip(fake, 0.0, None), FPS, tmp_path / "f", composition_end=1)
    assert not (tmp_path / "f").exists()


def test_audio_only_and_past_the_end_are_unrenderable(sources: Path, tmp_path: Path) -> None:
    with pytest.raises(VideoSourceUnrenderableError, match=r"tone\.wav"):
        clip = VideoClip(sources / "tone.wav", 0.0, None)
        extract_video_frames(clip, FPS, tmp_path / "f", composition_end=1)
    with pytest.raises(VideoSourceUnrenderableError, match="past the source's end"):
        extract(sources, tmp_path / "f", media_start=2.5)
    assert sorted(tmp_path.iterdir()) == []


def test_frame_for_time_matches_the_runtime_rule() -> None:
    assert frame_for_time(1.0, 1.0, FPS, 10, loop=False) == 0
    assert frame_for_time(1.0 + 3 / FPS, 1.0, FPS, 10, loop=False) == 3  # no float drift
    assert frame_for_time(5.0, 1.0, FPS, 10, loop=False) == 9  # held
    assert frame_for_time(1.0 + 12 / FPS, 1.0, FPS, 10, loop=True) == 2  # wrapped


@pytest.mark.parametrize(
    ("start", "duration", "end"),
    [(10.0, None, 10.0), (12.0, 1.0, 10.0), (1.0, 0.0, 10.0), (9.99999, None, 10.0)],
)
def test_a_clip_with_no_frame_on_screen_is_skipped(
    sources: Path, tmp_path: Path, start: float, duration: float | None, end: float
) -> None:
    clip = VideoClip(sources / "index.mp4", start, duration)
    assert extract_video_frames(clip, FPS, tmp_path / "f", composition_end=end) is None
    assert not (tmp_path / "f").exists()


def test_the_plan_keeps_a_manifest_slot_for_a_clip_never_on_screen(
    sources: Path, tmp_path: Path
) -> None:
    """The manifest is positional (per <video> in document order): a clip with nothing to
    show keeps its slot, with ``count: 0`` (the runtime shows no frame for it)."""
    from hyperframes_lambda.stages.plan import _extract_videos

    (tmp_path / "media").mkdir()
    shutil.copy(sources / "index.mp4", tmp_path / "media" / "index.mp4")
    url = "http://127.0.0.1:1/media/index.mp4"
    common = {"kind": "video", "src": url, "mediaStart": 0, "playbackRate": 1, "loop": False}
    media = [
        {**common, "index": 0, "start": 1.5, "end": None},  # starts when the composition ends
        {**common, "index": 1, "start": 0.0, "end": 1.0},
    ]
    manifest, _sources_done = _extract_videos(media, tmp_path, Fraction(FPS), duration=1.5)
    assert manifest == [
        {"dir": "/video-frames/000", "count": 0, "ext": "jpg"},
        {"dir": "/video-frames/001", "count": 30, "ext": "jpg", "width": 64, "height": 48},
    ]
    assert sorted(p.name for p in (tmp_path / "video-frames").iterdir()) == ["001"]


@pytest.mark.parametrize(
    ("fps", "count"),
    [(Fraction(25), 50), (Fraction(12), 24), (Fraction(30000, 1001), 60), (Fraction(60), 120)],
)
def test_rational_and_other_rates_sample_the_source_on_their_own_grid(
    sources: Path, tmp_path: Path, fps: Fraction, count: int
) -> None:
    clip = VideoClip(sources / "index.mp4", 0.0, None)
    frames = extract_video_frames(clip, fps, tmp_path / "f", composition_end=10.0)
    assert frames is not None and frames.count == count  # output slots before the 2 s end
    shown = [source_index(tmp_path / "f" / frames.name(k)) for k in range(frames.count)]
    # Slot k shows the last source frame (30 fps) on screen at k / fps.
    assert shown == [min(59, math.floor(Fraction(k) / fps * FPS)) for k in range(frames.count)]
    assert frame_for_time(float(Fraction(7) / fps), 0.0, fps, count, loop=False) == 7


@pytest.mark.parametrize(
    ("codec", "height", "matrix", "assumed"),
    [
        ("h264", 1920, None, "bt709"),  # HD, untagged: Chrome shows it as BT.709
        ("h264", 360, None, "smpte170m"),  # SD: BT.601
        ("vp9", 1080, None, "smpte170m"),  # Chrome's BT.601 guess for VP9/AV1
        ("h264", 1080, "bt470bg", None),  # tagged: its own matrix
    ],
)
def test_untagged_sources_are_read_the_way_chrome_shows_them(
    codec: str, height: int, matrix: str | None, assumed: str | None
) -> None:
    from hyperframes_lambda.media.media_probe import MediaStreams
    from hyperframes_lambda.media.video_frames import _untagged_matrix

    streams = MediaStreams(
        path=Path("x.mp4"), duration=1.0, has_video=True, has_audio=False, width=height,
        height=height, fps=30.0, has_alpha=False, video_codec=codec, color_matrix=matrix,
    )  # fmt: skip
    assert _untagged_matrix(streams) == assumed
