"""``sam/template.yaml`` passes cfn-lint and ``sam validate --lint``, offline.

cfn-lint is a dev dependency of this venv. aws-sam-cli pins its own boto3 and pydantic
versions (older than ours), so ``make test`` installs it into ``.venv-sam`` and this test
runs it from there (``HYPERFRAMES_SAM`` names another ``sam`` binary). Both run with a
region, dummy credentials and every AWS endpoint pointed at a closed port on 127.0.0.1, so
nothing can reach AWS.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .conftest import ROOT

TEMPLATE = ROOT / "sam" / "template.yaml"
CFN_LINT = Path(sys.executable).with_name("cfn-lint")
SAM = Path(os.environ.get("HYPERFRAMES_SAM", ROOT / ".venv-sam" / "bin" / "sam"))

OFFLINE_ENV = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_ENDPOINT_URL": "http://127.0.0.1:9",  # discard port: any AWS call fails fast
    "SAM_CLI_TELEMETRY": "0",
}


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(OFFLINE_ENV)
    return subprocess.run(
        [*map(str, args)],
        capture_output=True, text=True, timeout=300, check=False, env=env, cwd=TEMPLATE.parent,
    )  # fmt: skip


def test_cfn_lint() -> None:
    result = run(CFN_LINT, TEMPLATE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_sam_validate_lint() -> None:
    assert SAM.is_file(), f"{SAM} is missing: run `make sam-cli` (make test does)"
    result = run(SAM, "validate", "--lint", "--template", TEMPLATE)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is a valid SAM Template" in result.stdout + result.stderr


def test_cfn_lint_catches_a_broken_template(tmp_path: Path) -> None:
    broken = tmp_path / "template.yaml"
    text = TEMPLATE.read_text().replace("!Ref ChunkInvocationAlarmThreshold", "!Ref NoSuchParam")
    broken.write_text(text)
    result = run(CFN_LINT, broken)
    assert result.returncode != 0 and "NoSuchParam" in result.stdout
