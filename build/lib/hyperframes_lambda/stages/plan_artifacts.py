"""Content-addressed plan artifacts: a chunk fetches only what it renders (SPEC §5, §11).

A plan in storage is a small core archive (``plan.tar.gz``: ``plan.json`` and ``meta/``)
and, beside it, artifacts under ``artifacts/<id>.tar[.gz]``: the page (``compiled/``), each
video's extracted frames per chunk span, the soundtrack. The manifest
(``meta/artifacts.json``, in the core and so in the plan hash) lists every other file of
the plan with its SHA-256, and which files each artifact holds. An artifact's id is the
SHA-256 of that list (its content, not the bytes of one packing of it), so two chunks
showing the same frames share one object.

Why: a plan used to be one archive every chunk downloaded and unpacked whole; a 60 s
background video made each of 16 chunks fetch all 1,800 frames to render 113 of them.

Integrity, as strong as one archive: the worker recomputes the plan hash from the core
and the manifest before fetching anything (so the manifest is the planner's), then every
file an artifact unpacks must be one the artifact lists, with the manifest's SHA-256, and
all of them must be there (``PLAN_ARTIFACT_DIGEST_MISMATCH`` otherwise, naming the
artifact and the file); nothing unpacks outside the plan directory or past the
artifact's recorded size.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import math
import os
import shutil
import tarfile
import tempfile
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from ..errors import PlanArtifactDigestMismatchError
from .chunking import Chunk
from .plan_archive import write_plan_archive
from .plan_hash import ARTIFACTS_JSON, PLAN_JSON, canonical_json

ARTIFACTS_DIR = "artifacts"  # beside plan.tar.gz in storage
MANIFEST_VERSION = 1
ID_PREFIX = b"hyperframes-lambda/plan-artifact/v1\0"
CORE_DIR = "meta"
PAGE_DIR = "compiled"
VIDEO_FRAMES_DIR = "video-frames"
Kind = Literal["page", "video-frames", "soundtrack"]
# Compressed where it pays: a page is text and fonts; frames and sound are compressed media.
_FORMATS: dict[str, Literal["tar", "tar.gz"]] = {
    "page": "tar.gz", "video-frames": "tar", "soundtrack": "tar",
}  # fmt: skip


def is_core(relative: str) -> bool:
    """``plan.json`` and ``meta/``: what every stage reads, shipped in the core archive."""
    return relative == PLAN_JSON or relative.startswith(f"{CORE_DIR}/")


@dataclass(frozen=True)
class Artifact:
    """One object of a plan in storage: a set of plan files, packed as one tar."""

    id: str
    kind: Kind
    files: tuple[str, ...]
    size: int  # the files' bytes together: the cap when unpacking
    format: Literal["tar", "tar.gz"]
    video: int | None = None  # video-frames: the <video>'s index in document order
    chunks: tuple[int, ...] = ()  # video-frames: the chunks whose frames show these

    @property
    def object_name(self) -> str:
        return f"{self.id}.{self.format}"

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id, "kind": self.kind, "files": list(self.files), "bytes": self.size,
            "format": self.format,
        }  # fmt: skip
        if self.video is not None:
            data["video"] = self.video
            data["chunks"] = list(self.chunks)
        return data


@dataclass(frozen=True)
class ArtifactManifest:
    """``meta/artifacts.json``: every non-core file's digest, and the artifacts."""

    files: dict[str, str]
    artifacts: tuple[Artifact, ...] = field(default=())
    videos: tuple[VideoWindow, ...] = field(default=())  # to find a frame's files

    def to_json(self) -> dict[str, Any]:
        return {
            "version": MANIFEST_VERSION,
            "files": dict(sorted(self.files.items())),
            "artifacts": [a.to_json() for a in self.artifacts],
            "videos": [v.to_json() for v in self.videos],
        }

    @classmethod
    def from_json(cls, data: Any) -> ArtifactManifest:
        """Parse a manifest; a malformed one raises ValueError (the caller names it)."""
        if not isinstance(data, dict) or data.get("version") != MANIFEST_VERSION:
            raise ValueError(f"{ARTIFACTS_JSON}: not a version {MANIFEST_VERSION} manifest")
        files = data["files"]
        if not isinstance(files, dict):
            raise ValueError(f"{ARTIFACTS_JSON}: 'files' is not an object")
        for path, digest in files.items():
            _check_path(path)
            if not isinstance(digest, str) or len(digest) != 64:
                raise ValueError(f"{ARTIFACTS_JSON}: {path!r} has no SHA-256")
        artifacts = []
        for item in data["artifacts"]:
            listed = tuple(str(p) for p in item["files"])
            unknown = [p for p in listed if p not in files]
            if unknown:
                raise ValueError(f"{ARTIFACTS_JSON}: artifact {item['id']} lists {unknown[0]!r}")
            if item["format"] not in ("tar", "tar.gz"):
                raise ValueError(f"{ARTIFACTS_JSON}: artifact format {item['format']!r}")
            artifact = Artifact(
                id=str(item["id"]), kind=item["kind"], files=listed, size=int(item["bytes"]),
                format=item["format"], video=item.get("video"),
                chunks=tuple(int(c) for c in item.get("chunks", [])),
            )  # fmt: skip
            artifacts.append(artifact)
        videos = tuple(VideoWindow.from_json(v) for v in data["videos"])
        return cls(files=dict(files), artifacts=tuple(artifacts), videos=videos)

    def of_kind(self, kind: Kind) -> list[Artifact]:
        return [a for a in self.artifacts if a.kind == kind]

    def for_chunk(self, index: int) -> list[Artifact]:
        """What chunk ``index`` renders from: the page and its frames of every video."""
        return [
            a
            for a in self.artifacts
            if a.kind == "page" or (a.kind == "video-frames" and index in a.chunks)
        ]

    def for_frames(self, frames: Sequence[int], fps: Fraction) -> list[Artifact]:
        """What rendering composition frames ``frames`` needs (a still, a thumbnail)."""
        wanted = {p for a in self.of_kind("page") for p in a.files}
        for video in self.videos:
            wanted |= {video.path(k) for k in video.frames_for(frames, fps)} & set(self.files)
        return self.covering(wanted)

    def covering(self, paths: Iterable[str]) -> list[Artifact]:
        """Artifacts that together hold ``paths`` (the fewest, greedily)."""
        wanted = set(paths)
        chosen: list[Artifact] = []
        while wanted:
            best = max(self.artifacts, key=lambda a: len(wanted.intersection(a.files)))
            held = wanted.intersection(best.files)
            if not held:
                raise ValueError(f"no artifact holds {sorted(wanted)[0]!r}")
            chosen.append(best)
            wanted -= held
        return chosen


