"""The render configuration (the ``Config`` object of an execution input, SPEC §5).

Validated with pydantic; every rejection becomes an :class:`InvalidConfigError` whose
message names the field, so a user reading a failed Step Functions execution knows what
to change. Field names are the camelCase names of the public contract.
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StrictInt,
    ValidationError,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)

from .errors import QUOTE_CHARS, InvalidConfigError, quoted
from .timing import parse_fps

_BITRATE = re.compile(r"^[1-9][0-9]*(\.[0-9]+)?[kKmM]?$")

RuntimeCap = Literal["lambda", "temporal", "cloud-run-job", "k8s-job", "none"]
OutputFormat = Literal["mp4", "mov", "webm", "png-sequence", "gif", "aac", "mp3", "wav"]
# Formats made of frames, and formats made of the soundtrack alone (no browser at all).
VIDEO_FORMATS: tuple[OutputFormat, ...] = ("mp4", "mov", "webm", "png-sequence", "gif")
AUDIO_FORMATS: tuple[OutputFormat, ...] = ("aac", "mp3", "wav")
GIF_WIDTH_WARNING = 1280  # wider GIFs are huge and slow to decode: warn, do not refuse

# Keys of HyperFrames' own distributed Config (``SerializableDistributedRenderConfig``,
# which its CLI and SDK send) that this renderer does not implement. They are accepted
# and reported as a plan warning, so HyperFrames' client works on our stack; any other
# unknown key is still refused (a typo must not pass silently).
HYPERFRAMES_ONLY_KEYS: dict[str, str] = {
    "workerConcurrency": "the chunk fan-out is the stack's MapMaxConcurrency",
    "videoFrameFormat": "the capture format follows the output format",
    "rejectOnSystemFonts": "fonts come from the pinned font set",
    "failClosedFontFetch": "use strictAssets for a hard failure on a missing asset",
    "hdrMode": "renders are SDR",
    "cfr": "outputs are always constant frame rate",
    "engineConfig": "HyperFrames' engine settings",
    "strictness": "use strictAssets",
    "planDirSizeLimitBytes": "the plan's limits are fixed",
}

# HyperFrames' output resolution presets (``CANVAS_DIMENSIONS``) and the flag aliases its
# CLI accepts; an aspect-agnostic alias follows the composition's orientation.
OUTPUT_RESOLUTIONS: dict[str, tuple[int, int]] = {
    "landscape": (1920, 1080),
    "portrait": (1080, 1920),
    "square": (1080, 1080),
    "landscape-4k": (3840, 2160),
    "portrait-4k": (2160, 3840),
    "square-4k": (2160, 2160),
}
OUTPUT_RESOLUTION_ALIASES: dict[str, str] = {
    "1080p": "landscape", "hd": "landscape", "1080p-portrait": "portrait",
    "portrait-1080p": "portrait", "4k": "landscape-4k", "uhd": "landscape-4k",
    "4k-portrait": "portrait-4k", "portrait-4k": "portrait-4k", "1080p-square": "square",
    "square-1080p": "square", "4k-square": "square-4k", "square-4k": "square-4k",
}  # fmt: skip
ASPECT_AGNOSTIC_ALIASES = frozenset({"1080p", "hd", "4k", "uhd"})


class RenderConfig(BaseModel):
    """What to render and how. Unknown fields are rejected (typos must not pass silently)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    # Any whole rate or exact rational 1…240 (25, "30000/1001"); None: data-fps, else 30.
    fps: Fraction | None = None
    width: StrictInt | None = Field(default=None, ge=16, le=7680)
    height: StrictInt | None = Field(default=None, ge=16, le=7680)
    format: OutputFormat = "mp4"
    codec: Literal["h264", "h265"] | None = None
    quality: Literal["draft", "standard", "high"] = "standard"
    crf: StrictInt | None = Field(default=None, ge=0, le=51)
    bitrate: str | None = None
    chunk_size: StrictInt | None = Field(default=None, ge=1, le=3600, alias="chunkSize")
    target_chunk_frames: StrictInt | None = Field(
        default=None, ge=1, le=3600, alias="targetChunkFrames"
    )
    max_parallel_chunks: StrictInt = Field(default=16, ge=1, le=256, alias="maxParallelChunks")
    runtime_cap: RuntimeCap = Field(default="none", alias="runtimeCap")
    variables: dict[str, Any] = Field(default_factory=dict)
    entry_file: str = Field(default="index.html", alias="entryFile", min_length=1)
    # An unreachable remote image fails the plan instead of rendering without it.
    strict_assets: bool = Field(default=False, alias="strictAssets")
    # A variable the composition does not declare (data-composition-variables), or of
    # another type, fails the plan (INVALID_VARIABLES) instead of being a plan warning.
    strict_variables: bool = Field(default=False, alias="strictVariables")
    # HyperFrames' preset (or alias): the output size, the page scaled to it.
    output_resolution: str | None = Field(default=None, alias="outputResolution")
    output_resolution_aspect_agnostic: bool = Field(
        default=False, alias="outputResolutionAspectAgnostic"
    )
    # Expire the output this many days after it is written (one of the bucket's rules:
    # hyperframes_lambda.aws.lifecycle.OUTPUT_EXPIRY_DAYS); None: kept.
    output_expires_in_days: Literal[1, 3, 7, 30, 90] | None = Field(
        default=None, alias="outputExpiresInDays"
    )
    _hyperframes_only: tuple[str, ...] = PrivateAttr(default=())

    @model_validator(mode="wrap")
    @classmethod
    def _set_aside_hyperframes_keys(
        cls, data: Any, handler: ValidatorFunctionWrapHandler
    ) -> RenderConfig:
        """Validate without HyperFrames' unimplemented keys; remember which were given."""
        given: tuple[str, ...] = ()
        if isinstance(data, dict):
            given = tuple(sorted(k for k in data if k in HYPERFRAMES_ONLY_KEYS))
            data = {k: v for k, v in data.items() if k not in HYPERFRAMES_ONLY_KEYS}
        config = handler(data)
        assert isinstance(config, RenderConfig)
        config._hyperframes_only = given or config._hyperframes_only
        return config

    @property
    def hyperframes_only_keys(self) -> tuple[str, ...]:
        """HyperFrames' Config keys that were given and have no effect here."""
        return self._hyperframes_only

    def ignored_key_warnings(self) -> list[str]:
        return [
            f"Config.{key} is a HyperFrames setting this renderer does not implement; ignored "
            f"({HYPERFRAMES_ONLY_KEYS[key]})"
            for key in self.hyperframes_only_keys
        ]

    @field_validator("output_resolution")
    @classmethod
    def _known_resolution(cls, value: str | None) -> str | None:
        if value is None:
            return None
        lowered = value.lower()
        if lowered in OUTPUT_RESOLUTIONS or lowered in OUTPUT_RESOLUTION_ALIASES:
            return lowered
        known = ", ".join([*OUTPUT_RESOLUTIONS, *sorted(ASPECT_AGNOSTIC_ALIASES)])
        raise ValueError(f"must be one of {known}")

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

    def output_resolution_size(self, layout_width: int, layout_height: int) -> tuple[int, int]:
        """The ``outputResolution`` preset's size for a composition laid out at
        ``layout_width`` x ``layout_height``: an aspect-agnostic one (``1080p``, ``4k``;
        or ``outputResolutionAspectAgnostic``) takes the composition's orientation."""
        assert self.output_resolution is not None
        name = OUTPUT_RESOLUTION_ALIASES.get(self.output_resolution, self.output_resolution)
        agnostic = (
            self.output_resolution_aspect_agnostic
            or self.output_resolution in ASPECT_AGNOSTIC_ALIASES
        )
        if agnostic:
            tier = "-4k" if name.endswith("-4k") else ""
            if layout_height > layout_width:
                name = f"portrait{tier}"
            elif layout_height == layout_width:
                name = f"square{tier}"
        return OUTPUT_RESOLUTIONS[name]


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


