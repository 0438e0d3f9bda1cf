"""scripts/smoke.sh and scripts/eval.sh with ``aws`` and ``sam`` replaced on PATH by fakes
(tests/fake_aws.py) that record every call and keep a fake account that behaves like the
real CLIs where the scripts depend on it (BucketNotEmpty, retained buckets after a
rollback, samconfig.toml beside the template, --resolve-s3 with --s3-bucket refused). The
gate can fail, a failed or missing render fails it, and every way out of a run (a stub
failing midway, a rollback, SIGINT, a second SIGINT, TERM, a leak) runs the teardown,
whose result in the fake account is asserted. Nothing outside the run's own tagged stack
and buckets is ever touched. The fixtures' outputs are generated clips; one slow test
runs ``eval.sh --local-only`` for real."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from .compare_clips import ffmpeg, moving_frames, noised, render_like, write_frames

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / "scripts"
TESTS = Path(__file__).resolve().parent
SUITE = ROOT.parent / "shared" / "conformance"


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("clips")
    clean = render_like(root / "clean.mp4")
    # The same pictures, losslessly re-encoded with frames 30+ shown 0.2 s late: a concat
    # that broke the timestamps at a join (PSNR by index sees identical frames).
    late = root / "late.mp4"
    ffmpeg("-i", str(clean), "-vf", "setpts='if(gte(N,30),PTS+0.2/TB,PTS)'",
           "-fps_mode", "passthrough", "-c:v", "libx264", "-qp", "0", "-pix_fmt", "yuv420p",
           "-c:a", "copy", str(late))  # fmt: skip
    # The same video, the soundtrack cut after 1 s of 2 (both copied, not re-encoded).
    short = root / "short-audio.mp4"
    ffmpeg("-i", str(clean), "-t", "1", "-i", str(clean), "-map", "0:v", "-map", "1:a",
           "-c", "copy", str(short))  # fmt: skip
    # Lossless: 40 frames identical to the baseline, every third one noised to ~35 dB
    # (above the 30 dB floor, far below the 40 dB bar once identical frames do not count).
    frames = moving_frames(60)
    bad = frames.copy()
    rng = np.random.default_rng(3)
    for i in range(1, 60, 3):
        noise = rng.integers(-10, 11, bad[i].shape)
        bad[i] = np.clip(bad[i].astype(int) + noise, 0, 255).astype(np.uint8)
    return {
        "clean": clean,
        "noised": noised(clean, root / "noised.mp4"),
        "late": late,
        "short-audio": short,
        "lossless": write_frames(frames, root / "lossless.mkv"),
        "mostly-identical": write_frames(bad, root / "mostly-identical.mkv"),
    }


class FakeAws:
    """A directory with fake aws/sam launchers, their call log, state and scenario."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.bin = root / "bin"
        self.bin.mkdir(parents=True)
        for tool in ("aws", "sam"):
            launcher = self.bin / tool
            launcher.write_text(
                f"#!{sys.executable}\nimport sys\nsys.path.insert(0, {str(TESTS)!r})\n"
                f"import fake_aws\nsys.exit(fake_aws.main({tool!r}, sys.argv[1:]))\n"
            )
            launcher.chmod(0o755)

    def scenario(self, **values: Any) -> None:
        (self.root / "scenario.json").write_text(json.dumps(values))

    def state(self) -> dict[str, Any]:
        return json.loads((self.root / "state.json").read_text())

    def changes(self) -> list[list[str]]:
        """Calls that change the account (anything but reads and --version)."""
        reads = ("describe-", "list-", "get-", "head-bucket", "--version")
        return [c for c in self.calls()
                if not any(any(w.startswith(r) or w == r for r in reads) for w in c)
                and "get-caller-identity" not in c]  # fmt: skip

    def calls(self) -> list[list[str]]:
        path = self.root / "calls.jsonl"
        if not path.is_file():
            return []
        return [[c["tool"], *c["argv"]] for c in map(json.loads, path.read_text().splitlines())]

    def called(self, *words: str) -> list[list[str]]:
        """Calls whose arguments contain every one of ``words``."""
        return [c for c in self.calls() if all(w in c for w in words)]

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(
            PATH=f"{self.bin}{os.pathsep}{env['PATH']}",
            FAKE_AWS_DIR=str(self.root),
            HF_POLL_SECONDS="0",
            HF_PYTHON=sys.executable,
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_REGION="us-east-1",
        )
        return env