def _check_path(path: Any) -> None:
    parts = PurePosixPath(str(path)).parts
    if not isinstance(path, str) or path.startswith("/") or ".." in parts or is_core(path):
        raise ValueError(f"{ARTIFACTS_JSON}: {path!r} is not a plan file path")


def artifact_id(files: dict[str, str]) -> str:
    """The content address of a set of files: SHA-256 over their sorted (path, digest)."""
    digest = hashlib.sha256(ID_PREFIX)
    for path in sorted(files):
        digest.update(path.encode() + b"\0" + files[path].encode() + b"\0")
    return digest.hexdigest()


@dataclass(frozen=True)
class VideoWindow:
    """What the page needs to pick a ``<video>``'s frame at a time (``engine.js``'s
    ``seekVideos``): its clip window, frame count, loop flag and where its frames are."""

    index: int
    start: float
    end: float | None  # None: to the composition's end
    count: int
    loop: bool
    dir: str  # plan-relative, e.g. "video-frames/000"
    ext: str

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index, "start": self.start, "end": self.end, "count": self.count,
            "loop": self.loop, "dir": self.dir, "ext": self.ext,
        }  # fmt: skip

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> VideoWindow:
        end = data["end"]
        return cls(
            index=int(data["index"]), start=float(data["start"]),
            end=None if end is None else float(end), count=int(data["count"]),
            loop=bool(data["loop"]), dir=str(data["dir"]), ext=str(data["ext"]),
        )  # fmt: skip

    def path(self, k: int) -> str:
        return f"{self.dir}/frame_{k:06d}.{self.ext}"

    def frames_for(self, frames: Iterable[int], fps: Fraction) -> set[int]:
        """The frame files the page may load for composition frames ``frames``.

        The page's lookup (``k = floor((t - start) * fps + 1e-9)``, then loop or hold) in
        floats, with one frame of margin each side of both the clip window and ``k``: an
        extra file costs a few KB, a missing one fails the chunk."""
        rate = float(fps)
        end = math.inf if self.end is None else self.end
        margin = 1 / rate
        wanted: set[int] = set()
        for frame in frames:
            t = float(Fraction(frame) / fps)
            if t < self.start - margin or t > end + margin:
                continue
            k = math.floor((t - self.start) * rate + 1e-9)
            for near in {max(0, k + step) for step in (-1, 0, 1)}:
                wanted.add(near % self.count if self.loop else min(near, self.count - 1))
        return wanted


