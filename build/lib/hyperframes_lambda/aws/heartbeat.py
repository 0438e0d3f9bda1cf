"""A chunk's heartbeat: how far one renderChunk invocation got, as a small object in S3.

The Step Functions history says when a chunk's task started and ended, nothing in between:
a 4-minute chunk looks the same at second 5 as at minute 3, and one whose browser hangs
looks the same as one that renders. So each renderChunk invocation writes
``<ChunkOutputS3Prefix>progress/<index>.json`` when it starts, whenever its frame count
moved since the last write (at most every :data:`DEFAULT_INTERVAL_S`), and when it ends.
The client reads them during the Map (:mod:`.progress`): frames rendered, a rate, the
slowest chunks, and a chunk whose frame count has not moved for a while, with the attempt
and the CloudWatch log stream to open.

The object lives beside the chunks (an intermediate: it expires with them) and is written
by the handler through its storage; this module only names and (de)serialises it, so the
writer (``handler``) and the reader (the client) agree on one shape.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

HEARTBEAT_DIR = "progress"
DEFAULT_INTERVAL_S = 5.0
ENV_INTERVAL = "HYPERFRAMES_HEARTBEAT_SECONDS"


def heartbeat_key(chunk_prefix_key: str, index: int) -> str:
    """The heartbeat's key (or URI) under a chunk prefix (with or without its slash)."""
    return f"{chunk_prefix_key.rstrip('/')}/{HEARTBEAT_DIR}/{index:04d}.json"


@dataclass(frozen=True)
class Heartbeat:
    """One chunk's latest state. Times are epoch seconds on the function's clock."""

    ChunkIndex: int
    FramesDone: int
    FramesTotal: int | None
    Attempt: int  # 1 for the first invocation of this chunk, +1 per retry that wrote one
    StartedAt: float  # this attempt's start
    UpdatedAt: float  # the last time FramesDone moved (or the attempt started / ended)
    Done: bool = False
    Reused: bool = False  # an earlier attempt's chunk was found whole and reused
    PriorSeconds: float = 0.0  # the earlier attempts' running time, for the cost so far
    MemoryMb: int | None = None
    RequestId: str = ""
    LogGroup: str = ""
    LogStream: str = ""
    # The plan hash whose render crashed the browser in this attempt ("" if it did not):
    # the next attempt of the chunk that crashes it again is terminal (SPEC §10 retries).
    CrashedPlanHash: str = ""

    def to_bytes(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> Heartbeat | None:
        """The heartbeat, or None for anything that is not one (never raises)."""
        try:
            raw: Any = json.loads(data)
            return cls(
                ChunkIndex=int(raw["ChunkIndex"]),
                FramesDone=int(raw["FramesDone"]),
                FramesTotal=None if raw.get("FramesTotal") is None else int(raw["FramesTotal"]),
                Attempt=int(raw.get("Attempt", 1)),
                StartedAt=float(raw["StartedAt"]),
                UpdatedAt=float(raw["UpdatedAt"]),
                Done=bool(raw.get("Done", False)),
                Reused=bool(raw.get("Reused", False)),
                PriorSeconds=float(raw.get("PriorSeconds", 0.0)),
                MemoryMb=None if raw.get("MemoryMb") is None else int(raw["MemoryMb"]),
                RequestId=str(raw.get("RequestId", "")),
                LogGroup=str(raw.get("LogGroup", "")),
                LogStream=str(raw.get("LogStream", "")),
                CrashedPlanHash=str(raw.get("CrashedPlanHash", "")),
            )
        except (ValueError, TypeError, KeyError):
            return None

    def running_seconds(self, now: float) -> float:
        """How long this attempt has run (to its end once done)."""
        end = self.UpdatedAt if self.Done else max(now, self.UpdatedAt)
        return max(0.0, end - self.StartedAt)
