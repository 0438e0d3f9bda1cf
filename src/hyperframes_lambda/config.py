"""The render configuration (the ``Config`` object of an execution input, SPEC §5).

Validated with pydantic; every rejection becomes an :class:`InvalidConfigError` whose
message names the field, so a user reading a failed Step Functions execution knows what
to change. Field names are the camelCase names of the public contract.
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .errors import InvalidConfigError
from .timing import parse_fps

_BITRATE = re.compile(r"^[1-9][0-9]*(\.[0-9]+)?[kKmM]?$")

RuntimeCap = Literal["lambda", "temporal", "cloud-run-job", "k8s-job", "none"]
OutputFormat = Literal["mp4", "mov", "webm", "png-sequence", "gif", "aac", "mp3", "wav"]
# Formats made of frames, and formats made of the soundtrack alone (no browser at all).
VIDEO_FORMATS: tuple[OutputFormat, ...] = ("mp4", "mov", "webm", "png-sequence", "gif")
AUDIO_FORMATS: tuple[OutputFormat, ...] = ("aac", "mp3", "wav")
GIF_WIDTH_WARNING = 1280  # wider GIFs are huge and slow to decode: warn, do not refuse


class RenderConfig(BaseModel):
    """What to render and how. Unknown fields are rejected (typos must not pass silently)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    # Any whole rate or exact rational 1…240 (25, "30000/1001"); None: data-fps, else 30.
    fps: Fraction | None = None
    width: int | None = Field(default=None, ge=16, le=7680)
    height: int | None = Field(default=None, ge=16, le=7680)
    format: OutputFormat = "mp4"
    codec: Literal["h264", "h265"] | None = None
    quality: Literal["draft", "standard", "high"] = "standard"
    crf: int | None = Field(default=None, ge=0, le=51)
    bitrate: str | None = None
    chunk_size: int | None = Field(default=None, ge=1, le=3600, alias="chunkSize")
    target_chunk_frames: int | None = Field(default=None, ge=1, le=3600, alias="targetChunkFrames")
    max_parallel_chunks: int = Field(default=16, ge=1, le=256, alias="maxParallelChunks")
    runtime_cap: RuntimeCap = Field(default="none", alias="runtimeCap")
    variables: dict[str, Any] = Field(default_factory=dict)
    entry_file: str = Field(default="index.html", alias="entryFile", min_length=1)
    # An unreachable remote image fails the plan instead of rendering without it.
    strict_assets: bool = Field(default=False, alias="strictAssets")
    # [first, last] frame, inclusive and 0-based: only those frames are rendered.
    frame_range: tuple[int, int] | None = Field(default=None, alias="frameRange")
    # GIF only: keep every Kth frame (the GIF plays at fps/K), and its loop count.
    every_nth_frame: int = Field(default=1, ge=1, le=1000, alias="everyNthFrame")
    # -1 plays once (no loop extension), 0 loops forever, N repeats N times after the first.
    gif_loop: int = Field(default=0, ge=-1, le=65535, alias="gifLoop")
    # No audio stream at all, even when the composition has sound.
    muted: bool = False
    audio_bitrate: str | None = Field(default=None, alias="audioBitrate")
    # Seconds: also write a still of the frame shown then (poster.png beside the output).
    thumbnail: float | None = Field(default=None, ge=0)

    @field_validator("fps", mode="before")
    @classmethod
    def _fps(cls, value: object) -> Fraction | None:
        return None if value is None else parse_fps(value)

    @field_validator("width", "height")
    @classmethod
    def _even(cls, value: int | None) -> int | None:
        if value is not None and value % 2:
            raise ValueError("must be even (yuv420p video needs even dimensions)")
        return value

    @field_validator("bitrate", "audio_bitrate")
    @classmethod
    def _bitrate_shape(cls, value: str | None) -> str | None:
        if value is not None and not _BITRATE.match(value):
            raise ValueError("must look like 8M, 2500k or 800000")
        return value

    @field_validator("frame_range")
    @classmethod
    def _ordered_range(cls, value: tuple[int, int] | None) -> tuple[int, int] | None:
        if value is not None:
            first, last = value
            if first < 0:
                raise ValueError("the first frame must be >= 0")
            if last < first:
                raise ValueError(f"the last frame {last} is before the first {first}")
        return value

    @field_validator("entry_file")
    @classmethod
    def _relative_entry(cls, value: str) -> str:
        if value.startswith("/") or ".." in value.split("/"):
            raise ValueError("must be a path inside the project")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> RenderConfig:
        if self.crf is not None and self.bitrate is not None:
            raise ValueError("crf and bitrate are mutually exclusive; set one")
        if self.codec is not None and self.format != "mp4":
            raise ValueError(f"codec applies to mp4 only (format is {self.format})")
        if (self.width is None) != (self.height is None):
            raise ValueError("width and height must be given together")
        if self.format != "gif":
            for name, value, default in (
                ("everyNthFrame", self.every_nth_frame, 1),
                ("gifLoop", self.gif_loop, 0),
            ):
                if value != default:
                    raise ValueError(f"{name} applies to gif only (format is {self.format})")
        if self.is_audio_only:
            if self.muted:
                raise ValueError(f"muted contradicts the audio-only format {self.format}")
            if self.thumbnail is not None:
                raise ValueError(f"thumbnail needs frames; format {self.format} has none")
        if self.audio_bitrate is not None and (self.muted or self.format in ("gif", "wav")):
            what = "muted" if self.muted else f"format {self.format}"
            raise ValueError(f"audioBitrate does not apply: {what} has no compressed audio")
        return self

    @property
    def is_audio_only(self) -> bool:
        return self.format in AUDIO_FORMATS

    @property
    def video_codec(self) -> Literal["h264", "h265"]:
        return self.codec or "h264"


def parse_config(data: Any) -> RenderConfig:
    """Validate ``data`` (a mapping) or raise :class:`InvalidConfigError` naming the field."""
    if data is None:
        data = {}
    if isinstance(data, RenderConfig):
        return data
    try:
        return RenderConfig.model_validate(data)
    except ValidationError as exc:
        raise InvalidConfigError(describe_validation_error(exc, "Config")) from None


def describe_validation_error(
    exc: ValidationError, prefix: str, union_tags: frozenset[str] = frozenset()
) -> str:
    """One line per problem: ``Config.crf: Input should be less than or equal to 51 (got 52)``.

    ``union_tags`` are discriminator values pydantic puts first in a location; dropped.
    """
    lines = []
    for error in exc.errors():
        parts = list(error["loc"])
        if parts and parts[0] in union_tags:
            parts = parts[1:]
        location = ".".join(str(part) for part in parts)
        field = f"{prefix}.{location}" if location else prefix
        message = error["msg"].removeprefix("Value error, ")
        got = error.get("input")
        suffix = (
            f" (got {got!r})" if error["type"] != "missing" and not isinstance(got, dict) else ""
        )
        lines.append(f"{field}: {message}{suffix}")
    return "; ".join(lines)