def video_windows(
    media: Sequence[dict[str, Any]], videos: Sequence[dict[str, Any]]
) -> list[VideoWindow]:
    """Each shown ``<video>`` (the probe's media list, the plan's per-video frame manifest)."""
    clips = [m for m in media if m["kind"] == "video"]
    windows = []
    for index, (clip, info) in enumerate(zip(clips, videos, strict=True)):
        if int(info["count"]) <= 0:
            continue
        window = VideoWindow(
            index=index, start=float(clip["start"]),
            end=None if clip.get("end") is None else float(clip["end"]),
            count=int(info["count"]), loop=bool(clip["loop"]),
            dir=str(info["dir"]).lstrip("/"), ext=str(info["ext"]),
        )  # fmt: skip
        windows.append(window)
    return windows


def build_manifest(
    digests: dict[str, str],
    sizes: dict[str, int],
    chunks: Sequence[Chunk],
    windows: Sequence[VideoWindow],
    fps: Fraction,
    soundtrack: str | None,
) -> ArtifactManifest:
    """Group the plan's non-core files (``digests``) into artifacts.

    Each video's frames go into one artifact per chunk (the frames that chunk shows), and
    one more for frames no chunk shows (a still or a thumbnail outside the rendered range
    may); the soundtrack into its own; everything else (the page) into one."""
    groups: list[tuple[Kind, set[str], int | None, tuple[int, ...]]] = []
    placed: set[str] = set()
    for window in windows:
        all_frames = {p for p in digests if p.startswith(window.dir + "/")}
        for chunk in chunks:
            shown = {window.path(k) for k in window.frames_for(chunk.indices, fps)} & all_frames
            if shown:
                groups.append(("video-frames", shown, window.index, (chunk.index,)))
                placed |= shown
        rest = all_frames - placed
        if rest:
            groups.append(("video-frames", rest, window.index, ()))
            placed |= rest
    if soundtrack is not None and soundtrack in digests:
        groups.append(("soundtrack", {soundtrack}, None, ()))
        placed.add(soundtrack)
    page = set(digests) - placed
    if page:
        groups.insert(0, ("page", page, None, ()))
    merged: dict[str, Artifact] = {}
    for kind, files, video, chunk_ids in groups:
        ident = artifact_id({p: digests[p] for p in files})
        if ident in merged:  # the same frames for two chunks: one object
            old = merged[ident]
            merged[ident] = Artifact(
                old.id, old.kind, old.files, old.size, old.format, old.video,
                tuple(sorted({*old.chunks, *chunk_ids})),
            )  # fmt: skip
            continue
        merged[ident] = Artifact(
            id=ident, kind=kind, files=tuple(sorted(files)), size=sum(sizes[p] for p in files),
            format=_FORMATS[kind], video=video if kind == "video-frames" else None,
            chunks=chunk_ids,
        )  # fmt: skip
    return ArtifactManifest(
        files=dict(digests), artifacts=tuple(merged.values()), videos=tuple(windows)
    )


