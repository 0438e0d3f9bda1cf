"""The Lambda contract (SPEC §9): typed events and results, PascalCase on the wire.

One function serves three actions, chosen by ``Action``. Field names are exactly those of
the reference so an execution input written for it works unchanged. Every event is
validated before anything touches storage; a bad one is ``INVALID_EVENT`` naming the
field. Results stay small (well under 1 KB): Step Functions caps payloads at 256 KiB.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from ..config import AUDIO_FORMATS, OutputFormat, RenderConfig, describe_validation_error
from ..errors import InvalidEventError, quoted
from ..stages.chunking import MAX_PARALLEL_CHUNKS
from .storage import s3_key_problem

ACTIONS = ("plan", "renderChunk", "assemble", "still")
STILL_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
ENVELOPE_KEYS = ("Payload", "Input")
MAX_ENVELOPE_DEPTH = 4
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
# Integers are strict (``true``, ``"3"`` and ``3.0`` are refused, not coerced) and bounded:
# a chunk index below the most chunks a plan has, a frame index that fits 32 bits.
MAX_CHUNK_INDEX = MAX_PARALLEL_CHUNKS - 1
MAX_FRAME_INDEX = 2**31 - 1


def _storage_uri(value: str) -> str:
    if value.startswith("s3://"):
        bucket, _, key = value[5:].partition("/")
        if not bucket or not re.fullmatch(r"[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]", bucket):
            raise ValueError(f"{quoted(value)} does not name a valid S3 bucket")
        if not key:
            raise ValueError(f"{quoted(value)} has no object key")
        problem = s3_key_problem(key)
        if problem is not None:
            raise ValueError(f"{quoted(value)}: the object key {problem}")
        return value
    if value.startswith("file:///"):
        return value
    raise ValueError(f"{quoted(value)} must be an s3://bucket/key or file:///absolute/path URI")


def _sha256(value: str) -> str:
    if not _SHA256.match(value):
        raise ValueError("must be a lowercase hex SHA-256 (64 characters)")
    return value


StorageUri = Annotated[str, AfterValidator(_storage_uri)]
Sha256 = Annotated[str, AfterValidator(_sha256)]


class _Event(BaseModel):
    # Extra fields are ignored: Step Functions states may pass along more than we need.
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class PlanEvent(_Event):
    Action: Literal["plan"]
    ProjectS3Uri: StorageUri
    PlanOutputS3Prefix: StorageUri
    # "Config" is the wire name; as an attribute it would clash with pydantic's own.
    config: RenderConfig = Field(default_factory=RenderConfig, alias="Config")
    # Where the render will write: checked (allowed bucket; not there yet unless
    # Overwrite) before the plan does any work, so a direct StartExecution is protected.
    OutputS3Uri: StorageUri | None = None
    Overwrite: bool = False


class RenderChunkEvent(_Event):
    Action: Literal["renderChunk"]
    PlanS3Uri: StorageUri
    PlanHash: Sha256
    ChunkIndex: StrictInt = Field(ge=0, le=MAX_CHUNK_INDEX)
    ChunkOutputS3Prefix: StorageUri
    Format: OutputFormat


class AssembleEvent(_Event):
    Action: Literal["assemble"]
    PlanS3Uri: StorageUri
    PlanHash: Sha256
    Format: OutputFormat  # before ChunkS3Uris: its check reads it
    # Empty only for an audio-only output (aac, mp3, wav): its plan holds the output.
    ChunkS3Uris: list[StorageUri] = Field(default_factory=list)
    ChunkSha256s: list[Sha256] | None = None
    AudioS3Uri: StorageUri | None = None
    OutputS3Uri: StorageUri

    @field_validator("ChunkS3Uris")
    @classmethod
    def _chunks_unless_audio_only(cls, value: list[str], info: ValidationInfo) -> list[str]:
        output_format = info.data.get("Format")
        if not value and output_format is not None and output_format not in AUDIO_FORMATS:
            raise ValueError(f"a {output_format} output needs at least one chunk")
        return value


class StillEvent(_Event):
    """Frames of a project as images, in one synchronous invocation (no Step Functions):
    ``Frames`` (0-based) and ``Times`` (seconds); one frame goes to ``OutputS3Uri``, several
    to ``<name>-<frame>.<ext>`` beside it."""

    Action: Literal["still"]
    ProjectS3Uri: StorageUri
    OutputS3Uri: StorageUri
    Frames: list[Annotated[StrictInt, Field(ge=0, le=MAX_FRAME_INDEX)]] = Field(
        default_factory=list
    )
    Times: list[Annotated[float, Field(ge=0, allow_inf_nan=False)]] = Field(default_factory=list)
    Quality: StrictInt | None = Field(default=None, ge=1, le=100)
    config: RenderConfig = Field(default_factory=RenderConfig, alias="Config")

    @model_validator(mode="after")
    def _what_and_where(self) -> StillEvent:
        if not self.Frames and not self.Times:
            raise ValueError("Frames or Times: name at least one frame")
        if not self.OutputS3Uri.lower().endswith(STILL_SUFFIXES):
            raise ValueError(
                f"OutputS3Uri: a still is .png, .jpg or .webp (got {quoted(self.OutputS3Uri)})"
            )
        return self


AnyEvent = PlanEvent | RenderChunkEvent | AssembleEvent | StillEvent
LambdaEvent = Annotated[AnyEvent, Field(discriminator="Action")]
_EVENT_ADAPTER: TypeAdapter[AnyEvent] = TypeAdapter(LambdaEvent)


class PlanResultPayload(BaseModel):
    PlanS3Uri: str
    PlanHash: str
    ChunkCount: int
    TotalFrames: int
    Fps: int | str  # 30, or "30000/1001" when not whole
    Width: int
    Height: int
    Format: str
    HasAudio: bool
    AudioS3Uri: str | None
    FfmpegVersion: str
    RendererVersion: str
    DurationMs: int
    BrowserBuild: str = ""  # e.g. "@sparticuz/chromium@153.0.0"; in the plan hash
    FontSet: str = ""  # e.g. "hf-fontset-1+78b8d67799a7"; in the plan hash
    # The plan's warnings (ignored HyperFrames keys, scaling, …): the client shows them.
    Warnings: list[str] = []


class RenderChunkResultPayload(BaseModel):
    ChunkS3Uri: str
    ChunkIndex: int
    Sha256: str
    FramesEncoded: int
    CaptureMode: str
    DurationMs: int
    Reused: bool = False  # an idempotent retry found the chunk already rendered
    # What rendered it (empty for a reused chunk; the plan hash pins them either way).
    BrowserBuild: str = ""
    FontSet: str = ""
    FfmpegVersion: str = ""


class AssembleResultPayload(BaseModel):
    OutputS3Uri: str
    FramesEncoded: int
    FileSize: int
    Sha256: str
    DurationMs: int
    ThumbnailS3Uri: str | None = None  # Config.thumbnail: the PNG beside the output


class StillImage(BaseModel):
    Frame: int
    S3Uri: str
    Sha256: str
    FileSize: int
    Width: int
    Height: int


class StillResultPayload(BaseModel):
    Stills: list[StillImage]
    PlanHash: str
    DurationMs: int


def unwrap_envelopes(event: Any) -> Any:
    """Peel ``{"Payload": …}`` / ``{"Input": …}`` wrappers (up to four levels)."""
    for _ in range(MAX_ENVELOPE_DEPTH):
        if isinstance(event, dict) and "Action" not in event:
            inner = [event[k] for k in ENVELOPE_KEYS if k in event]
            if len(inner) == 1 and isinstance(inner[0], dict):
                event = inner[0]
                continue
        break
    return event


def parse_event(raw: Any) -> AnyEvent:
    """Validate an invocation payload or raise ``INVALID_EVENT`` naming the field."""
    event = unwrap_envelopes(raw)
    if not isinstance(event, dict):
        raise InvalidEventError(f"the event must be a JSON object, got {type(event).__name__}")
    if "Action" not in event:
        raise InvalidEventError(
            "event.Action is missing: expected one of plan, renderChunk, assemble, still"
        )
    if event["Action"] not in ACTIONS:
        raise InvalidEventError(
            f"event.Action: must be one of {', '.join(ACTIONS)} (got {quoted(event['Action'])})"
        )
    try:
        return _EVENT_ADAPTER.validate_python(event)
    except ValidationError as exc:
        raise InvalidEventError(
            describe_validation_error(exc, "event", frozenset(ACTIONS))
        ) from None
