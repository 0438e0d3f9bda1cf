"""Issue 20's outputs on the Lambda side: the ``still`` action, GIF and thumbnails through
plan → chunks → assemble, audio-only through the state machine, and the client's
``lambda still`` (moto's S3, Lambda and Step Functions on 127.0.0.1; the real handler)."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

import boto3
import pytest

from hyperframes_lambda import cli, still
from hyperframes_lambda.handler.dispatch import thumbnail_uri_for
from hyperframes_lambda.media.probe import audio_sample_count, probe

from ..aws.test_aws_client import stack_for
from ..conftest import COMPOSITIONS, EXAMPLES
from ..local.test_state_machine import (  # noqa: F401 - the machine fixture is used by name
    REGION,
    StateMachine,
    machine,
    with_rie,
)
from ..media_fixtures import tone
from .test_lambda_handler import (  # noqa: F401 - fresh_container is autouse by name
    error_of,
    fresh_container,
    invoke,
    sample,
    upload_project,
)

KNOWN = COMPOSITIONS / "known-pixels"


def download(uri: str, to: Path, endpoint: str | None = None) -> Path:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    boto3.client("s3", endpoint_url=endpoint).download_file(bucket, key, str(to))
    return to


def keys(bucket: str, endpoint: str | None = None) -> list[str]:
    listed = boto3.client("s3", endpoint_url=endpoint).list_objects_v2(Bucket=bucket)
    return sorted(o["Key"] for o in listed.get("Contents", []))


def tone_project(root: Path) -> Path:
    """One second of a 440 Hz tone from 0.25 s, in a 1.5 s composition."""
    root.mkdir(parents=True)
    tone(root / "tone.wav", 440, 0.4, 2)
    (root / "index.html").write_text(
        '<!doctype html><html><body><div id="root" data-composition-id="t" data-width="64" '
        'data-height="36" data-duration="1.5"><audio src="tone.wav" data-start="0.25" '
        'data-duration="1"></audio></div></body></html>'
    )
    return root


def test_thumbnail_sits_beside_the_output() -> None:
    assert thumbnail_uri_for("s3://b/outputs/promo.mp4") == "s3://b/outputs/promo.png"
    assert thumbnail_uri_for("s3://b/outputs/seq.tar.gz") == "s3://b/outputs/seq.png"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"Frames": [], "Times": []}, "Frames or Times: name at least one frame"),
        ({"OutputS3Uri": "s3://{b}/outputs/p.gif"}, "a still is .png, .jpg or .webp"),
        ({"Quality": 0}, "event.Quality"),
        ({"Frames": [-1]}, "event.Frames.0"),
    ],
)
def test_a_bad_still_event_is_invalid_event(
    bucket: str, changes: dict[str, Any], message: str
) -> None:
    event = {"Action": "still", "ProjectS3Uri": f"s3://{bucket}/projects/p.tar.gz",
             "OutputS3Uri": f"s3://{bucket}/outputs/p.png", "Frames": [1], **changes}  # fmt: skip
    event = json.loads(json.dumps(event).replace("{b}", bucket))
    with pytest.raises(Exception) as caught:
        invoke(event)
    assert error_of(caught) == "INVALID_EVENT"
    assert message in str(caught.value)
    assert keys(bucket) == []


@pytest.mark.slow
def test_still_action_writes_the_captured_frames_and_no_plan(
    bucket: str,
    tmp_path: Path,
    fresh_container: Path,  # noqa: F811
) -> None:
    project = upload_project(KNOWN, bucket, "projects/kp.tar.gz", tmp_path)
    result = invoke({"Action": "still", "ProjectS3Uri": project, "Frames": [30], "Times": [0.5],
                     "OutputS3Uri": f"s3://{bucket}/outputs/poster.png"})  # fmt: skip
    stills = result["Stills"]
    assert [(s["Frame"], s["S3Uri"]) for s in stills] == [
        (30, f"s3://{bucket}/outputs/poster-000030.png"),
        (15, f"s3://{bucket}/outputs/poster-000015.png"),
    ]
    assert keys(bucket) == [
        "outputs/poster-000015.png", "outputs/poster-000030.png", "projects/kp.tar.gz",
    ], "no plan, no chunk: only the images"  # fmt: skip
    local = still(KNOWN, tmp_path / "local.png", frames=[30, 15])
    for remote, mine in zip(stills, local, strict=True):
        got = download(remote["S3Uri"], tmp_path / f"r{remote['Frame']}.png")
        assert got.read_bytes() == mine.path.read_bytes(), f"frame {remote['Frame']}"
        assert remote["Sha256"] == mine.sha256
    assert list(fresh_container.iterdir()) == []  # the invocation's files are gone
    with pytest.raises(Exception) as caught:
        invoke({"Action": "still", "ProjectS3Uri": project, "Frames": [60],
                "OutputS3Uri": f"s3://{bucket}/outputs/late.jpg"})  # fmt: skip
    assert error_of(caught) == "INVALID_CONFIG" and "frame 60 is not in the composition" in str(
        caught.value
    )


@pytest.mark.slow
def test_gif_with_thumbnail_through_the_three_actions(bucket: str, tmp_path: Path) -> None:
    project = upload_project(KNOWN, bucket, "projects/kp.tar.gz", tmp_path)
    planned = invoke({"Action": "plan", "ProjectS3Uri": project,
                      "PlanOutputS3Prefix": f"s3://{bucket}/renders/g/",
                      "Config": {"format": "gif", "maxParallelChunks": 2, "gifLoop": 1,
                                 "frameRange": [0, 29], "thumbnail": 1.0}})  # fmt: skip
    assert (planned["Format"], planned["ChunkCount"], planned["TotalFrames"]) == ("gif", 2, 30)
    chunks = [
        invoke({"Action": "renderChunk", "PlanS3Uri": planned["PlanS3Uri"],
                "PlanHash": planned["PlanHash"], "ChunkIndex": i, "Format": "gif",
                "ChunkOutputS3Prefix": f"s3://{bucket}/renders/g/chunks/"})
        for i in range(2)
    ]  # fmt: skip
    assembled = invoke({"Action": "assemble", "PlanS3Uri": planned["PlanS3Uri"],
                        "PlanHash": planned["PlanHash"], "Format": "gif",
                        "ChunkS3Uris": [c["ChunkS3Uri"] for c in chunks],
                        "ChunkSha256s": [c["Sha256"] for c in chunks],
                        "OutputS3Uri": f"s3://{bucket}/outputs/g.gif"})  # fmt: skip
    assert assembled["ThumbnailS3Uri"] == f"s3://{bucket}/outputs/g.png"
    gif = download(assembled["OutputS3Uri"], tmp_path / "g.gif")
    assert probe(gif).frame_count == 30 and gif.read_bytes()[:6] == b"GIF89a"
    thumb = download(assembled["ThumbnailS3Uri"], tmp_path / "g.png")
    reference = still(KNOWN, tmp_path / "ref.jpg", frames=[30], quality=100)[0]  # opaque
    from ..conftest import to_rgb

    assert (to_rgb(thumb.read_bytes()).astype(int) - to_rgb(reference.path.read_bytes())).std() < 3


@pytest.mark.slow
def test_audio_only_runs_plan_then_assemble_without_chunks(
    machine: StateMachine,  # noqa: F811
    tmp_path: Path,
) -> None:
    with_rie(machine)
    project = machine.upload(tone_project(tmp_path / "tone"), tmp_path)
    execution_input = machine.execution_input(project, {"format": "mp3", "audioBitrate": "96k"})
    execution_input["OutputS3Uri"] = execution_input["OutputS3Uri"].replace(".mp4", ".mp3")
    result = machine.run(execution_input)
    assert result["status"] == "SUCCEEDED", result
    output = json.loads(result["output"])
    assert output["ChunkCount"] == 0 and output["Format"] == "mp3"
    assert machine.route.actions() == ["plan", "assemble"]
    mp3 = download(output["OutputS3Uri"], tmp_path / "out.mp3", machine.endpoint)
    assert audio_sample_count(mp3) == 72000  # 1.5 s at 48 kHz, to the sample
    assert not probe(mp3).width


@pytest.mark.slow
def test_cli_lambda_still_returns_the_uri_and_a_working_signed_url(
    machine: StateMachine,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with_rie(machine)
    stack = stack_for(machine, f"hf-still-{machine.bucket[-6:]}")
    target = ["--stack", stack, "--region", REGION, "--endpoint-url", machine.endpoint]
    code = cli.main(["lambda", "still", str(KNOWN), "--frame", "30", "--presign",
                     "--name", "poster", "-o", str(tmp_path / "p.png"), *target])  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0, captured.err
    uri, url = captured.out.splitlines()[:2]
    assert uri.startswith(f"s3://{machine.bucket}/outputs/poster.png (frame 30, 320x180)")
    assert url.startswith(machine.endpoint) and "Signature" in url
    assert machine.route.actions() == ["still"]
    with urllib.request.urlopen(url) as response:  # loopback: moto's S3
        signed = response.read()
    reference = still(KNOWN, tmp_path / "ref.png", frames=[30])[0]
    assert signed == reference.path.read_bytes() == (tmp_path / "p.png").read_bytes()


@pytest.mark.slow
def test_the_sample_still_event_runs(bucket: str, tmp_path: Path) -> None:
    upload_project(EXAMPLES / "title-card", bucket, "projects/title-card.tar.gz", tmp_path)
    result = invoke(sample("still.json", bucket))
    (image,) = result["Stills"]
    assert (image["Frame"], image["Width"], image["Height"]) == (60, 640, 360)
    assert image["S3Uri"] == f"s3://{bucket}/outputs/sample-poster.png"
    png = download(image["S3Uri"], tmp_path / "poster.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
