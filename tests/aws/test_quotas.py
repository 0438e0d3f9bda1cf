"""Issue 21 item 3: the concurrency preflight (``lambda quotas``, the warning before render).

The arithmetic is checked on numbers; the reading against moto: the function's reserved
concurrency (moto's Lambda) and the Map's MaxConcurrency from the deployed definition (the
real ASL with the template's substitution). moto has no ``GetAccountSettings``: the
account's numbers are then unknown and the output says why, as it would for an identity
without that permission.
"""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest

from hyperframes_lambda import cli
from hyperframes_lambda.aws import asl
from hyperframes_lambda.aws.quotas import Quotas, map_concurrency_of

from ..local.test_state_machine import (  # noqa: F401 - the machine fixture is used by name
    MAP_MAX_CONCURRENCY,
    REGION,
    StateMachine,
    machine,
)
from .test_aws_client import stack_for


def test_a_new_accounts_ten_against_the_default_map_of_64() -> None:
    quotas = Quotas(account_total=10, account_unreserved=10, reserved=None, map_concurrency=64)
    plan = quotas.plan_for(40)
    assert (plan.at_once, plan.waves, plan.throttled) == (10, 4, 30)
    warning = quotas.warning()
    assert warning is not None
    assert "MapMaxConcurrency" in warning and "MapMaxConcurrency=10" in warning
    assert "10 concurrent executions your account has unreserved" in warning


def test_a_reserved_concurrency_is_the_limit_and_a_fitting_map_warns_nothing() -> None:
    reserved = Quotas(1000, 900, reserved=5, map_concurrency=64)
    assert reserved.lambda_limit == 5 and reserved.plan_for(12).at_once == 5
    assert "ReservedConcurrency 5" in (reserved.warning() or "")
    fits = Quotas(1000, 1000, reserved=None, map_concurrency=64)
    assert fits.warning() is None and fits.plan_for(200).waves == 4
    assert Quotas(None, None, None, 64).warning() is None  # unknown: nothing claimed
    unlimited = Quotas(1000, 1000, None, map_concurrency=0)
    assert "starts every chunk at once (MapMaxConcurrency 0" in (unlimited.warning() or "")


def test_the_maps_concurrency_is_read_from_the_deployed_definition() -> None:
    text = asl.substitute(
        asl.ASL_PATH.read_text(),
        {"RenderFunctionArn": "arn:aws:lambda:us-east-1:1:function:f",
         "RenderBucketName": "b", "MapMaxConcurrency": "7", "AllowedOutputBuckets": ""},
    )  # fmt: skip
    assert map_concurrency_of(text) == 7
    assert map_concurrency_of("not json") is None


def test_quotas_and_the_render_preflight_against_moto(
    machine: StateMachine,  # noqa: F811 - test_state_machine's fixture
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    sm = machine
    stack = stack_for(sm, f"hf-quotas-{sm.bucket[-6:]}")
    target = ["--stack", stack, "--region", REGION, "--endpoint-url", sm.endpoint]
    function = next(
        f["FunctionArn"]
        for f in boto3.client(
            "lambda", endpoint_url=sm.endpoint, region_name=REGION
        ).list_functions()["Functions"]
        if f["FunctionName"].endswith(sm.arn.rsplit("-", 1)[1])
    )
    boto3.client("lambda", endpoint_url=sm.endpoint, region_name=REGION).put_function_concurrency(
        FunctionName=function, ReservedConcurrentExecutions=2
    )
    assert cli.main(["lambda", "quotas", "--chunks", "12", "--json", *target]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert (shown["reservedConcurrency"], shown["mapMaxConcurrency"]) == (2, MAP_MAX_CONCURRENCY)
    assert shown["render"] == {"chunks": 12, "atOnce": 2, "waves": 6, "throttled": 10}
    assert shown["accountConcurrency"] is None
    assert any("GetAccountSettings" in note for note in shown["notes"])
    assert "ReservedConcurrency 2" in shown["warning"]
    assert cli.main(["lambda", "quotas", *target]) == 0
    assert "function reserved       2" in capsys.readouterr().out

    # render warns before it starts (here the project is missing: nothing starts after).
    missing = tmp_path / "no-project"
    assert cli.main(["lambda", "render", str(missing), *target]) == 1
    err = capsys.readouterr().err
    assert "warning: the Map starts up to" in err and "MapMaxConcurrency=2" in err
    assert err.index("warning:") < err.index("error [")
    assert cli.main(["lambda", "render", str(missing), "--no-preflight", *target]) == 1
    assert "warning:" not in capsys.readouterr().err
