"""probe_media on real files made with ffmpeg's lavfi sources, and on payloads that are not
media at all (the error pages and JSON bodies that end up saved as ``.mp4``)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from hyperframes_lambda.errors import AssetNotFoundError, NotMediaPayloadError
from hyperframes_lambda.media.ffmpeg import ffmpeg_exe
from hyperframes_lambda.media.media_probe import probe_media, split_top_level

from ..media_fixtures import ffmpeg


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("probe")
    ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30:duration=1",
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=1",
        "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-ac", "2", str(d / "av.mp4"),
    )  # fmt: skip
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=1",
           str(d / "tone.wav"))  # fmt: skip
    ffmpeg(
        "-f", "lavfi", "-i", "color=c=red@0.5:size=64x48:rate=30:duration=1,format=rgba",
        "-c:v", "png", str(d / "png.mp4"),
    )  # fmt: skip
    ffmpeg(
        "-f", "lavfi", "-i", "color=c=red@0.5:size=64x48:rate=30:duration=1,format=yuva420p",
        "-c:v", "libvpx-vp9", str(d / "alpha.webm"),
    )  # fmt: skip
    # Streamed WebM: written to a pipe, so the container has no duration to read.
    streamed = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-f", "lavfi",
         "-i", "testsrc2=size=64x48:rate=30:duration=1.5", "-c:v", "libvpx-vp9",
         "-f", "webm", "pipe:1"],
        capture_output=True, check=True,
    )  # fmt: skip
    (d / "streamed.webm").write_bytes(streamed.stdout)
    return d


def test_video_with_audio(media: Path) -> None:
    s = probe_media(media / "av.mp4")
    assert (s.has_video, s.has_audio, s.has_alpha) == (True, True, False)
    assert (s.width, s.height, s.fps) == (320, 180, 30.0)
    assert s.duration == pytest.approx(1.0, abs=0.03)
    assert s.video_codec == "h264"
    assert s.audio_channels == 2


def test_wav_is_audio_only(media: Path) -> None:
    s = probe_media(media / "tone.wav")
    assert (s.has_video, s.has_audio) == (False, True)
    assert s.width is None and s.height is None and s.fps is None
    assert s.duration == pytest.approx(1.0, abs=0.01)
    assert s.audio_channels == 1


def test_png_in_mp4_has_alpha(media: Path) -> None:
    s = probe_media(media / "png.mp4")
    assert (s.has_video, s.has_audio, s.has_alpha) == (True, False, True)
    assert (s.width, s.height, s.video_codec) == (64, 48, "png")


def test_vp9_alpha_is_seen_through_container_tag(media: Path) -> None:
    s = probe_media(media / "alpha.webm")
    assert s.has_alpha and s.video_codec == "vp9"


def test_missing_container_duration_is_measured(media: Path) -> None:
    s = probe_media(media / "streamed.webm")
    assert s.duration == pytest.approx(1.5, abs=0.04)


@pytest.mark.parametrize(
    ("name", "payload"),
    [
        ("page.mp4", b"<!DOCTYPE html>\n<html><body><h1>403 Forbidden</h1></body></html>\n"),
        ("error.mp4", b'{"error": "NoSuchKey", "message": "The key does not exist"}'),
        ("notes.txt", b"just some notes\n"),
        ("bom.mp3", b"\xef\xbb\xbf<?xml version='1.0'?><Error/>"),
        ("empty.mp4", b""),
        ("noise.mp4", bytes(range(256)) * 8),
    ],
)
def test_non_media_payload_is_rejected_naming_the_file(
    tmp_path: Path, name: str, payload: bytes
) -> None:
    path = tmp_path / name
    path.write_bytes(payload)
    with pytest.raises(NotMediaPayloadError) as info:
        probe_media(path)
    assert str(path) in str(info.value)
    assert info.value.code == "NOT_MEDIA_PAYLOAD"


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(AssetNotFoundError, match=r"gone\.mp4"):
        probe_media(tmp_path / "gone.mp4")


def test_split_top_level_ignores_nested_commas() -> None:
    desc = "h264 (High) (avc1 / 0x31637661), yuv420p(tv, bt709, progressive), 1920x1080 [SAR 1:1]"
    assert split_top_level(desc) == [
        "h264 (High) (avc1 / 0x31637661)",
        "yuv420p(tv, bt709, progressive)",
        "1920x1080 [SAR 1:1]",
    ]


def test_color_matrix_is_read_when_tagged(tmp_path: Path, media: Path) -> None:
    assert probe_media(media / "av.mp4").color_matrix is None  # untagged
    tagged = tmp_path / "tagged.mp4"
    ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=size=64x48:rate=30:duration=0.2", "-c:v", "libx264",
        "-pix_fmt", "yuv420p", "-colorspace", "bt709", "-color_primaries", "bt709",
        "-color_trc", "bt709", str(tagged),
    )  # fmt: skip
    assert probe_media(tagged).color_matrix == "bt709"
