"""Storage that does not only grow: delete a render's intermediates (``lambda rm``) and list
or delete uploaded projects (``lambda projects ls|rm``).

A render's intermediates are found by their tag (:mod:`.lifecycle`), never by prefix alone:
the prefix is whatever the execution input said (HyperFrames' client writes its output
inside it), so only objects under it tagged as intermediates are deleted, and the output
only when asked. What is deleted is listed again afterwards, so the command can say that
nothing it meant to delete is left.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..errors import ProjectNotFoundError
from .lifecycle import INTERMEDIATE, LIFECYCLE_TAG

PROJECT_PREFIXES = ("projects/", "sites/")  # ours (content-addressed), HyperFrames' client's


@dataclass
class Removal:
    render_id: str
    deleted: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # under the prefix, not intermediates
    left: list[str] = field(default_factory=list)  # meant to be deleted, still there

    def as_dict(self) -> dict[str, Any]:
        return {
            "renderId": self.render_id, "deleted": self.deleted, "kept": self.kept,
            "left": self.left,
        }  # fmt: skip

    def text(self) -> str:
        lines = [f"{self.render_id}: deleted {len(self.deleted)} object(s)"]
        lines += [f"  kept {key} (not an intermediate)" for key in self.kept]
        lines += [f"  still there: {key}" for key in self.left]
        return "\n".join(lines)


def _split(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def _keys(s3: Any, bucket: str, prefix: str) -> list[str]:
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys.extend(str(item["Key"]) for item in page.get("Contents", []))
    return keys


def _is_intermediate(s3: Any, bucket: str, key: str) -> bool:
    tags = s3.get_object_tagging(Bucket=bucket, Key=key).get("TagSet", [])
    return any(t.get("Key") == LIFECYCLE_TAG and t.get("Value") == INTERMEDIATE for t in tags)


def _delete(s3: Any, bucket: str, keys: list[str]) -> None:
    for start in range(0, len(keys), 1000):
        batch = [{"Key": key} for key in keys[start : start + 1000]]
        if batch:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})


def remove_render(
    s3: Any, render_id: str, execution_input: dict[str, Any], *, output: bool
) -> Removal:
    """Delete the render's intermediates (tagged, under its ``PlanOutputS3Prefix``) and,
    with ``output``, its ``OutputS3Uri``; then check what is left."""
    removal = Removal(render_id)
    prefix_bucket, prefix = _split(str(execution_input.get("PlanOutputS3Prefix", "")))
    out_bucket, out_key = _split(str(execution_input.get("OutputS3Uri", "")))
    doomed: list[str] = []
    if prefix_bucket and prefix:
        for key in _keys(s3, prefix_bucket, prefix.rstrip("/") + "/"):
            if (prefix_bucket, key) == (out_bucket, out_key):
                continue
            (doomed if _is_intermediate(s3, prefix_bucket, key) else removal.kept).append(key)
        _delete(s3, prefix_bucket, doomed)
        remaining = set(_keys(s3, prefix_bucket, prefix.rstrip("/") + "/"))
        removal.left = [key for key in doomed if key in remaining]
    removal.deleted = [key for key in doomed if key not in removal.left]
    if output and out_bucket and out_key and out_key in _keys(s3, out_bucket, out_key):
        _delete(s3, out_bucket, [out_key])
        if out_key in _keys(s3, out_bucket, out_key):
            removal.left.append(out_key)
        else:
            removal.deleted.append(out_key)
    return removal


@dataclass(frozen=True)
class Project:
    key: str
    size: int
    modified: datetime

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "size": self.size, "modified": self.modified.isoformat()}


def list_projects(s3: Any, bucket: str) -> list[Project]:
    found = []
    for prefix in PROJECT_PREFIXES:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                modified = item["LastModified"]
                if isinstance(modified, datetime):
                    modified = modified.astimezone(UTC)
                found.append(Project(str(item["Key"]), int(item["Size"]), modified))
    return sorted(found, key=lambda p: p.modified, reverse=True)


def project_key(name: str, bucket: str) -> str:
    """A project as its key: ``projects/<sha256>.tar.gz``, that key, or its s3:// URI."""
    key = name.removeprefix(f"s3://{bucket}/")
    if not key.startswith(PROJECT_PREFIXES):
        key = f"projects/{key}" if key.endswith(".tar.gz") else f"projects/{key}.tar.gz"
    return key


def remove_projects(s3: Any, bucket: str, names: list[str]) -> list[str]:
    """Delete uploaded projects by name; every one must exist (else nothing is deleted)."""
    keys = [project_key(name, bucket) for name in names]
    missing = [key for key in keys if key not in _keys(s3, bucket, key)]
    if missing:
        raise ProjectNotFoundError(
            f"no uploaded project {', '.join(missing)} in s3://{bucket} (lambda projects ls)"
        )
    _delete(s3, bucket, keys)
    return keys
