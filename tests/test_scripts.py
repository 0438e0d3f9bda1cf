"""scripts/smoke.sh and scripts/eval.sh with ``aws`` and ``sam`` replaced on PATH by fakes
(tests/fake_aws.py) that record every call and answer with canned JSON: the gate can fail,
a failed or missing render fails it, and every way out of a run (a stub failing midway,
SIGINT, a leak) runs the teardown, whose calls are asserted. The fixtures' outputs are
generated clips; one slow test runs ``eval.sh --local-only`` for real."""

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

import pytest

from .compare_clips import noised, render_like

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / "scripts"
TESTS = Path(__file__).resolve().parent
SUITE = ROOT.parent / "shared" / "conformance"


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("clips")
    clean = render_like(root / "clean.mp4")
    return {"clean": clean, "noised": noised(clean, root / "noised.mp4")}


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


def assert_torn_down(fake: FakeAws) -> None:
    """Emptied and removed both buckets, deleted the stack, then checked all of it."""
    render_bucket = "hfsmoke-test-renderbucket-abc123"
    deploy_bucket = "hfsmoke-test-deploy-123456789012"
    assert fake.called("s3", "rm", f"s3://{render_bucket}", "--recursive")
    assert fake.called("s3", "rb", f"s3://{render_bucket}")
    assert fake.called("sam", "delete", "--stack-name", "hfsmoke-test", "--no-prompts")
    assert fake.called("s3", "rb", f"s3://{deploy_bucket}")
    calls = fake.calls()
    delete_at = calls.index(fake.called("sam", "delete")[0])
    verify = [c for c in calls[delete_at:] if "describe-stacks" in c or "head-bucket" in c]
    assert len(verify) == 3, verify  # the stack and both buckets are checked after the delete


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
                   "--reserved-concurrency", "default: -1 = unreserved", "--keep-stack"):  # fmt: skip
        assert needed in text, needed
    assert "(default: 40)" in text and "(default: 30)" in text  # the PSNR bars
    assert fake.calls() == []  # --help touches nothing


def test_bad_argument_exits_2_without_aws_calls(fake: FakeAws) -> None:
    assert run("smoke.sh", fake, "--chunk-counts", "two").returncode == 2
    assert run("eval.sh", fake, "--iterations", "0").returncode == 2
    assert fake.calls() == []


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
    # Plan 2 s + assemble 1 s + two 3 s chunks = 9 s at 10 GB; 4 + 2 states entered.
    assert run2["cost"]["lambda_seconds"] == 9.0
    assert run2["cost"]["gb_seconds"] == 90.0
    assert run2["cost"]["invocations"] == 4 and run2["cost"]["state_transitions"] == 6
    assert run2["seconds"] == 12.5  # the execution's start -> stop
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
        "--baseline-dir", str(baselines), "--stack-name", "hfsmoke-test", "--chunks", "2",
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
    assert_torn_down(fake)


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
    assert_torn_down(fake)


def test_eval_psnr_below_threshold_fails_the_gate(
    fake: FakeAws, tmp_path: Path, clips: dict[str, Path]
) -> None:
    fixtures, baselines = eval_fixtures(tmp_path, clips, ["alpha"])
    fake.scenario(output_file=str(clips["noised"]))
    result = run_eval(fake, tmp_path, fixtures, baselines, "--iterations", "1")
    assert result.returncode == 1
    assert "mean PSNR" in result.stdout and "gate: FAIL" in result.stdout
    assert_torn_down(fake)


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