def write_manifest(plan_dir: Path, manifest: ArtifactManifest) -> None:
    path = plan_dir / ARTIFACTS_JSON
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(canonical_json(manifest.to_json()) + "\n", encoding="utf-8")


def read_manifest(plan_dir: Path) -> ArtifactManifest | None:
    """The plan's manifest; None for a plan without one (every file is in its archive)."""
    path = plan_dir / ARTIFACTS_JSON
    if not path.is_file():
        return None
    return ArtifactManifest.from_json(json.loads(path.read_text(encoding="utf-8")))


def write_core_archive(plan_dir: Path, archive: Path) -> Path:
    """``plan.tar.gz`` of the core alone: what every stage downloads first."""
    return write_plan_archive(plan_dir, archive, include=is_core)


def write_artifact(plan_dir: Path, artifact: Artifact, out_dir: Path) -> Path:
    """Pack ``artifact`` from the plan directory into ``out_dir/<object name>``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    return write_plan_archive(
        plan_dir,
        out_dir / artifact.object_name,
        include=set(artifact.files).__contains__,
        directories=False,
        compress=artifact.format == "tar.gz",
    )


def missing(plan_dir: Path, artifacts: Iterable[Artifact]) -> list[Artifact]:
    """The artifacts with a file not yet in ``plan_dir`` (a full plan archive needs none)."""
    return [a for a in artifacts if any(not (plan_dir / p).is_file() for p in a.files)]


def unpack_artifact(
    archive: Path, artifact: Artifact, manifest: ArtifactManifest, plan_dir: Path
) -> None:
    """Unpack a downloaded artifact into ``plan_dir``, every file checked against the
    manifest first (``PLAN_ARTIFACT_DIGEST_MISMATCH``); files already there are kept (the
    plan hash, recomputed from disk afterwards, covers them)."""
    wanted = set(artifact.files)
    name = f"plan artifact {artifact.object_name} ({artifact.kind})"
    staging = Path(tempfile.mkdtemp(prefix=".hf-artifact-", dir=plan_dir.parent))
    try:
        seen: set[str] = set()
        total = 0
        with tarfile.open(archive, mode="r:*") as tar:
            for member in tar:
                path = member.name
                if not member.isfile() or path not in wanted or path in seen:
                    raise PlanArtifactDigestMismatchError(
                        f"{name} holds {path[:200]!r}, which its manifest entry does not list: "
                        "it was altered after planning; re-plan"
                    )
                total += member.size
                if total > artifact.size:
                    raise PlanArtifactDigestMismatchError(
                        f"{name} holds more than its {artifact.size} bytes: altered; re-plan"
                    )
                digest = _copy_member(tar, member, staging / path)
                if digest != manifest.files[path]:
                    raise PlanArtifactDigestMismatchError(
                        f"{name}: {path} has sha256 {digest}, the plan's manifest says "
                        f"{manifest.files[path]}: corrupted or replaced; re-plan"
                    )
                seen.add(path)
        if seen != wanted:
            absent = sorted(wanted - seen)
            raise PlanArtifactDigestMismatchError(
                f"{name} lacks {absent[0]!r} ({len(absent)} files missing): truncated or "
                "replaced; re-plan"
            )
        for path in sorted(seen):
            target = plan_dir / path
            if target.exists():
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staging / path, target)
    except (tarfile.TarError, EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise PlanArtifactDigestMismatchError(f"{name} is not a readable archive: {exc}") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _copy_member(tar: tarfile.TarFile, member: tarfile.TarInfo, dest: Path) -> str:
    dest.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    source = tar.extractfile(member)
    if source is None:  # pragma: no cover - isfile() members always have a body
        raise PlanArtifactDigestMismatchError(f"{member.name} has no content")
    with contextlib.closing(source), dest.open("wb") as out:
        while block := source.read(1 << 20):
            digest.update(block)
            out.write(block)
    return digest.hexdigest()
