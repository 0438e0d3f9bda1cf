"""Write a renderChunk invocation's heartbeat (:mod:`hyperframes_lambda.aws.heartbeat`).

A background thread writes the object when the frame count moved since its last write, at
most every interval; the capture loop only bumps a counter, so a slow S3 PUT never slows a
frame. Writing is best effort: a heartbeat that cannot be written is logged and skipped,
never a failed chunk (progress is for people; the chunk is the product).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from pathlib import Path
from typing import Any

from ..aws.heartbeat import DEFAULT_INTERVAL_S, ENV_INTERVAL, Heartbeat, heartbeat_key
from ..aws.lifecycle import INTERMEDIATE_TAG
from .storage import Storage


def interval_s() -> float:
    try:
        return max(0.05, float(os.environ.get(ENV_INTERVAL, DEFAULT_INTERVAL_S)))
    except ValueError:
        return DEFAULT_INTERVAL_S


class HeartbeatWriter:
    """One chunk attempt's heartbeat: ``start`` (reads the previous attempt's, if any, for
    the attempt number), ``frame`` per captured frame, ``finish`` at the end (``abandon``
    when the invocation is interrupted from outside)."""

    def __init__(
        self,
        storage: Storage,
        chunk_prefix: str,
        index: int,
        work: Path,
        context: Any,
        logger: Any,
    ) -> None:
        self.storage = storage
        self.uri = heartbeat_key(chunk_prefix, index)
        self.index = index
        self.work = work
        self.logger = logger
        self.request_id = str(getattr(context, "aws_request_id", "") or "")
        self.log_group = str(getattr(context, "log_group_name", "") or "")
        self.log_stream = str(getattr(context, "log_stream_name", "") or "")
        self.memory_mb = int(getattr(context, "memory_limit_in_mb", 0) or 0) or None
        self.frames = 0
        self.frames_total: int | None = None
        self.attempt = 1
        self.prior_s = 0.0
        self.started = time.time()
        self.updated = self.started
        self.written_frames = -1
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None
        # The previous attempt's heartbeat (read by ``start``), and the plan hash this
        # attempt crashed the browser on (written with the last heartbeat).
        self.previous: Heartbeat | None = None
        self.crashed_plan_hash = ""

    def _previous(self) -> Heartbeat | None:
        if self.storage.head(self.uri) is None:
            return None
        copy = self.work / "previous-heartbeat.json"
        try:
            self.storage.download(self.uri, copy)
            return Heartbeat.from_bytes(copy.read_bytes())
        finally:
            copy.unlink(missing_ok=True)

    def _write(self, done: bool = False, reused: bool = False) -> None:
        with self.lock:
            beat = Heartbeat(
                ChunkIndex=self.index, FramesDone=self.frames, FramesTotal=self.frames_total,
                Attempt=self.attempt, StartedAt=self.started, UpdatedAt=self.updated,
                Done=done, Reused=reused, PriorSeconds=self.prior_s, MemoryMb=self.memory_mb,
                RequestId=self.request_id, LogGroup=self.log_group, LogStream=self.log_stream,
                CrashedPlanHash=self.crashed_plan_hash,
            )  # fmt: skip
            self.written_frames = self.frames
        path = self.work / f"heartbeat-{threading.get_ident()}.json"
        try:
            path.write_bytes(beat.to_bytes())
            self.storage.upload(path, self.uri, tags=INTERMEDIATE_TAG)
        except Exception as exc:  # noqa: BLE001 - best effort, see the module docstring
            self.logger.warning("heartbeat not written", extra={"error": str(exc)[:300]})
        finally:
            with contextlib.suppress(OSError):
                path.unlink()

    def start(self) -> None:
        try:
            previous = self._previous()
        except Exception:  # noqa: BLE001 - an unreadable previous heartbeat: attempt 1
            previous = None
        if previous is not None and previous.RequestId != self.request_id:
            self.previous = previous
            self.attempt = previous.Attempt + 1
            self.prior_s = previous.PriorSeconds + previous.running_seconds(self.started)
        self._write()
        self.thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        every = interval_s()
        while not self.stop.wait(every):
            with self.lock:
                moved = self.frames != self.written_frames
            if moved:
                self._write()

    def set_total(self, frames: int) -> None:
        with self.lock:
            self.frames_total = frames

    def frame(self, _index: int) -> None:
        with self.lock:
            self.frames += 1
            self.updated = time.time()

    def abandon(self) -> None:
        """Stop the thread and write nothing more (the invocation was interrupted)."""
        self.stop.set()
        if self.thread is not None:
            self.thread.join()

    def finish(self, *, done: bool, reused: bool = False, frames: int | None = None) -> None:
        """Stop the thread; write the last state (``done`` when the chunk is uploaded).
        An attempt that never started (it failed before its plan was fetched) writes
        nothing."""
        if self.thread is None and not done:
            return
        self.stop.set()
        if self.thread is not None:
            self.thread.join()
        with self.lock:
            if frames is not None:
                self.frames = frames
                self.frames_total = self.frames_total or frames
            if done:  # a failed attempt keeps the time its frames last moved
                self.updated = time.time()
        self._write(done=done, reused=reused)
