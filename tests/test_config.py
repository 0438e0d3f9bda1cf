from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest

from hyperframes_lambda.config import parse_config
from hyperframes_lambda.errors import InvalidConfigError


def test_defaults_and_aliases() -> None:
    config = parse_config(
        {"fps": 30, "chunkSize": 240, "maxParallelChunks": 8, "runtimeCap": "lambda"}
    )
    assert (config.fps, config.chunk_size, config.max_parallel_chunks) == (30, 240, 8)
    assert (config.format, config.quality, config.video_codec, config.entry_file) == (
        "mp4", "standard", "h264", "index.html",
    )  # fmt: skip


def test_the_readme_execution_input_config_is_valid() -> None:
    parse_config(
        {"fps": 30, "width": 1920, "height": 1080, "format": "mp4", "chunkSize": 240,
         "maxParallelChunks": 8, "runtimeCap": "lambda"}
    )  # fmt: skip


@pytest.mark.parametrize(
    ("value", "fps"),
    [
        (25, Fraction(25)),
        (10, Fraction(10)),
        (12, Fraction(12)),
        (24, Fraction(24)),
        (240, Fraction(240)),
        (50.0, Fraction(50)),
        ("25", Fraction(25)),
        ("30000/1001", Fraction(30000, 1001)),
        ("60000/1001", Fraction(60000, 1001)),
        (None, None),
    ],
)
def test_fps_is_any_whole_rate_or_rational(value: object, fps: Fraction | None) -> None:
    config = parse_config({"fps": value})
    assert config.fps == fps
    assert config.fps is None or isinstance(config.fps, Fraction)


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"fps": 0}, "Config.fps: must be 1…240 frames per second"),
        ({"fps": 241}, "Config.fps: must be 1…240 frames per second"),
        ({"fps": "abc"}, "Config.fps: must be 1…240 frames per second"),
        ({"fps": "30000/0"}, "Config.fps"),
        ({"fps": True}, "Config.fps"),
        ({"fps": 29.97}, "Config.fps: must be a whole number or an exact rational N/D"),
        ({"fps": "23.976"}, "write 24000/1001"),
        ({"width": 1920}, "width and height must be given together"),
        ({"width": 15, "height": 16}, "Config.width"),
        ({"width": 7682, "height": 16}, "Config.width"),
        ({"width": 1921, "height": 1080}, "Config.width: must be even"),
        ({"width": 1920, "height": 1081}, "Config.height: must be even"),
        ({"width": "wide", "height": 1080}, "Config.width"),
        ({"format": "flac"}, "Config.format"),
        ({"codec": "vp9"}, "Config.codec"),
        ({"format": "webm", "codec": "h264"}, "codec applies to mp4 only"),
        ({"quality": "ultra"}, "Config.quality"),
        ({"crf": 52}, "Config.crf"),
        ({"crf": -1}, "Config.crf"),
        ({"crf": 20, "bitrate": "8M"}, "mutually exclusive"),
        ({"bitrate": "fast"}, "Config.bitrate: must look like 8M"),
        ({"chunkSize": 0}, "Config.chunkSize"),
        ({"chunkSize": 3601}, "Config.chunkSize"),
        ({"targetChunkFrames": 0}, "Config.targetChunkFrames"),
        ({"maxParallelChunks": 0}, "Config.maxParallelChunks"),
        ({"maxParallelChunks": 257}, "Config.maxParallelChunks"),
        ({"runtimeCap": "ec2"}, "Config.runtimeCap"),
        ({"variables": [1, 2]}, "Config.variables"),
        ({"entryFile": "../outside.html"}, "Config.entryFile: must be a path inside the project"),
        ({"entryFile": ""}, "Config.entryFile"),
        ({"fsp": 30}, "Config.fsp: Extra inputs are not permitted"),
    ],
)
def test_invalid_fields_are_named(config: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidConfigError) as caught:
        parse_config(config)
    assert field in str(caught.value)
    assert caught.value.code == "INVALID_CONFIG"
