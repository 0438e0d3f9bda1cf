"""Which plan, and which position in it, a chunk file was rendered for.

A chunk's bytes alone do not say where it belongs: chunks passed in the wrong order, or a
chunk of another render, concatenate into a scrambled video that decodes fine. So every
chunk carries a tag written at encode time — ``hf:<planHash>:<index>/<count>`` — as the
container's ``comment`` (mp4, mov, webm) or as the member ``hf-chunk.json`` of a
png-sequence archive. It lives in the container only: the encoded frames are unchanged.
Assembly reads the tags back and refuses a chunk whose tag is not the one its position
calls for (``CHUNK_MISMATCH``), or that is not a readable chunk at all.
"""

from __future__ import annotations

import json
import re
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import ChunkMismatchError, StoredObjectCorruptError
from ..media.ffmpeg import ffmpeg_exe

MANIFEST = "hf-chunk.json"
_TAG = re.compile(r"^hf:([0-9a-f]{64}):(\d+)/(\d+)$")


@dataclass(frozen=True)
class ChunkTag:
    plan_hash: str
    index: int
    count: int

    def comment(self) -> str:
        return f"hf:{self.plan_hash}:{self.index}/{self.count}"

    def manifest(self) -> bytes:
        """The png-sequence member's bytes (sorted keys: deterministic archives)."""
        return json.dumps(
            {"planHash": self.plan_hash, "index": self.index, "count": self.count},
            sort_keys=True,
        ).encode()

    def describe(self) -> str:
        return f"plan {self.plan_hash[:12]}… chunk {self.index} of {self.count}"


def parse_comment(value: str) -> ChunkTag | None:
    match = _TAG.match(value.strip())
    if match is None:
        return None
    return ChunkTag(match[1], int(match[2]), int(match[3]))


def read_tag(path: Path) -> ChunkTag | None:
    """The tag a chunk file carries, or None when it has none.

    Raises ``CORRUPT_STORED_OBJECT`` when the file is not a readable chunk (not a video
    ffmpeg can open; a png-sequence chunk that is not a tar.gz)."""
    if path.name.endswith(".tar.gz"):
        return _read_archive_tag(path)
    result = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-i", str(path),
         "-f", "ffmetadata", "-"],
        capture_output=True, text=True, check=False, errors="replace",
    )  # fmt: skip
    if result.returncode != 0:
        raise StoredObjectCorruptError(
            f"chunk {path.name} is not a readable video: {result.stderr.strip()[-300:]}"
        )
    for line in result.stdout.splitlines():
        key, _, value = line.partition("=")
        if key.lower() == "comment":
            return parse_comment(value)
    return None


def _read_archive_tag(path: Path) -> ChunkTag | None:
    try:
        with tarfile.open(path, "r:gz") as tar:
            member = tar.next()  # the manifest is written first: no need to scan frames
            if member is None or member.name != MANIFEST or not member.isfile():
                return None
            handle = tar.extractfile(member)
            data = json.loads(handle.read(4096)) if handle is not None else None
    except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
        raise StoredObjectCorruptError(
            f"chunk {path.name} is not a png-sequence chunk archive (.tar.gz): {exc}"
        ) from exc
    if not isinstance(data, dict):
        return None
    plan_hash, index, count = data.get("planHash"), data.get("index"), data.get("count")
    if not (isinstance(plan_hash, str) and isinstance(index, int) and isinstance(count, int)):
        return None
    return ChunkTag(plan_hash, index, count)


def check_tag(path: Path, expected: ChunkTag) -> None:
    """``path`` carries ``expected``, or CHUNK_MISMATCH naming the file and both tags."""
    found = read_tag(path)
    if found == expected:
        return
    what = found.describe() if found is not None else "no chunk tag (not made by renderChunk)"
    raise ChunkMismatchError(
        f"{path.name} at position {expected.index} should be {expected.describe()} "
        f"({expected.plan_hash}), but it is {what}"
        + (f" ({found.plan_hash})" if found is not None else "")
        + ": chunks out of order, from another render, or replaced"
    )