@pytest.fixture
def fake(tmp_path: Path) -> FakeAws:
    return FakeAws(tmp_path / "fake-aws")


def run(script: str, fake: FakeAws, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPTS / script), *args], env=fake.env(), capture_output=True, text=True,
        timeout=600, check=False,
    )  # fmt: skip


def smoke(
    fake: FakeAws, tmp_path: Path, baseline: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    return run(
        "smoke.sh", fake, "--skip-build", "--baseline", str(baseline), "--chunk-counts", "2",
        "--stack-name", "hfsmoke-test", "--artifacts", str(tmp_path / "art"), *args,
    )  # fmt: skip


def assert_torn_down(fake: FakeAws, stack: str = "hfsmoke-test") -> None:
    """Emptied and removed both buckets, deleted the stack (sam with the script's own
    config, telemetry off), then checked all of it; the fake account is empty again."""
    render_bucket = f"{stack}-renderbucket-abc123"
    deploy_bucket = f"{stack}-deploy-123456789012"
    assert fake.called("s3", "rm", f"s3://{render_bucket}", "--recursive")
    assert fake.called("s3", "rb", f"s3://{render_bucket}")
    (delete,) = fake.called("sam", "delete", "--stack-name", stack, "--no-prompts")
    assert Path(delete[delete.index("--config-file") + 1]).is_absolute()
    assert fake.called("s3", "rb", f"s3://{deploy_bucket}")
    calls = fake.calls()
    delete_at = calls.index(delete)
    assert any("describe-stacks" in c for c in calls[delete_at:])  # checked after the delete
    assert sum("head-bucket" in c for c in calls[delete_at:]) == 2
    state = fake.state()
    assert not [s for s in state["stacks"] if s["status"] != "DELETE_COMPLETE"]
    assert set(state["buckets"]) == set(json.loads(
        (fake.root / "scenario.json").read_text()).get("buckets", {}))  # fmt: skip
    for line in (fake.root / "calls.jsonl").read_text().splitlines():
        call = json.loads(line)
        if call["tool"] == "sam":
            assert call["env"].get("SAM_CLI_TELEMETRY") == "0"


def results(tmp_path: Path) -> dict[str, Any]:
    return json.loads((tmp_path / "art" / "results.json").read_text())


# ---- static checks ----------------------------------------------------------------------


def test_every_script_is_shellcheck_clean() -> None:
    shellcheck = shutil.which("shellcheck")
    assert shellcheck, "shellcheck is not installed (Makefile APT_PACKAGES installs it)"
    scripts = sorted(SCRIPTS.glob("*.sh"))
    assert {p.name for p in scripts} >= {"smoke.sh", "eval.sh", "lib.sh"}
    result = subprocess.run(
        [shellcheck, "-x", "--severity=style", *map(str, scripts)], cwd=ROOT,
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize("script", ["smoke.sh", "eval.sh"])
def test_help_documents_exit_codes_cost_and_defaults(script: str, fake: FakeAws) -> None:
    result = run(script, fake, "--help")
    assert result.returncode == 0
    text = result.stdout
    for needed in ("exit codes:", "0 ", "130", "GB-second", "state transitions", "PUTs",
                   "--reserved-concurrency", "default: -1 = unreserved", "--keep-stack",
                   "hyperframes-lambda-run", "SAM CLI 1.100.0+", "aws cli 2.10.0+",
                   "SAM_CLI_TELEMETRY=0", "$0.000018"):  # fmt: skip
        assert needed in text, needed
    assert "(default: 40)" in text and "(default: 30)" in text  # the PSNR bars
    assert fake.calls() == []  # --help touches nothing


@pytest.mark.parametrize(
    ("script", "args", "message"),
    [
        ("smoke.sh", ["--chunk-counts", "two"], "--chunk-counts"),
        ("eval.sh", ["--iterations", "0"], "--iterations must be a whole number"),
        ("smoke.sh", ["--psnr-threshold", "nan"], "--psnr-threshold must be a finite number"),
        ("eval.sh", ["--min-psnr-threshold", "inf"], "--min-psnr-threshold must be a finite"),
        ("eval.sh", ["--audio-threshold", "loud"], "--audio-threshold must be a finite"),
        ("smoke.sh", ["--memory-mb", "512"], "--memory-mb must be a whole number from 2048"),
        ("smoke.sh", ["--reserved-concurrency", "-2"], "--reserved-concurrency"),
        ("eval.sh", ["--map-max-concurrency", "10001"], "--map-max-concurrency"),
        ("smoke.sh", ["--timeout-minutes", "0"], "--timeout-minutes"),
        ("eval.sh", ["--chunks", "08"], "--chunks"),
        # Another stack's name: the README's production example, or a name without the
        # script's prefix, is refused before anything runs.
        ("smoke.sh", ["--stack-name", "hyperframes"], "must start with 'hfsmoke-'"),
        ("eval.sh", ["--stack-name", "hfsmoke-x"], "must start with 'hfeval-'"),
    ],
)
def test_bad_argument_exits_2_before_anything_starts(
    script: str, args: list[str], message: str, fake: FakeAws, tmp_path: Path
) -> None:
    result = run(script, fake, *args, "--artifacts", str(tmp_path / "art"))
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert fake.calls() == []
    assert not (tmp_path / "art").exists()  # nothing started


def test_reused_artifacts_directory_is_refused(fake: FakeAws, tmp_path: Path) -> None:
    (tmp_path / "art").mkdir()
    (tmp_path / "art" / "output.mp4").write_text("an earlier run's")
    result = run("smoke.sh", fake, "--artifacts", str(tmp_path / "art"))
    assert result.returncode == 2
    assert "already exists and is not empty" in result.stderr
    assert fake.calls() == []


@pytest.mark.parametrize(
    ("scenario", "message"),
    [
        ({"stacks": {"hfsmoke-test": {}}}, "a stack named hfsmoke-test already exists"),
        ({"buckets": {"hfsmoke-test-deploy-123456789012": {}}}, "already exists: not this run's"),
        ({"aws_version": "aws-cli/2.1.0 Python/3.9 Linux exe/x86_64"}, "aws cli 2.1.0 is too old"),
        ({"aws_version": "aws-cli/1.18.0 Python/3.9"}, "aws cli 1.18.0 is too old"),
        ({"sam_version": "SAM CLI, version 1.53.0"}, "SAM CLI 1.53.0 is too old"),
    ],
)
def test_preflight_refuses_before_any_aws_change(
    scenario: dict[str, Any], message: str, fake: FakeAws, tmp_path: Path,
    clips: dict[str, Path],
) -> None:  # fmt: skip
    fake.scenario(output_file=str(clips["clean"]), **scenario)
    result = smoke(fake, tmp_path, clips["clean"])
    assert result.returncode == 3, result.stderr
    assert message in result.stderr
    assert fake.calls() and fake.changes() == []
    if (fake.root / "state.json").exists():  # what was there is still there, untouched
        state = fake.state()
        assert [s["name"] for s in state["stacks"]] == list(scenario.get("stacks", {}))
        assert set(state["buckets"]) == set(scenario.get("buckets", {}))


# ---- smoke.sh ---------------------------------------------------------------------------


def test_smoke_passes_and_tears_down(fake: FakeAws, tmp_path: Path, clips: dict[str, Path]) -> None:
    fake.scenario(output_file=str(clips["clean"]))
    result = smoke(fake, tmp_path, clips["clean"], "--reserved-concurrency", "3",
                   "--chunk-counts", "2,3")  # fmt: skip
    assert result.returncode == 0, result.stderr
    (deploy,) = fake.called("sam", "deploy")
    assert "ReservedConcurrency=3" in deploy and "ProjectName=hfsmoke-test" in deploy
    starts = fake.called("stepfunctions", "start-execution")
    assert len(starts) == 2
    inputs = [json.loads(c[c.index("--input") + 1]) for c in starts]
    # 60 frames in 2 and 3 chunks: chunkSize 30 and 20, PascalCase execution input.
    assert [i["Config"]["chunkSize"] for i in inputs] == [30, 20]
    assert all(i["OutputS3Uri"].startswith("s3://hfsmoke-test-renderbucket-abc123/outputs/")
               for i in inputs)  # fmt: skip
    assert_torn_down(fake)
    doc = results(tmp_path)
    assert doc["gate"]["passed"] is True
    n2 = next(s for s in doc["summary"] if s["side"] == "lambda-N2")
    assert n2["psnr_mean_db"] == "inf" and n2["psnr_min_db"] == "inf" and n2["seams"] == []
    assert n2["audio"] == "OK"
    run2 = next(r for r in doc["runs"] if r["side"] == "lambda-N2")
    # Plan 1.9 s + assemble 0.9 s + two 2.9 s chunks (the handler's DurationMs) at 10 GB;
    # 13 states entered in the parent + one per chunk's child execution.
    cost = run2["cost"]
    lines = {line["item"]: line for line in cost["lines"]}
    assert cost["invocations"] == 4 and cost["billedMs"] == 8600
    assert lines["Lambda duration"]["quantity"] == pytest.approx(86.0)
    assert lines["Step Functions transitions"]["quantity"] == 15
    assert lines["ephemeral storage > 512 MB"]["quantity"] == pytest.approx(8.6 * 9.5)
    assert run2["seconds"] == 12.5  # the execution's start -> stop
    assert run2["timing"]["ok"] is True and run2["psnr"]["identical_frames"] == 60
    # 60 frames in chunks of 20: 3 chunks planned, shown as planned.
    run3 = next(r for r in doc["runs"] if r["side"] == "lambda-N3")
    assert run3["chunks"] == 3 and run3["chunks_requested"] == 3
    assert "3 chunks planned (3 requested)" in result.stdout
    # The deploy: this run's tag on the stack, which CloudFormation gives to its bucket.
    tag = deploy[deploy.index("--tags") + 1]
    assert tag.startswith("hyperframes-lambda-run=") and len(tag) > len("hyperframes-lambda-run=")
    assert "per run" in result.stdout and "gate: PASS" in result.stdout


def test_smoke_psnr_below_threshold_fails_the_gate(
    fake: FakeAws, tmp_path: Path, clips: dict[str, Path]
) -> None:
    fake.scenario(output_file=str(clips["noised"]))
    result = smoke(fake, tmp_path, clips["clean"])
    assert result.returncode == 1, result.stderr
    failures = results(tmp_path)["gate"]["failures"]
    assert any("mean PSNR" in f and "below 40" in f for f in failures), failures
    assert_torn_down(fake)


def test_smoke_failed_execution_fails_the_gate(
    fake: FakeAws, tmp_path: Path, clips: dict[str, Path]
) -> None:
    fake.scenario(output_file=str(clips["clean"]), execution_status="FAILED")
    result = smoke(fake, tmp_path, clips["clean"])
    assert result.returncode == 1
    failures = results(tmp_path)["gate"]["failures"]
    assert any("execution FAILED: RENDER_TIMEOUT" in f for f in failures), failures
    assert not fake.called("s3", "cp", "s3://hfsmoke-test-renderbucket-abc123/outputs/")
    assert_torn_down(fake)


def test_smoke_stub_failing_midway_still_tears_down(
    fake: FakeAws, tmp_path: Path, clips: dict[str, Path]
) -> None:
    fake.scenario(output_file=str(clips["clean"]), fail_on="s3 cp")  # the project upload
    result = smoke(fake, tmp_path, clips["clean"])
    assert result.returncode == 4, result.stderr
    assert "upload of" in result.stderr
    assert not fake.called("stepfunctions", "start-execution")
    assert_torn_down(fake)


def test_smoke_sigint_still_tears_down(
    fake: FakeAws, tmp_path: Path, clips: dict[str, Path]
) -> None:
    fake.scenario(output_file=str(clips["clean"]), hang_on="start-execution")
    process = subprocess.Popen(
        ["bash", str(SCRIPTS / "smoke.sh"), "--skip-build", "--baseline", str(clips["clean"]),
         "--stack-name", "hfsmoke-test", "--artifacts", str(tmp_path / "art")],
        env=fake.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        for _ in range(600):
            if fake.called("stepfunctions", "start-execution"):
                break
            time.sleep(0.1)
        else:
            pytest.fail("the run never started an execution")
        time.sleep(0.3)
        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C does: the whole foreground group
        _, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 130, stderr
    assert "interrupted by SIGINT" in stderr
    assert_torn_down(fake)
    # The execution that started (though the script never got its ARN) is stopped before
    # the stack goes.
    calls = fake.calls()
    (stop,) = fake.called("stepfunctions", "stop-execution")
    assert "arn:aws:states:us-east-1:123456789012:execution:sm:smoke-n2-hfsmoke-test" in stop
    assert calls.index(stop) < calls.index(fake.called("sam", "delete")[0])


def test_smoke_keep_stack_skips_the_teardown(
    fake: FakeAws, tmp_path: Path, clips: dict[str, Path]
) -> None:
    fake.scenario(output_file=str(clips["clean"]))
    result = smoke(fake, tmp_path, clips["clean"], "--keep-stack")
    assert result.returncode == 0, result.stderr
    assert fake.called("sam", "deploy")
    assert not fake.called("sam", "delete")
    assert not fake.called("rb") and not fake.called("rm")
    assert "--keep-stack: stack hfsmoke-test kept" in result.stderr


def test_smoke_leak_exits_5(fake: FakeAws, tmp_path: Path, clips: dict[str, Path]) -> None:
    fake.scenario(output_file=str(clips["clean"]), delete_fails=True)
    result = smoke(fake, tmp_path, clips["clean"])
    assert result.returncode == 5
    assert "LEAK: stack hfsmoke-test still exists" in result.stderr
    assert "LEAK: log group(s)" in result.stderr


def test_smoke_rollback_after_the_bucket_was_created_leaves_nothing(
    fake: FakeAws, tmp_path: Path, clips: dict[str, Path]
) -> None:
    """The stack rolled back (no outputs), its retained bucket stays: found from the
    stack's resources, emptied and removed."""
    fake.scenario(output_file=str(clips["clean"]), deploy_rolls_back=True)
    result = smoke(fake, tmp_path, clips["clean"])
    assert result.returncode == 4, result.stderr
    assert "sam deploy failed" in result.stderr
    assert fake.called("cloudformation", "list-stack-resources")
    assert "LEAK" not in result.stderr and "teardown complete" in result.stderr
    assert_torn_down(fake)


def test_smoke_bucket_not_empty_is_a_leak_exit_5(
    fake: FakeAws, tmp_path: Path, clips: dict[str, Path]
) -> None:
    fake.scenario(output_file=str(clips["clean"]), refill_bucket=True)
    result = smoke(fake, tmp_path, clips["clean"])
    assert result.returncode == 5, result.stderr
    assert "BucketNotEmpty" in result.stderr
    assert "LEAK: bucket s3://hfsmoke-test-renderbucket-abc123 still exists" in result.stderr
    assert len(fake.called("s3", "rb", "s3://hfsmoke-test-renderbucket-abc123")) == 2  # retried


def test_smoke_ignores_the_users_samconfig(
    fake: FakeAws, tmp_path: Path, clips: dict[str, Path]
) -> None:
    """What 'sam deploy --guided --resolve-s3' writes beside the template: real sam would
    merge it (resolve_s3 with --s3-bucket: refused; another stack name). The scripts run
    sam with a config of their own."""
    root = tmp_path / "checkout"
    shutil.copytree(ROOT / "scripts", root / "scripts")
    shutil.copytree(ROOT / "sam", root / "sam")
    (root / "sam" / "samconfig.toml").write_text(
        'version = 0.1\n[default.deploy.parameters]\nstack_name = "hyperframes"\n'
        'resolve_s3 = true\ns3_prefix = "hyperframes"\n'
    )
    # The fake refuses what real sam refuses when it reads that file.
    direct = subprocess.run(
        [str(fake.bin / "sam"), "deploy", "--template-file", str(root / "sam" / "template.yaml"),
         "--s3-bucket", "b"], env=fake.env(), capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert (
        direct.returncode == 1 and "Cannot use both --resolve-s3 and --s3-bucket" in direct.stderr
    )
    fake.scenario(output_file=str(clips["clean"]))
    (fake.root / "calls.jsonl").unlink()
    result = subprocess.run(
        ["bash", str(root / "scripts" / "smoke.sh"), "--skip-build", "--baseline",
         str(clips["clean"]), "--fixture", str(ROOT / "examples" / "title-card"),
         "--chunk-counts", "2", "--stack-name", "hfsmoke-test",
         "--artifacts", str(tmp_path / "art")],
        env=fake.env(), capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert_torn_down(fake)


def _start_smoke(fake: FakeAws, tmp_path: Path, clips: dict[str, Path]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        ["bash", str(SCRIPTS / "smoke.sh"), "--skip-build", "--baseline", str(clips["clean"]),
         "--chunk-counts", "2", "--stack-name", "hfsmoke-test", "--artifacts",
         str(tmp_path / "art")],
        env=fake.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip


def _wait_for(condition: Any, what: str) -> None:
    for _ in range(1200):
        if condition():
            return
        time.sleep(0.1)
    pytest.fail(f"never happened: {what}")


def test_smoke_second_sigint_during_teardown_is_ignored(
    fake: FakeAws, tmp_path: Path, clips: dict[str, Path]
) -> None:
    fake.scenario(output_file=str(clips["clean"]), hang_on="start-execution",
                  block_on="s3 rm")  # fmt: skip
    process = _start_smoke(fake, tmp_path, clips)
    try:
        _wait_for(lambda: fake.called("stepfunctions", "start-execution"), "start-execution")
        os.killpg(process.pid, signal.SIGINT)
        _wait_for((fake.root / "blocked").exists, "the teardown emptying a bucket")
        os.killpg(process.pid, signal.SIGINT)  # Ctrl-C again, mid-teardown
        os.killpg(process.pid, signal.SIGTERM)  # and a TERM to everyone
        (fake.root / "release").write_text("")
        _, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 130, stderr
    assert "SIGINT during the teardown: ignored" in stderr  # the TERM did not stop it either
    assert "teardown complete" in stderr and "LEAK" not in stderr
    assert_torn_down(fake)


def test_smoke_term_to_the_script_alone_tears_down_at_once(
    fake: FakeAws, tmp_path: Path, clips: dict[str, Path]
) -> None:
    """TERM to the script's process only (not its group): the trap runs while the child
    (an AWS call that hangs for 10 minutes) is still running, stops it, and tears down."""
    fake.scenario(output_file=str(clips["clean"]), hang_on="start-execution")
    process = _start_smoke(fake, tmp_path, clips)
    try:
        _wait_for(lambda: fake.called("stepfunctions", "start-execution"), "start-execution")
        time.sleep(0.3)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=120)  # the hanging child would take 600 s
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 130, stderr
    assert "interrupted by SIGTERM" in stderr
    (stop,) = fake.called("stepfunctions", "stop-execution")
    assert "arn:aws:states:us-east-1:123456789012:execution:sm:smoke-n2-hfsmoke-test" in stop
    assert_torn_down(fake)


# ---- gates through smoke.sh: what a viewer would notice --------------------------------


@pytest.mark.parametrize(
    ("output", "baseline", "failure"),
    [
        ("late", "clean", "timing: "),
        ("short-audio", "clean", "audio duration-mismatch"),
        ("mostly-identical", "lossless", "pooled over the 20 frames that differ) below 40"),
    ],
)
def test_smoke_gate_fails_what_psnr_by_index_passed(
    output: str, baseline: str, failure: str, fake: FakeAws, tmp_path: Path,
    clips: dict[str, Path],
) -> None:  # fmt: skip
    fake.scenario(output_file=str(clips[output]))
    result = smoke(fake, tmp_path, clips[baseline])
    assert result.returncode == 1, result.stdout + result.stderr
    failures = results(tmp_path)["gate"]["failures"]
    assert any(failure in f for f in failures), failures
    run2 = next(r for r in results(tmp_path)["runs"] if r["side"] == "lambda-N2")
    if output == "mostly-identical":
        assert run2["psnr"]["identical_frames"] == 40
        assert not any("frame" in f and "below 30" in f for f in failures)  # above the floor
    if output == "late":
        assert run2["timing"]["first_bad_frame"] == 30
        assert run2["psnr"]["mean_db"] == "inf"  # every picture is right; their times are not
    assert_torn_down(fake)


# ---- eval.sh (AWS mode) ----------------------------------------------------------------


def eval_fixtures(tmp_path: Path, clips: dict[str, Path], names: list[str]) -> tuple[Path, Path]:
    fixtures, baselines = tmp_path / "fixtures", tmp_path / "baselines"
    baselines.mkdir()
    for name in names:
        (fixtures / name).mkdir(parents=True)
        (fixtures / name / "index.html").write_text("<html></html>")
        shutil.copyfile(clips["clean"], baselines / f"{name}.mp4")
    return fixtures, baselines


def run_eval(
    fake: FakeAws, tmp_path: Path, fixtures: Path, baselines: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    return run(
        "eval.sh", fake, "--skip-build", "--no-examples", "--fixtures-dir", str(fixtures),
        "--baseline-dir", str(baselines), "--stack-name", "hfeval-test", "--chunks", "2",
        "--artifacts", str(tmp_path / "art"), *args,
    )  # fmt: skip


def test_eval_passes_with_medians_csv_and_table(
    fake: FakeAws, tmp_path: Path, clips: dict[str, Path]
) -> None:
    fixtures, baselines = eval_fixtures(tmp_path, clips, ["alpha", "beta"])
    fake.scenario(output_file=str(clips["clean"]))
    result = run_eval(fake, tmp_path, fixtures, baselines, "--iterations", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(fake.called("stepfunctions", "start-execution")) == 4  # 2 fixtures x 2
    assert len(fake.called("s3", "cp")) == 2 + 4  # one upload per fixture, 4 downloads
    lines = (tmp_path / "art" / "results.csv").read_text().splitlines()
    assert lines[0].startswith("fixture,side,ok/runs") and len(lines) == 1 + 4
    assert "alpha,lambda-N2,2/2,60,2,12.50" in lines[2]
    assert "gate: PASS" in result.stdout and "cost alpha lambda-N2: $" in result.stdout
    # First and later iterations apart (Lambda's first run is cold, later ones may not be).
    summary = next(x for x in results(tmp_path)["summary"] if x["side"] == "lambda-N2")
    assert summary["first_seconds"] == 12.5 and summary["later_median_seconds"] == 12.5
    assert "1st s,later s" in lines[0]
    assert_torn_down(fake, "hfeval-test")


def test_eval_missing_fixture_fails_the_gate(
    fake: FakeAws, tmp_path: Path, clips: dict[str, Path]
) -> None:
    fixtures, baselines = eval_fixtures(tmp_path, clips, ["alpha"])
    fake.scenario(output_file=str(clips["clean"]))
    result = run_eval(fake, tmp_path, fixtures, baselines, "--fixtures", "alpha,ghost",
                      "--iterations", "1")  # fmt: skip
    assert result.returncode == 1
    failures = results(tmp_path)["gate"]["failures"]
    assert any(f.startswith("ghost local") and "no such fixture directory" in f for f in failures)
    assert any(f.startswith("ghost lambda-N2") and "never ran" in f for f in failures)
    assert not any(f.startswith("alpha") for f in failures), failures
    assert_torn_down(fake, "hfeval-test")


def test_eval_psnr_below_threshold_fails_the_gate(
    fake: FakeAws, tmp_path: Path, clips: dict[str, Path]
) -> None:
    fixtures, baselines = eval_fixtures(tmp_path, clips, ["alpha"])
    fake.scenario(output_file=str(clips["noised"]))
    result = run_eval(fake, tmp_path, fixtures, baselines, "--iterations", "1")
    assert result.returncode == 1
    assert "mean PSNR" in result.stdout and "gate: FAIL" in result.stdout
    assert_torn_down(fake, "hfeval-test")


# ---- eval.sh --local-only, for real ------------------------------------------------------


@pytest.mark.slow
@pytest.mark.skipif(
    not (SUITE / "fixtures").is_dir(), reason="no conformance suite beside the repo"
)
def test_eval_local_only_runs_without_aws(fake: FakeAws, tmp_path: Path) -> None:
    result = run(
        "eval.sh", fake, "--local-only", "--iterations", "1", "--no-examples",
        "--fixtures-dir", str(SUITE / "fixtures"), "--fixtures", "plan-v2-partial-color",
        "--chunks", "3", "--artifacts", str(tmp_path / "art"),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert fake.calls() == []  # no AWS at all
    (one, chunked) = results(tmp_path)["summary"]
    assert one["side"] == "one-chunk" and chunked["side"] == "local-p2"
    assert chunked["chunks"] == 3 and chunked["frames"] == 30 and chunked["seams"] == []
    assert chunked["median_seconds"] > 0 and one["median_seconds"] > 0
    assert "plan-v2-partial-color  local-p2" in result.stdout


def _default(name: str) -> str:
    """A default as the scripts assign it (``NAME=value`` at the start of a line)."""
    for source in ("smoke.sh", "eval.sh", "lib.sh"):
        for line in (SCRIPTS / source).read_text().splitlines():
            if line.startswith(f"{name}="):
                return line.split("=", 1)[1]
    raise AssertionError(f"no default for {name}")


def test_docs_help_and_scripts_agree_on_defaults(fake: FakeAws) -> None:
    readme = " ".join((ROOT / "docs" / "scripts.md").read_text().split())
    smoke_help = run("smoke.sh", fake, "--help").stdout
    eval_help = run("eval.sh", fake, "--help").stdout
    psnr, low = _default("PSNR_THRESHOLD"), _default("MIN_PSNR_THRESHOLD")
    assert f"mean ≥ {psnr} dB, every frame ≥ {low} dB" in readme
    for text in (smoke_help, eval_help):
        assert f"(default: {psnr})" in text and f"(default: {low})" in text
        assert f"(default: {_default('RESERVED_CONCURRENCY')} = unreserved" in text
        assert f"(default: {_default('MAP_MAX_CONCURRENCY')}" in text
    assert f"`--reserved-concurrency N` (default {_default('RESERVED_CONCURRENCY')}," in readme
    assert f"`--map-max-concurrency` (default {_default('MAP_MAX_CONCURRENCY')})" in readme
    assert f"`--chunk-counts` (default {_default('CHUNK_COUNTS')})" in readme
    assert f"(default: {_default('CHUNK_COUNTS')})" in smoke_help
    assert f"`--iterations N` (default {_default('ITERATIONS')}, medians)" in readme
    assert f"(`--chunks`, default {_default('CHUNKS')})" in readme
    assert f"(default: {_default('ITERATIONS')})" in eval_help


def test_no_pipe_into_a_loop_in_any_script() -> None:
    """A ``cmd | while`` body runs in a subshell: a flag set there never reaches the gate
    (the reference eval's bug). The scripts keep loops in the main shell."""
    for script in SCRIPTS.glob("*.sh"):
        for number, line in enumerate(script.read_text().splitlines(), 1):
            code = line.split("#", 1)[0]
            assert not any(f"| {kw}" in code or f"|{kw}" in code for kw in ("while", "for")), (
                f"{script.name}:{number}: {line}"
            )
