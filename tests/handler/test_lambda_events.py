"""The event contract: exact PascalCase fields, envelopes, errors that name the field."""

from __future__ import annotations

import json
from fractions import Fraction
from typing import Any

import pytest

from hyperframes_lambda.errors import InvalidEventError
from hyperframes_lambda.handler.events import (
    AssembleEvent,
    PlanEvent,
    RenderChunkEvent,
    parse_event,
)

from ..conftest import ROOT

SAM_EVENTS = ROOT / "sam" / "events"
SHA = "a" * 64


def test_sample_events_parse() -> None:
    plan = parse_event(json.loads((SAM_EVENTS / "plan.json").read_text()))
    assert isinstance(plan, PlanEvent) and plan.config.chunk_size == 60
    assert isinstance(
        parse_event(json.loads((SAM_EVENTS / "render-chunk.json").read_text())), RenderChunkEvent
    )
    assert isinstance(
        parse_event(json.loads((SAM_EVENTS / "assemble.json").read_text())), AssembleEvent
    )


def test_the_documented_execution_input_works_unchanged() -> None:
    """seeds/001 (the reference's README): the execution input plus the Plan state's Action."""
    execution_input = json.loads((SAM_EVENTS / "execution-input.json").read_text())
    event = parse_event({"Action": "plan", **execution_input})
    assert isinstance(event, PlanEvent)
    assert (event.config.fps, event.config.chunk_size, event.config.max_parallel_chunks) == (
        30,
        240,
        8,
    )
    assert event.config.runtime_cap == "lambda"


@pytest.mark.parametrize(
    ("fps", "rate"), [(25, Fraction(25)), (12, Fraction(12)), ("30000/1001", Fraction(30000, 1001))]
)
def test_plan_event_config_takes_any_rate(fps: object, rate: Fraction) -> None:
    event = parse_event(
        {"Action": "plan", "ProjectS3Uri": "s3://bucket-a/p.tgz",
         "PlanOutputS3Prefix": "s3://bucket-a/x/", "Config": {"fps": fps}}
    )  # fmt: skip
    assert isinstance(event, PlanEvent) and event.config.fps == rate


@pytest.mark.parametrize(
    "wrap",
    [
        lambda e: {"Payload": e},
        lambda e: {"Input": {"Payload": e}},
        lambda e: {"Payload": {"Input": {"Payload": {"Input": e}}}},
    ],
)
def test_envelopes_are_unwrapped(wrap: Any) -> None:
    event = {
        "Action": "renderChunk",
        "PlanS3Uri": "s3://bucket-a/p/plan.tar.gz",
        "PlanHash": SHA,
        "ChunkIndex": 3,
        "ChunkOutputS3Prefix": "s3://bucket-a/p/chunks/",
        "Format": "webm",
    }
    parsed = parse_event(wrap(event))
    assert isinstance(parsed, RenderChunkEvent) and parsed.ChunkIndex == 3


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ([], "must be a JSON object"),
        ({}, "event.Action is missing"),
        ({"Action": "render"}, "event.Action: must be one of plan, renderChunk, assemble, still (got 'render')"),
        ({"Action": "plan", "PlanOutputS3Prefix": "s3://bucket-a/x/"}, "event.ProjectS3Uri: Field required"),
        ({"Action": "plan", "ProjectS3Uri": "https://x.test/p.tgz", "PlanOutputS3Prefix": "s3://bucket-a/x/"},
         "event.ProjectS3Uri: 'https://x.test/p.tgz' must be an s3://bucket/key"),
        ({"Action": "plan", "ProjectS3Uri": "s3://bucket-a/p.tgz", "PlanOutputS3Prefix": "s3://bucket-a/x/",
          "Config": {"fps": 0}}, "event.Config.fps: must be 1…240 frames per second"),
        ({"Action": "plan", "ProjectS3Uri": "s3://bucket-a/p.tgz", "PlanOutputS3Prefix": "s3://bucket-a/x/",
          "Config": {"fps": "29.97"}}, "event.Config.fps: must be a whole number or an exact rational"),
        ({"Action": "renderChunk", "PlanS3Uri": "s3://bucket-a/p", "PlanHash": "abc", "ChunkIndex": 0,
          "ChunkOutputS3Prefix": "s3://bucket-a/c/", "Format": "mp4"}, "event.PlanHash: must be a lowercase hex SHA-256"),
        ({"Action": "renderChunk", "PlanS3Uri": "s3://bucket-a/p", "PlanHash": SHA, "ChunkIndex": -1,
          "ChunkOutputS3Prefix": "s3://bucket-a/c/", "Format": "mp4"}, "event.ChunkIndex"),
        ({"Action": "assemble", "PlanS3Uri": "s3://bucket-a/p", "PlanHash": SHA, "ChunkS3Uris": [],
          "OutputS3Uri": "s3://bucket-a/o.mp4", "Format": "mp4"}, "event.ChunkS3Uris"),
        ({"Action": "assemble", "PlanS3Uri": "s3://bucket-a/p", "PlanHash": SHA, "ChunkS3Uris": ["s3://bucket-a/c"],
          "OutputS3Uri": "s3://bucket-a/o.avi", "Format": "avi"}, "event.Format"),
    ],
)  # fmt: skip
def test_malformed_events_name_the_field(event: Any, message: str) -> None:
    with pytest.raises(InvalidEventError) as caught:
        parse_event(event)
    assert message in str(caught.value)
    assert caught.value.code == "INVALID_EVENT"
