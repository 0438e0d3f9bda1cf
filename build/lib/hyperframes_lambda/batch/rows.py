"""A rows file: one JSON object a line, one video a row.

::

    {"id": "alice", "variables": {"name": "Alice"}, "outputKey": "videos/alice.mp4"}
    {"id": "bob", "variables": {"name": "Bob"}, "config": {"fps": 24}}

Fields (all optional): ``id`` (letters, digits, ``._-``, at most 64; default the row's
number, 1-based), ``variables`` (an object, merged over the batch's), ``outputKey`` (a key
in the stack's bucket) or ``output`` (an ``s3://`` URI on AWS, a path locally), ``config``
(Config keys overriding the batch's Config for this row, e.g. ``fps`` or
``strictVariables``). Anything else is refused with the line and the field named, so a typo
never silently renders the default. The file is read once on the client; rows then live
in S3 (the server-side batch reads each row by its byte range), never in an execution
input.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import BatchRowsInvalidError

ROW_FIELDS = ("id", "variables", "outputKey", "output", "config")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
# Step Functions refuses an execution input above 256 KiB; what a row's render input may be.
EXECUTION_INPUT_LIMIT = 256 * 1024


@dataclass(frozen=True)
class Row:
    """One row: ``index`` is its 0-based position, ``line`` its line in the file."""

    index: int
    line: int
    id: str
    variables: dict[str, Any] | None = None
    output_key: str | None = None
    output: str | None = None
    config: dict[str, Any] = field(default_factory=dict)

    def effective_config(self, base: Mapping[str, Any]) -> dict[str, Any]:
        """The batch's Config with this row's ``config`` over it and its ``variables``
        merged over the batch's variables (a row's key wins)."""
        merged = {**base, **self.config}
        if self.variables is not None:
            merged["variables"] = {**dict(base.get("variables") or {}), **self.variables}
        return merged

    def as_json(self) -> dict[str, Any]:
        """The row as stored in S3 (canonical: the id resolved, absent fields left out)."""
        data: dict[str, Any] = {"index": self.index, "id": self.id}
        if self.variables is not None:
            data["variables"] = self.variables
        if self.output_key is not None:
            data["outputKey"] = self.output_key
        if self.output is not None:
            data["output"] = self.output
        if self.config:
            data["config"] = self.config
        return data

    def line_bytes(self) -> bytes:
        return json.dumps(self.as_json(), sort_keys=True, separators=(",", ":")).encode() + b"\n"

    def s3_output(self, bucket: str, batch_id: str, suffix: str) -> str:
        """Where the row's video goes on AWS: ``output``, ``outputKey`` in the stack's
        bucket, or ``outputs/<batch>/<id><suffix>``."""
        if self.output is not None:
            return self.output
        if self.output_key is not None:
            return f"s3://{bucket}/{self.output_key.lstrip('/')}"
        return f"s3://{bucket}/outputs/{batch_id}/{self.id}{suffix}"

    def local_output(self, template: str) -> Path:
        """Where the row's video goes locally: ``output`` (a path), else ``template`` with
        ``{id}`` and ``{index}`` (1-based) filled in."""
        if self.output is not None and not self.output.startswith("s3://"):
            return Path(self.output)
        return Path(template.replace("{id}", self.id).replace("{index}", str(self.index + 1)))


def row_from_json(data: Any, index: int, line: int, where: str = "rows") -> Row:
    """Validate one decoded row; every problem names ``where:line`` and the field."""
    at = f"{where}:{line}"
    if not isinstance(data, dict):
        raise BatchRowsInvalidError(f"{at}: a row must be a JSON object, got {type(data).__name__}")
    unknown = sorted(set(data) - set(ROW_FIELDS))
    if unknown:
        raise BatchRowsInvalidError(
            f"{at}: unknown field(s) {', '.join(unknown)} (a row has {', '.join(ROW_FIELDS)})"
        )
    raw_id = data.get("id", index + 1)
    if isinstance(raw_id, bool) or not isinstance(raw_id, str | int):
        raise BatchRowsInvalidError(f"{at}: id must be a string or a number, got {raw_id!r}")
    row_id = str(raw_id)
    if not _ID.match(row_id):
        raise BatchRowsInvalidError(
            f"{at}: id {row_id!r} must be 1-64 letters, digits, '.', '_' or '-' (it names "
            "the output and the row's execution)"
        )
    for name in ("variables", "config"):
        if name in data and not isinstance(data[name], dict):
            raise BatchRowsInvalidError(f"{at}: {name} must be a JSON object")
    for name in ("outputKey", "output"):
        if name in data and (not isinstance(data[name], str) or not data[name].strip()):
            raise BatchRowsInvalidError(f"{at}: {name} must be a non-empty string")
    if "outputKey" in data and "output" in data:
        raise BatchRowsInvalidError(f"{at}: give outputKey or output, not both")
    output = data.get("output")
    if isinstance(output, str) and output.startswith("s3://"):
        bucket, _, key = output.removeprefix("s3://").partition("/")
        if not bucket or not key or key.endswith("/"):
            raise BatchRowsInvalidError(f"{at}: output {output!r} must be s3://BUCKET/KEY")
    return Row(
        index=index, line=line, id=row_id, variables=data.get("variables"),
        output_key=data.get("outputKey"), output=output, config=dict(data.get("config") or {}),
    )  # fmt: skip


def parse_rows(lines: Iterable[bytes | str], where: str = "rows") -> list[Row]:
    """Every row of a JSONL text (blank lines skipped); ids must be unique."""
    rows: list[Row] = []
    seen: dict[str, int] = {}
    for number, raw in enumerate(lines, start=1):
        text = raw.decode() if isinstance(raw, bytes) else raw
        if not text.strip():
            continue
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BatchRowsInvalidError(f"{where}:{number}: not valid JSON ({exc.msg})") from None
        row = row_from_json(data, len(rows), number, where)
        if row.id in seen:
            raise BatchRowsInvalidError(
                f"{where}:{number}: id {row.id!r} is already the id of line {seen[row.id]}"
            )
        seen[row.id] = number
        rows.append(row)
    if not rows:
        raise BatchRowsInvalidError(f"{where}: no rows (one JSON object a line)")
    return rows


def read_rows(path: Path) -> list[Row]:
    """The rows of a JSONL file; a missing file is named."""
    try:
        with path.open("rb") as handle:
            return parse_rows(handle, str(path))
    except OSError as exc:
        raise BatchRowsInvalidError(f"{path}: cannot read the rows file ({exc.strerror})") from None


def output_collisions(outputs: Mapping[str, str]) -> list[str]:
    """One line per output written by more than one row (``outputs``: row id -> output)."""
    by_output: dict[str, list[str]] = {}
    for row_id, output in outputs.items():
        by_output.setdefault(output, []).append(row_id)
    return [
        f"rows {', '.join(ids)} all write {output}"
        for output, ids in by_output.items()
        if len(ids) > 1
    ]


def row_hash(project_uri: str, config: Mapping[str, Any], output: str) -> str:
    """What makes a row's video what it is: the project, its effective Config, where it
    goes. ``--resume`` skips a row whose output carries the same hash."""
    canonical = json.dumps(
        {"project": project_uri, "config": config, "output": output},
        sort_keys=True, separators=(",", ":"),
    )  # fmt: skip
    return hashlib.sha256(canonical.encode()).hexdigest()
