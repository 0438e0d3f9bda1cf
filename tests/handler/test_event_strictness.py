"""Hostile event values (issue 23 item 5): integers are strict and bounded, object keys
with ``.``/``..``/``#``/``?`` segments are refused, and a message quotes at most a bounded
prefix of any value, so a 1 MB field never becomes a 2 MB error."""

from __future__ import annotations

from typing import Any

import pytest

from hyperframes_lambda.errors import (
    MAX_MESSAGE_CHARS,
    InvalidEventError,
    RenderError,
    StorageRequestRejectedError,
)
from hyperframes_lambda.handler.events import RenderChunkEvent, parse_event
from hyperframes_lambda.handler.storage import Storage

SHA = "a" * 64
MB = 1024 * 1024
CHUNK = {
    "Action": "renderChunk", "PlanS3Uri": "s3://bucket-a/r/plan.tar.gz", "PlanHash": SHA,
    "ChunkIndex": 3, "ChunkOutputS3Prefix": "s3://bucket-a/r/chunks/", "Format": "mp4",
}  # fmt: skip
STILL = {
    "Action": "still", "ProjectS3Uri": "s3://bucket-a/p.tar.gz",
    "OutputS3Uri": "s3://bucket-a/out/frame.png", "Frames": [0],
}  # fmt: skip
PLAN = {
    "Action": "plan", "ProjectS3Uri": "s3://bucket-a/p.tar.gz",
    "PlanOutputS3Prefix": "s3://bucket-a/r/",
}  # fmt: skip


def refused(event: dict[str, Any]) -> str:
    with pytest.raises(InvalidEventError) as caught:
        parse_event(event)
    return str(caught.value)


def test_a_plain_chunk_index_parses() -> None:
    event = parse_event(CHUNK)
    assert isinstance(event, RenderChunkEvent) and event.ChunkIndex == 3


@pytest.mark.parametrize("value", [True, False, "3", 3.0, 10**30, 256, -1, None])
def test_chunk_index_is_a_strict_bounded_integer(value: object) -> None:
    assert "event.ChunkIndex" in refused({**CHUNK, "ChunkIndex": value})


@pytest.mark.parametrize(
    ("field", "value"),
    [("Frames", [True]), ("Frames", ["3"]), ("Frames", [10**30]), ("Quality", "90"),
     ("Quality", True)],
)  # fmt: skip
def test_still_integers_are_strict(field: str, value: object) -> None:
    assert f"event.{field}" in refused({**STILL, field: value})


@pytest.mark.parametrize(
    ("field", "value"), [("width", "1920"), ("width", True), ("crf", "23"), ("chunkSize", 10.0)]
)
def test_config_integers_are_strict(field: str, value: object) -> None:
    assert f"event.Config.{field}" in refused({**PLAN, "Config": {field: value}})


@pytest.mark.parametrize(
    "key",
    ["r/../other/plan.tar.gz", "r/./plan.tar.gz", "../plan.tar.gz", "r/..", "r/plan#x.tar.gz",
     "r/#/plan.tar.gz", "r/plan.tar.gz?versionId=1", "r/a\x00b"],
)  # fmt: skip
def test_object_keys_with_dot_segments_or_uri_syntax_are_refused(key: str) -> None:
    uri = f"s3://bucket-a/{key}"
    message = refused({**CHUNK, "PlanS3Uri": uri})
    assert "event.PlanS3Uri" in message and "the object key" in message
    with pytest.raises(StorageRequestRejectedError, match="the object key"):
        Storage().head(uri)  # refused before any request, events or not


def test_keys_with_dots_inside_names_still_parse() -> None:
    event = parse_event({**CHUNK, "PlanS3Uri": "s3://bucket-a/r/..plan.v1.tar.gz"})
    assert isinstance(event, RenderChunkEvent)


@pytest.mark.parametrize(
    "event",
    [
        {**CHUNK, "PlanS3Uri": "x" * MB},
        {**CHUNK, "PlanS3Uri": "s3://bucket-a/" + "#" * MB},
        {**CHUNK, "Action": "y" * MB},
        {**CHUNK, "Format": "z" * MB},
        {**CHUNK, "ChunkIndex": "9" * MB},
        {**CHUNK, "PlanHash": "f" * MB},
        {**PLAN, "Config": {"k" * MB: 1}},
        {**PLAN, "Config": {"fps": "1/" + "0" * MB}},
        {**STILL, "Frames": ["x"] * 100_000},
        {**STILL, "OutputS3Uri": "s3://bucket-a/" + "o" * MB},
    ],
    ids=["uri", "key", "action", "format", "index", "hash", "config-key", "fps", "frames", "still"],
)
def test_a_huge_field_gives_a_bounded_message(event: dict[str, Any]) -> None:
    message = refused(event)
    assert len(message) < 2000, f"{len(message)} characters"


def test_every_error_message_is_capped() -> None:
    assert len(str(RenderError("m" * MB))) < MAX_MESSAGE_CHARS + 100
    assert "message cut" in str(RenderError("m" * MB))
