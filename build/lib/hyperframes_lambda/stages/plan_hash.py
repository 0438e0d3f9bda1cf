"""The plan hash (SPEC §5): one SHA-256 that pins every byte a chunk worker renders from.

SHA-256 over a versioned prefix, then each file of the plan directory except
``plan.json`` in sorted POSIX path order as ``path NUL sha256 NUL``, then the canonical
encoder JSON, the ffmpeg version line, the renderer version, ``fps x width x height x
format`` (fps as ``30`` or ``30000/1001``), then the browser build and the font set (both
decide pixels: a worker with another one refuses the plan). Workers recompute it from the
files on disk before launching Chrome.

A worker holds only part of a plan (its chunk's artifacts, see :mod:`.plan_artifacts`): a
file the artifact manifest (``meta/artifacts.json``, itself a hashed file) lists but the
worker did not fetch enters the hash with the digest the manifest records; every file on
disk enters with the digest of its bytes. So the hash pins every byte of the plan whether
a worker holds all of it or a part, and a file altered on disk changes it.
"""

from __future__ import annotations

import hashlib
import json
from fractions import Fraction
from pathlib import Path
from typing import Any

from ..cache import file_sha256
from ..timing import fps_text

HASH_PREFIX = b"hyperframes-lambda/plan-hash/v1\0"
PLAN_JSON = "plan.json"
ARTIFACTS_JSON = "meta/artifacts.json"


def canonical_json(value: Any) -> str:
    """Sorted keys, no whitespace: the same object always serialises to the same bytes."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def plan_files(plan_dir: Path) -> list[str]:
    """Every regular file under ``plan_dir`` except plan.json, as sorted POSIX paths."""
    paths = []
    for path in plan_dir.rglob("*"):
        if path.is_symlink():
            raise ValueError(f"plans hold no symlinks: {path}")
        if path.is_file():
            relative = path.relative_to(plan_dir).as_posix()
            if relative != PLAN_JSON:
                paths.append(relative)
    return sorted(paths)


def disk_digests(plan_dir: Path) -> dict[str, str]:
    """SHA-256 of every file of the plan directory on disk (plan.json aside), by path."""
    return {relative: file_sha256(plan_dir / relative) for relative in plan_files(plan_dir)}


def manifest_digests(plan_dir: Path) -> dict[str, str]:
    """The file digests the artifact manifest records ({} when the plan has none)."""
    path = plan_dir / ARTIFACTS_JSON
    if not path.is_file():
        return {}
    files = json.loads(path.read_text(encoding="utf-8"))["files"]
    if not isinstance(files, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in files.items()
    ):
        raise ValueError(f"{ARTIFACTS_JSON}: 'files' is not a map of paths to digests")
    return files


def plan_digests(plan_dir: Path) -> dict[str, str]:
    """What the plan hash covers: the manifest's digests, overridden by the bytes on disk."""
    return {**manifest_digests(plan_dir), **disk_digests(plan_dir)}


def compute_plan_hash(
    plan_dir: Path | dict[str, str],
    *,
    encoder: dict[str, Any],
    ffmpeg_version: str,
    renderer_version: str,
    fps: Fraction,
    width: int,
    height: int,
    format: str,
    browser_build: str = "",
    font_set: str = "",
) -> str:
    """The plan hash of ``plan_dir`` (see :func:`plan_digests`), or of a digest map."""
    digests = plan_digests(plan_dir) if isinstance(plan_dir, Path) else plan_dir
    digest = hashlib.sha256(HASH_PREFIX)
    for relative in sorted(digests):
        digest.update(relative.encode() + b"\0" + digests[relative].encode() + b"\0")
    digest.update(canonical_json(encoder).encode() + b"\0")
    digest.update(ffmpeg_version.encode() + b"\0")
    digest.update(renderer_version.encode() + b"\0")
    digest.update(f"{fps_text(fps)}x{width}x{height}x{format}".encode())
    digest.update(b"\0" + browser_build.encode() + b"\0" + font_set.encode())
    return digest.hexdigest()