MAX_PROBLEMS = 10  # a message lists at most this many problems of one input


def describe_validation_error(
    exc: ValidationError, prefix: str, union_tags: frozenset[str] = frozenset()
) -> str:
    """One line per problem: ``Config.crf: Input should be less than or equal to 51 (got 52)``.

    ``union_tags`` are discriminator values pydantic puts first in a location; dropped.
    """
    lines = []
    errors = exc.errors()
    for error in errors[:MAX_PROBLEMS]:
        parts = list(error["loc"])
        if parts and parts[0] in union_tags:
            parts = parts[1:]
        location = ".".join(_bounded(str(part)) for part in parts)
        field = f"{prefix}.{location}" if location else prefix
        message = error["msg"].removeprefix("Value error, ")
        got = error.get("input")
        suffix = (
            f" (got {quoted(got)})"
            if error["type"] != "missing" and not isinstance(got, dict)
            else ""
        )
        lines.append(f"{field}: {message}{suffix}")
    if len(errors) > MAX_PROBLEMS:
        lines.append(f"and {len(errors) - MAX_PROBLEMS} more problems")
    return "; ".join(lines)


def _bounded(name: str) -> str:
    """A field name as a message shows it: a 1 MB key of untrusted input is cut."""
    return name if len(name) <= QUOTE_CHARS else quoted(name)
