"""The Lambda entry point's body: ``hyperframes_lambda.handler.handler`` (SPEC §9) is defined here.

A single handler dispatches on ``Action`` (plan, renderChunk, assemble; notify and the
batch steps of :mod:`.batch_steps` beside them). It only moves
bytes between storage and a fresh per-invocation work directory and calls the stage
functions; everything it creates there is removed when the invocation ends, whatever
happened (warm containers reuse ``/tmp``), and what a killed invocation (a Lambda timeout
is a SIGKILL) left behind is swept at the start of the next one. Failures leave as an
exception whose class name is the error's stable code — the ``errorType`` Step Functions
matches in its Retry/Catch — and only as such: anything unanticipated is wrapped in
``INTERNAL_ERROR`` (see :func:`handler`).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from ..aws.execution_input import (
    OFFLOAD_NAME,
    OFFLOAD_SHA256,
    OFFLOAD_URI,
    is_offloaded,
    resolve_offloaded,
)
from ..aws.lifecycle import INTERMEDIATE_TAG, output_tag
from ..browser.pool import BrowserPool
from ..errors import (
    BrowserCrashedError,
    CdpProtocolError,
    ChunkDigestMismatchError,
    ChunkIndexOutOfRangeError,
    ChunkMissingError,
    ChunkUnverifiableError,
    CompositionError,
    InternalError,
    InvalidEventError,
    OutputExistsError,
    PageCrashedRepeatedlyError,
    PlanArtifactDigestMismatchError,
    RenderError,
    StorageObjectNotFoundError,
    StoredObjectCorruptError,
)
from ..runner.local_render import default_page_count
from ..runner.still import STILL_PLAN, still_paths
from ..stages.assemble import assemble
from ..stages.chunk_tag import read_tag
from ..stages.plan import PlanResult, plan
from ..stages.plan_archive import extract_archive, extract_plan_archive
from ..stages.plan_artifacts import (
    ARTIFACTS_DIR,
    Artifact,
    ArtifactManifest,
    read_manifest,
    unpack_artifact,
    write_artifact,
    write_core_archive,
)
from ..stages.plan_artifacts import missing as missing_artifacts
from ..stages.render_chunk import (
    CHUNK_EXTENSIONS,
    LoadedPlan,
    load_plan,
    read_plan_document,
    render_chunk,
)
from ..stages.still import StillRequest, render_stills, still_format
from ..timing import fps_json, frame_at
from .batch_steps import BATCH_ACTIONS, run_batch_action
from .events import (
    AnyEvent,
    AssembleEvent,
    AssembleResultPayload,
    PlanEvent,
    PlanResultPayload,
    RenderChunkEvent,
    RenderChunkResultPayload,
    StillEvent,
    StillImage,
    StillResultPayload,
    parse_event,
    unwrap_envelopes,
)
from .heartbeat import HeartbeatWriter
from .storage import SHA256_METADATA, Storage, check_allowed, join_uri
from .work_dirs import new_work_dir, release_work_dir, sweep_stale, without_local_paths

SERVICE = "hyperframes-render"
PLAN_ARCHIVE = "plan.tar.gz"
# What a still takes from its Config (the picture); the rest is about encoding a video.
STILL_CONFIG_KEYS = (
    "fps", "width", "height", "variables", "strictVariables", "entryFile", "strictAssets",
)  # fmt: skip
META_PLAN_HASH = "plan-hash"
META_FRAMES = "frames"
META_CAPTURE_MODE = "capture-mode"
ENV_WORK_ROOT = "HYPERFRAMES_WORK_ROOT"
ENV_PREWARM = "HYPERFRAMES_PREWARM"  # "1": decompress the bundled binaries at init

logger = Logger(service=SERVICE)
metrics = Metrics(
    namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "HyperFrames"), service=SERVICE
)

# The per-container cache: one storage client (and its connection pool) reused by every
# invocation this container serves. Nothing else survives an invocation.
_storage: Storage | None = None

# The per-container browser cache: a warm container renders its next chunk in the browser
# its last chunk used (a fresh page; ~0.4 s of launch + close saved per chunk). On Lambda
# by default, elsewhere with HYPERFRAMES_KEEP_BROWSERS=1 (a local process that calls the
# handler in-process would otherwise keep browsers after it returned).
ENV_KEEP_BROWSERS = "HYPERFRAMES_KEEP_BROWSERS"
_browsers = BrowserPool()
atexit.register(_browsers.close)


def _browser_pool() -> BrowserPool | None:
    keep = os.environ.get(ENV_KEEP_BROWSERS)
    if keep is None:
        keep = "1" if os.environ.get("AWS_LAMBDA_FUNCTION_NAME") else "0"
    return _browsers if keep == "1" else None


_LAMBDA_ERROR_CLASSES: dict[str, type[RenderError]] = {}


def prewarm_bundled_binaries() -> list[threading.Thread]:
    """Start decompressing the ZIP's Chromium and ffmpeg to /tmp in the background.

    Run at import on Lambda (the init phase) when ``HYPERFRAMES_PREWARM=1``, so the first
    invocation waits only for what is left. Chromium's brotli holds the GIL, so it runs in
    a child Python process; ffmpeg's gzip releases the GIL, so a thread does. Both
    extractions are locked (flock, across processes) and marked complete, so an invocation
    that needs a binary waits for the background work instead of redoing it; a child that
    dies leaves no marker and the invocation extracts again. Errors are left to that
    invocation (typed error). Returns the ffmpeg thread (for tests).
    """
    from ..browser.resolve import bundled_chromium_dir
    from ..media.ffmpeg import bundled_ffmpeg_dir, ffmpeg_exe

    threads = []
    if bundled_chromium_dir() is not None:
        with contextlib.suppress(OSError):
            child = subprocess.Popen(
                [sys.executable, "-c", _CHROMIUM_PREWARM],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                cwd=str(Path(__file__).resolve().parents[2]),  # the directory holding the package
            )  # fmt: skip
            threading.Thread(target=child.wait, name="hf-prewarm-reaper", daemon=True).start()
    if bundled_ffmpeg_dir() is not None:
        threads.append(
            threading.Thread(target=_quietly, args=(ffmpeg_exe,), name="hf-prewarm", daemon=True)
        )
    for thread in threads:
        thread.start()
    return threads


_CHROMIUM_PREWARM = (
    "from hyperframes_lambda.browser.resolve import resolve_chrome; resolve_chrome()"
)


def _quietly(job: Callable[[], object]) -> None:
    try:
        job()
    except Exception:  # the invocation that needs the binary reports it
        logger.warning("prewarm failed", exc_info=True)


# Opt-in: measured in the Lambda-like sandbox on a busy 2-core host, decompressing at init
# made the first chunk slower (README, "The Lambda ZIP"); it may pay off where init has
# spare cores. Measure before turning it on.
if os.environ.get("AWS_LAMBDA_FUNCTION_NAME") and os.environ.get(ENV_PREWARM) == "1":
    prewarm_bundled_binaries()


def storage() -> Storage:
    global _storage  # noqa: PLW0603 - the explicit per-container cache
    if _storage is None:
        _storage = Storage()
    return _storage


def as_lambda_error(exc: RenderError) -> RenderError:
    """The same error as an instance of a class named exactly ``exc.error_type()`` (its
    code, or the reference's name where SPEC §10 keeps it).

    The Python runtime reports ``type(exc).__name__`` as ``errorType``; Step Functions
    matches those names against the template's terminal list. Paths on the function's
    disk are shown from inside the invocation's work directory (:func:`without_local_paths`).
    """
    name = exc.error_type()
    cls = _LAMBDA_ERROR_CLASSES.get(name)
    if cls is None or not issubclass(cls, type(exc)):
        cls = type(name, (type(exc),), {"__module__": __name__})
        _LAMBDA_ERROR_CLASSES[name] = cls
    roots = [Path(work_root()), Path(tempfile.gettempdir())]
    return cls(without_local_paths(str(exc), roots))


def work_root() -> str:
    return os.environ.get(ENV_WORK_ROOT) or tempfile.gettempdir()


def internal_error(exc: BaseException) -> InternalError:
    """An unanticipated exception as ``INTERNAL_ERROR``, the original type and message in
    the message (the ``cause`` Step Functions shows)."""
    return InternalError(f"{type(exc).__module__}.{type(exc).__name__}: {exc}"[:2000])


def _sweep() -> None:
    """Remove what killed invocations left in /tmp; never fails the invocation."""
    try:
        removed = sweep_stale(Path(work_root()), Path(tempfile.gettempdir()))
    except Exception:  # sweeping is housekeeping
        logger.warning("sweeping stale directories failed", exc_info=True)
        return
    if removed:
        logger.info("swept stale directories", extra={"removed": [p.name for p in removed]})


@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Run one action. Errors leave as ``as_lambda_error`` of a class in
    :mod:`hyperframes_lambda.errors` and nothing else: an exception the code did not
    anticipate (a bug, or input we failed to validate) becomes ``INTERNAL_ERROR``, which is
    terminal — a deterministic bug would fail identically on each of the state machine's 4
    retries, each up to 15 minutes of Lambda time; the cause keeps the original type and
    message for the bug report. (Retryable environment failures are raised as their own
    retryable codes before they get here.)"""
    started = time.perf_counter()
    _sweep()
    if isinstance(event, dict) and event.get("Action") == "notify":  # the webhook step
        from ..aws.webhook import notify

        try:
            return notify(event, context)
        except RenderError as exc:
            raise as_lambda_error(exc) from exc
        except Exception as exc:  # the same last line of defence as the render actions
            raise as_lambda_error(internal_error(exc)) from exc
    if isinstance(event, dict) and event.get("Action") in BATCH_ACTIONS:  # batch steps
        try:
            return run_batch_action(event, context, storage().s3)
        except RenderError as exc:
            logger.error("failed", extra={"errorType": exc.error_type(), "error": str(exc)})
            raise as_lambda_error(exc) from exc
        except Exception as exc:
            raise as_lambda_error(internal_error(exc)) from exc
    try:
        event = _with_offloaded_config(event)
        parsed = parse_event(event)
        check_allowed(*_uris(parsed))
    except RenderError as exc:
        logger.error("rejected", extra={"errorType": exc.error_type(), "error": str(exc)})
        raise as_lambda_error(exc) from None
    except Exception as exc:
        error = internal_error(exc)
        logger.exception("rejected unexpectedly", extra={"errorType": error.error_type()})
        raise as_lambda_error(error) from exc
    keys: dict[str, Any] = {"action": parsed.Action}
    if isinstance(parsed, RenderChunkEvent):
        keys["chunk_index"] = parsed.ChunkIndex
    if not isinstance(parsed, PlanEvent | StillEvent):
        keys["plan_hash"] = parsed.PlanHash
    try:
        work = new_work_dir(Path(work_root()))
    except OSError as exc:
        raise as_lambda_error(internal_error(exc)) from exc
    logger.append_keys(**keys)
    logger.info("start")
    try:
        result = _ACTIONS[parsed.Action](parsed, work, context)
        duration_ms = int((time.perf_counter() - started) * 1000)
        result["DurationMs"] = duration_ms
        result["MemoryMb"] = int(getattr(context, "memory_limit_in_mb", 0) or 0)  # for cost
        logger.info("end", extra={"durationMs": duration_ms, "result": result})
        metrics.add_metric(
            name=f"{parsed.Action}Seconds", unit=MetricUnit.Seconds, value=duration_ms / 1000
        )
        return result
    except RenderError as exc:
        logger.error(
            "failed",
            extra={"errorType": exc.error_type(), "retryable": exc.retryable, "error": str(exc)},
        )
        raise as_lambda_error(exc) from exc
    except Exception as exc:
        error = internal_error(exc)
        logger.exception("failed unexpectedly", extra={"errorType": error.error_type()})
        raise as_lambda_error(error) from exc
    finally:
        shutil.rmtree(work, ignore_errors=True)
        release_work_dir(work)
        logger.remove_keys(list(keys))


def _uris(event: AnyEvent) -> tuple[list[str | None], list[str | None]]:
    """The event's URIs in the render bucket, and its outputs (which may also be in the
    stack's AllowedOutputBuckets)."""
    if isinstance(event, PlanEvent):
        return [event.ProjectS3Uri, event.PlanOutputS3Prefix], [event.OutputS3Uri]
    if isinstance(event, StillEvent):
        return [event.ProjectS3Uri], [event.OutputS3Uri]
    if isinstance(event, RenderChunkEvent):
        return [event.PlanS3Uri, event.ChunkOutputS3Prefix], []
    return [event.PlanS3Uri, event.AudioS3Uri, *event.ChunkS3Uris], [event.OutputS3Uri]


def _with_offloaded_config(event: Any) -> Any:
    """A plan or still event whose Config the client offloaded to S3 (an execution input
    over 256 KiB, :mod:`hyperframes_lambda.aws.execution_input`), with that Config read
    back and checked against its SHA-256; any other event as it is."""
    inner = unwrap_envelopes(event)
    if not isinstance(inner, dict) or not is_offloaded(inner.get("Config")):
        return event
    pointer = inner["Config"]
    uri = pointer[OFFLOAD_URI]
    if not isinstance(uri, str) or not uri.startswith(("s3://", "file:///")) or len(pointer) > 2:
        raise InvalidEventError(
            f"event.Config.{OFFLOAD_URI}: an offloaded Config is exactly {{{OFFLOAD_URI}: "
            f"s3://bucket/key, {OFFLOAD_SHA256}: hex}} (got {pointer!r:.200})"
        )
    check_allowed([uri])

    def fetch(uri: str) -> bytes:
        with tempfile.TemporaryDirectory(dir=work_root(), prefix="hf-config-") as scratch:
            return storage().download(uri, Path(scratch) / OFFLOAD_NAME).read_bytes()

    return {**inner, "Config": resolve_offloaded(pointer, fetch)}


ArtifactChoice = Callable[[LoadedPlan, ArtifactManifest], list[Artifact]]


def fetch_plan(
    plan_uri: str,
    work: Path,
    plan_hash: str | None = None,
    choose: ArtifactChoice | None = None,
    store: Storage | None = None,
) -> Path:
    """The plan's core archive, then the artifacts ``choose`` picks from its manifest (and
    holds no copy of already): a chunk fetches only what it renders.

    The plan is verified (its hash recomputed from the core and the manifest, the versions
    checked) before any artifact is fetched, so the manifest every artifact is checked
    against is the planner's. A plan without a manifest (an archive of a whole plan
    directory, as ``hyperframes-lambda plan`` writes) needs nothing more."""
    store = store or storage()
    archive = store.download(plan_uri, work / PLAN_ARCHIVE)
    plan_dir = extract_plan_archive(archive, work / "plan")
    archive.unlink()
    if choose is None:
        return plan_dir
    loaded = load_plan(plan_dir, plan_hash)
    try:
        manifest = read_manifest(plan_dir)
    except (KeyError, TypeError, ValueError) as exc:
        raise StoredObjectCorruptError(
            f"the plan's artifact manifest is unreadable ({type(exc).__name__}: {exc}); re-plan"
        ) from exc
    if manifest is None:
        return plan_dir
    wanted = missing_artifacts(plan_dir, choose(loaded, manifest))
    base = plan_uri.rsplit("/", 1)[0]

    def fetch(artifact: Artifact) -> None:
        local = work / ARTIFACTS_DIR / artifact.object_name
        store.download(join_uri(base, ARTIFACTS_DIR, artifact.object_name), local)
        try:
            unpack_artifact(local, artifact, manifest, plan_dir)
        finally:
            local.unlink(missing_ok=True)

    if wanted:
        with ThreadPoolExecutor(max_workers=min(4, len(wanted))) as pool:
            list(pool.map(fetch, wanted))
    return plan_dir


def chunk_artifacts(index: int) -> ArtifactChoice:
    """What renderChunk ``index`` fetches (CHUNK_INDEX_OUT_OF_RANGE before any download)."""

    def choose(loaded: LoadedPlan, manifest: ArtifactManifest) -> list[Artifact]:
        if not 0 <= index < len(loaded.chunks):
            raise ChunkIndexOutOfRangeError(
                f"chunk index {index} is out of range: the plan has {len(loaded.chunks)} "
                f"chunks (0…{len(loaded.chunks) - 1})"
            )
        return manifest.for_chunk(index)

    return choose


def _assemble_artifacts(loaded: LoadedPlan, manifest: ArtifactManifest) -> list[Artifact]:
    """The soundtrack; and for a thumbnail, the page and the frames of its videos then."""
    wanted = manifest.of_kind("soundtrack") if loaded.document.get("hasAudio") else []
    thumbnail = loaded.document.get("thumbnailFrame")
    if thumbnail is not None:
        wanted += manifest.for_frames([int(thumbnail)], loaded.capture.fps)
    return wanted


def _upload_plan(result: PlanResult, prefix: str, work: Path) -> str:
    """The plan's core archive at ``prefix/plan.tar.gz`` and each artifact at
    ``prefix/artifacts/<id>.<format>``, packed one at a time per upload thread (so /tmp
    holds at most a few packed artifacts beside the plan)."""
    meta = {META_PLAN_HASH: result.plan_hash}
    manifest = read_manifest(result.plan_dir)
    artifacts = list(manifest.artifacts) if manifest is not None else []
    packed = work / ARTIFACTS_DIR

    def upload(artifact: Artifact) -> None:
        local = write_artifact(result.plan_dir, artifact, packed)
        try:
            uri = join_uri(prefix, ARTIFACTS_DIR, artifact.object_name)
            storage().upload(local, uri, meta, INTERMEDIATE_TAG)
        finally:
            local.unlink(missing_ok=True)

    if artifacts:
        with ThreadPoolExecutor(max_workers=min(4, len(artifacts))) as pool:
            list(pool.map(upload, artifacts))
    core = write_core_archive(result.plan_dir, work / PLAN_ARCHIVE)
    plan_uri = join_uri(prefix, PLAN_ARCHIVE)
    storage().upload(core, plan_uri, meta, INTERMEDIATE_TAG)  # last: the plan is complete
    core.unlink()
    return plan_uri


def _project_root(extracted: Path, entry_file: str) -> Path:
    """``tar -czf p.tgz -C project .`` and ``tar -czf p.tgz project`` both work."""
    if (extracted / entry_file).is_file():
        return extracted
    children = [p for p in extracted.iterdir() if p.is_dir()]
    if len(children) == 1 and (children[0] / entry_file).is_file():
        return children[0]
    return extracted  # read_composition will name the missing entry file


def _plan_project(
    event: PlanEvent | StillEvent, project: Path, work: Path, *, archive: bool = True
) -> PlanResult:
    """``plan`` with the failures a composition's content can cause deterministically (a
    malformed URL, absurd numbers, nesting too deep for the browser's DOM transfer, a path
    too long to copy) reported as ``INVALID_COMPOSITION`` naming the entry file, not as a
    retryable or raw error."""
    entry = event.config.entry_file
    config: Any = event.config
    if isinstance(event, StillEvent):
        given = event.config.model_dump(by_alias=True, exclude_unset=True)
        config = {**{k: v for k, v in given.items() if k in STILL_CONFIG_KEYS}, **STILL_PLAN}
    try:
        return plan(project, config, work / "plan", work / PLAN_ARCHIVE if archive else None)
    except shutil.Error as exc:  # copytree gathers per-file failures (a path too long)
        failures = exc.args[0] if exc.args else None
        why = failures[0][-1] if isinstance(failures, list) and failures else exc
        raise CompositionError(
            f"{entry} (in {event.ProjectS3Uri}): a project file cannot be copied into the "
            f"plan: {str(why)[:300]}"
        ) from exc
    except (ValueError, OverflowError, RecursionError) as exc:
        raise CompositionError(
            f"{entry} (in {event.ProjectS3Uri}) cannot be planned: {type(exc).__name__}: {exc}"
        ) from exc
    except CdpProtocolError as exc:
        if "stack limit exceeded" not in str(exc):
            raise
        raise CompositionError(
            f"{entry} (in {event.ProjectS3Uri}) nests elements too deeply for the browser "
            f"to report its document: {exc}"
        ) from exc


def _plan(event: PlanEvent, work: Path, _context: Any = None) -> dict[str, Any]:
    output = event.OutputS3Uri
    if output is not None and not event.Overwrite and storage().head(output) is not None:
        raise OutputExistsError(
            f"{output} already exists: start the execution with "
            '"Overwrite": true to replace it, or choose another OutputS3Uri'
        )
    archive = storage().download(event.ProjectS3Uri, work / "project.tar.gz")
    project = _project_root(extract_archive(archive, work / "project"), event.config.entry_file)
    archive.unlink()  # /tmp holds the project once, not twice
    result = _plan_project(event, project, work, archive=False)
    shutil.rmtree(work / "project", ignore_errors=True)
    plan_uri = _upload_plan(result, event.PlanOutputS3Prefix, work)
    audio_uri = None
    if result.audio_path is not None:
        audio_uri = join_uri(event.PlanOutputS3Prefix, result.audio_path.name)
        storage().upload(
            result.audio_path, audio_uri, {META_PLAN_HASH: result.plan_hash}, INTERMEDIATE_TAG
        )
    metrics.add_metric(name="PlannedFrames", unit=MetricUnit.Count, value=result.total_frames)
    return PlanResultPayload(
        PlanS3Uri=plan_uri, PlanHash=result.plan_hash, ChunkCount=result.chunk_count,
        TotalFrames=result.total_frames, Fps=fps_json(result.fps), Width=result.width,
        Height=result.height, Format=result.format, HasAudio=result.has_audio,
        AudioS3Uri=audio_uri, FfmpegVersion=result.ffmpeg_version,
        RendererVersion=result.renderer_version, DurationMs=0,
        BrowserBuild=result.browser_build, FontSet=result.font_set,
        Warnings=result.warnings[:20],
    ).model_dump()  # fmt: skip


def chunk_uri(prefix: str, index: int, output_format: str) -> str:
    return join_uri(prefix, f"{index:04d}{CHUNK_EXTENSIONS[output_format]}")


def _reusable_chunk(event: RenderChunkEvent, uri: str, work: Path) -> dict[str, Any] | None:
    """The result of an earlier invocation that already uploaded this chunk, if its bytes
    are intact; else None (render again, replacing it).

    The bytes are downloaded and hashed, not trusted from metadata: an object replaced
    with other bytes but the old metadata would otherwise be reused and fail assembly
    terminally forever. (S3's own ChecksumSHA256 cannot stand in: for a multipart upload
    it is a checksum of part checksums, not the object's SHA-256.) This costs one
    download of the chunk, only on a retry that finds its chunk already there."""
    existing = storage().head(uri)
    if existing is None or existing.metadata.get(META_PLAN_HASH) != event.PlanHash:
        return None
    meta = existing.metadata
    recorded, frames = meta.get(SHA256_METADATA), meta.get(META_FRAMES, "")
    if not recorded or not frames.isdigit():
        logger.warning("existing chunk has incomplete metadata; rendering", extra={"uri": uri})
        return None
    copy = work / "existing-chunk" / uri.rsplit("/", 1)[-1]
    try:
        storage().download(uri, copy)  # checks the bytes against the recorded SHA-256
        tag = read_tag(copy)
    except (PlanArtifactDigestMismatchError, StoredObjectCorruptError) as exc:
        logger.warning("existing chunk is corrupt; rendering", extra={"error": str(exc)})
        return None
    finally:
        shutil.rmtree(copy.parent, ignore_errors=True)
    if tag is None or (tag.plan_hash, tag.index) != (event.PlanHash, event.ChunkIndex):
        logger.warning("existing chunk carries another tag; rendering", extra={"uri": uri})
        return None
    logger.info("chunk already rendered", extra={"chunkS3Uri": uri})
    return RenderChunkResultPayload(
        ChunkS3Uri=uri, ChunkIndex=event.ChunkIndex, Sha256=recorded, FramesEncoded=int(frames),
        CaptureMode=meta.get(META_CAPTURE_MODE, "beginframe"), DurationMs=0, Reused=True,
    ).model_dump()  # fmt: skip


def _render_chunk(event: RenderChunkEvent, work: Path, context: Any = None) -> dict[str, Any]:
    uri = chunk_uri(event.ChunkOutputS3Prefix, event.ChunkIndex, event.Format)
    beat = HeartbeatWriter(
        storage(), event.ChunkOutputS3Prefix, event.ChunkIndex, work, context, logger
    )
    done = False
    interrupted = False
    try:
        reused = _reusable_chunk(event, uri, work)
        if reused is not None:  # a retry of an invocation that already uploaded its chunk
            beat.start()
            beat.finish(done=True, reused=True, frames=int(reused["FramesEncoded"]))
            done = True
            return reused
        plan_dir = fetch_plan(
            event.PlanS3Uri, work, event.PlanHash, chunk_artifacts(event.ChunkIndex)
        )
        # The heartbeat starts once the plan is here: an invocation that cannot even fetch
        # its plan (a render already stopped and its storage removed) writes nothing back.
        beat.start()
        out = work / f"chunk{CHUNK_EXTENSIONS[event.Format]}"
        try:
            result = render_chunk(
                plan_dir, event.ChunkIndex, out, expected_hash=event.PlanHash,
                pages=default_page_count(), expected_format=event.Format,
                browser_pool=_browser_pool(), on_start=beat.set_total, on_frame=beat.frame,
            )  # fmt: skip
        except BrowserCrashedError as exc:
            _crashed(event, beat, exc)
            raise
        storage().upload(
            out, uri,
            {META_PLAN_HASH: event.PlanHash, META_FRAMES: str(result.frames),
             META_CAPTURE_MODE: result.capture_mode},
            INTERMEDIATE_TAG,
        )  # fmt: skip
        beat.finish(done=True, frames=result.frames)
        done = True
    except (KeyboardInterrupt, SystemExit):
        # Stopped from outside (the local runner's SIGTERM, Ctrl-C): whoever stopped this
        # invocation is removing its storage; a last heartbeat would write it back.
        interrupted = True
        beat.abandon()
        raise
    finally:
        if not done and not interrupted:
            beat.finish(done=False)
    capture_s = result.timings.get("capture", 0.0)
    metrics.add_metric(name="FramesRendered", unit=MetricUnit.Count, value=result.frames)
    metrics.add_metric(name="CaptureSeconds", unit=MetricUnit.Seconds, value=capture_s)
    if capture_s > 0:
        metrics.add_metric(
            name="CaptureFps", unit=MetricUnit.CountPerSecond, value=result.frames / capture_s
        )
    return RenderChunkResultPayload(
        ChunkS3Uri=uri, ChunkIndex=event.ChunkIndex, Sha256=result.sha256,
        FramesEncoded=result.frames, CaptureMode=result.capture_mode, DurationMs=0,
        BrowserBuild=result.browser_build, FontSet=result.font_set,
        FfmpegVersion=result.ffmpeg_version,
    ).model_dump()  # fmt: skip


def _crashed(event: RenderChunkEvent, beat: HeartbeatWriter, exc: BrowserCrashedError) -> None:
    """The browser crashed rendering this chunk. The first time, that is retryable (the
    environment may be at fault) and the attempt's last heartbeat records the plan hash;
    when the previous attempt's heartbeat already records a crash of this plan's chunk,
    the page crashes the browser deterministically: terminal, raised here."""
    previous = beat.previous
    if previous is not None and previous.CrashedPlanHash == event.PlanHash:
        raise PageCrashedRepeatedlyError(
            f"chunk {event.ChunkIndex} of plan {event.PlanHash}: the browser crashed on "
            f"attempt {previous.Attempt} and again on attempt {beat.attempt}; the page "
            f"crashes it, a retry would too. This time: {str(exc)[:400]}"
        ) from exc
    beat.crashed_plan_hash = event.PlanHash


def _output_expiry(plan_dir: Path) -> int | None:
    """The render's ``Config.outputExpiresInDays``, as the plan recorded it."""
    value = read_plan_document(plan_dir).get("outputExpiresInDays")
    return int(value) if isinstance(value, int) else None


def _parallel(items: list[str], fn: Callable[[int, str], Path]) -> list[Path]:
    with ThreadPoolExecutor(max_workers=min(8, len(items))) as pool:
        return list(pool.map(fn, range(len(items)), items))


def _assemble(event: AssembleEvent, work: Path, _context: Any = None) -> dict[str, Any]:
    if event.ChunkSha256s is not None and len(event.ChunkSha256s) != len(event.ChunkS3Uris):
        raise InvalidEventError(
            f"event.ChunkSha256s has {len(event.ChunkSha256s)} entries for "
            f"{len(event.ChunkS3Uris)} ChunkS3Uris"
        )
    plan_dir = fetch_plan(event.PlanS3Uri, work, event.PlanHash, _assemble_artifacts)
    ext = CHUNK_EXTENSIONS.get(event.Format, "")  # none for an audio-only output

    def fetch_chunk(index: int, uri: str) -> Path:
        """The chunk's bytes, checked against the SHA-256 the event gives or the one stored
        with the object; a chunk with neither is refused, not trusted."""
        dest = work / "chunks" / f"{index:04d}{ext}"
        expected = event.ChunkSha256s[index] if event.ChunkSha256s is not None else None
        try:
            verified = storage().download_checked(uri, dest, expected)
        except StorageObjectNotFoundError:
            raise ChunkMissingError(f"chunk {index} is missing: {uri}") from None
        except PlanArtifactDigestMismatchError as exc:
            raise ChunkDigestMismatchError(f"chunk {index}: {exc}") from None
        if not verified:
            dest.unlink(missing_ok=True)
            raise ChunkUnverifiableError(
                f"chunk {index} ({uri}) has no SHA-256 stored with it and the event gives "
                "none (ChunkSha256s): its bytes cannot be verified; render the chunk again"
            )
        return dest

    chunks = _parallel(event.ChunkS3Uris, fetch_chunk) if event.ChunkS3Uris else []
    out = work / ("output" if event.Format == "png-sequence" else f"output.{event.Format}")
    result = assemble(
        plan_dir, chunks, out, expected_hashes=event.ChunkSha256s,
        expected_plan_hash=event.PlanHash, expected_format=event.Format,
    )  # fmt: skip
    upload = out
    if event.Format == "png-sequence":  # one object: the frames (and audio) as a tar.gz
        upload = Path(shutil.make_archive(str(work / "output-sequence"), "gztar", out))
    thumbnail_uri = None
    thumbnail_frame = read_plan_document(plan_dir).get("thumbnailFrame")
    if thumbnail_frame is not None:  # Config.thumbnail: rendered before the output lands
        thumbnail = work / "thumbnail.png"
        render_stills(plan_dir, [StillRequest(int(thumbnail_frame), thumbnail)],
                      expected_hash=event.PlanHash, browser_pool=_browser_pool())  # fmt: skip
        thumbnail_uri = thumbnail_uri_for(event.OutputS3Uri)
    tags = output_tag(_output_expiry(plan_dir))
    digest = storage().upload(upload, event.OutputS3Uri, tags=tags)
    if thumbnail_uri is not None:
        storage().upload(
            work / "thumbnail.png", thumbnail_uri, {META_PLAN_HASH: event.PlanHash}, tags
        )
    metrics.add_metric(name="AssembledFrames", unit=MetricUnit.Count, value=result.frames)
    return AssembleResultPayload(
        OutputS3Uri=event.OutputS3Uri, FramesEncoded=result.frames,
        FileSize=upload.stat().st_size, Sha256=digest, DurationMs=0,
        ThumbnailS3Uri=thumbnail_uri,
    ).model_dump()  # fmt: skip


def thumbnail_uri_for(output_uri: str) -> str:
    """A render's thumbnail beside its output: ``…/promo.mp4`` → ``…/promo.png``
    (``…/frames.tar.gz`` → ``…/frames.png``)."""
    head, _, name = output_uri.rpartition("/")
    for suffix in (".tar.gz", ".mp4", ".mov", ".webm", ".gif"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
            break
    return f"{head}/{name}.png"


def _still(event: StillEvent, work: Path, _context: Any = None) -> dict[str, Any]:
    """Plan the project here (no plan upload) and capture only the frames asked for."""
    image_format = still_format(Path(event.OutputS3Uri.rpartition("/")[2]), "OutputS3Uri")
    archive = storage().download(event.ProjectS3Uri, work / "project.tar.gz")
    project = _project_root(extract_archive(archive, work / "project"), event.config.entry_file)
    planned = _plan_project(event, project, work, archive=False)
    wanted = [*event.Frames, *(frame_at(t, planned.fps) for t in event.Times)]
    frames = list(dict.fromkeys(wanted))
    names = still_paths(Path(event.OutputS3Uri.rpartition("/")[2]), frames)
    head = event.OutputS3Uri.rpartition("/")[0]
    requests = [
        StillRequest(frame, work / "stills" / name.name, image_format, event.Quality)
        for frame, name in zip(frames, names, strict=True)
    ]
    results = render_stills(planned.plan_dir, requests, browser_pool=_browser_pool())
    images = []
    for result in results:
        uri = f"{head}/{result.path.name}"
        storage().upload(result.path, uri, {META_PLAN_HASH: planned.plan_hash}, output_tag(None))
        images.append(StillImage(
            Frame=result.frame, S3Uri=uri, Sha256=result.sha256, FileSize=result.size,
            Width=result.width, Height=result.height,
        ))  # fmt: skip
    metrics.add_metric(name="StillsRendered", unit=MetricUnit.Count, value=len(images))
    return StillResultPayload(Stills=images, PlanHash=planned.plan_hash, DurationMs=0).model_dump()


_ACTIONS: dict[str, Callable[[Any, Path, Any], dict[str, Any]]] = {
    "plan": _plan,
    "renderChunk": _render_chunk,
    "assemble": _assemble,
    "still": _still,
}
