"""Issue 21 item 2: ``lambda policies user|role|validate``.

The role policy is the template's (read from sam/template.yaml with CloudFormation's tags);
``validate`` finds exactly the actions a policy lacks, honours an explicit Deny and IAM's
wildcards, and exits with one ``error [POLICY_MISSING_ACTIONS]`` line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from hyperframes_lambda import cli
from hyperframes_lambda.aws import asl
from hyperframes_lambda.aws.policies import (
    ROLE,
    Names,
    load_policy,
    role_policy,
    user_policy,
    validate,
)
from hyperframes_lambda.errors import InvalidPolicyError

NAMES = Names(stack="hfprod", project="hfprod", region="eu-west-1", account="123456789012")


def template() -> dict[str, Any]:
    class Loader(yaml.SafeLoader):
        pass

    def tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
        return {suffix: getattr(loader, f"construct_{node.id}")(node)}

    Loader.add_multi_constructor("!", tag)
    return yaml.load(asl.TEMPLATE_PATH.read_text(), Loader=Loader)  # type: ignore[no-any-return]


def test_the_role_policy_is_the_templates() -> None:
    props = template()["Resources"]["RenderFunction"]["Properties"]
    statements = props["Policies"][0]["Statement"]
    in_template = {s["Sid"]: sorted(s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
                   for s in statements}  # fmt: skip
    assert in_template == {s.sid: sorted(s.actions) for s in ROLE}
    resources = {s["Sid"]: len(s["Resource"]) if isinstance(s["Resource"], list) else 1
                 for s in statements}  # fmt: skip
    assert resources == {s.sid: len(s.resources) for s in ROLE}


def write(tmp_path: Path, document: Any) -> Path:
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(document))
    return path


def test_validate_finds_what_a_policy_lacks(tmp_path: Path) -> None:
    needed = user_policy(NAMES, render_only=True)
    own = load_policy(write(tmp_path, needed))
    assert validate(own, needed).missing == []
    admin = [{"Effect": "Allow", "Action": "*", "Resource": "*"}]
    assert validate(admin, needed).missing == []
    # One action short, and one denied: exactly those two are named.
    short = json.loads(json.dumps(needed))
    for statement in short["Statement"]:
        statement["Action"] = [a for a in statement["Action"] if a != "states:StopExecution"]
    short["Statement"].append(
        {"Effect": "Deny", "Action": "s3:Delete*", "Resource": "arn:aws:s3:::hfprod-*"}
    )
    result = validate(load_policy(write(tmp_path, short)), needed)
    assert sorted({a for a, _ in result.missing}) == ["s3:DeleteObject", "states:StopExecution"]
    # Wildcards in actions (IAM's, case-insensitive) and NotAction.
    broad = [{"Effect": "Allow", "Action": ["S3:*", "states:*", "lambda:Get*",
              "lambda:InvokeFunction", "cloudformation:Describe*"], "Resource": "*"}]  # fmt: skip
    assert validate(broad, needed).missing == []
    not_action = [{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}]
    assert validate(not_action, needed).missing == []
    # A statement scoped to another stack's bucket does not cover ours.
    other = [{"Effect": "Allow", "Action": "*", "Resource": "arn:aws:s3:::other-*"}]
    assert ("s3:ListBucket", "arn:aws:s3:::hfprod-renderbucket-*") in validate(
        other, needed
    ).missing


def test_the_deploy_policy_covers_the_transform_and_the_stacks_roles() -> None:
    document = user_policy(NAMES)
    resources = json.dumps(document)
    assert "arn:aws:cloudformation:eu-west-1:aws:transform/Serverless-2016-10-31" in resources
    assert "arn:aws:iam::123456789012:role/hfprod-*" in resources
    actions = {a for s in document["Statement"] for a in s["Action"]}
    assert {"iam:PassRole", "cloudformation:CreateChangeSet", "lambda:CreateFunction",
            "states:CreateStateMachine", "s3:PutLifecycleConfiguration"} <= actions  # fmt: skip
    assert not any(a.endswith(":*") or a == "*" for a in actions)


def test_cli_policies_and_validate_exit_codes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = ["--stack", "hfprod", "--region", "eu-west-1", "--account", "123456789012"]
    assert cli.main(["lambda", "policies", "user", *target]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == user_policy(NAMES)
    assert cli.main(["lambda", "policies", "role", *target]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["Statement"][0]["Sid"] == "RenderBucketObjects"
    assert "AWSLambdaBasicExecutionRole" in captured.err
    path = write(tmp_path, printed)
    assert cli.main(["lambda", "policies", "validate", str(path), *target]) == 0
    assert "allows every needed action" in capsys.readouterr().out
    printed["Statement"] = [s for s in printed["Statement"] if s["Sid"] != "Alarms"]
    write(tmp_path, printed)
    assert cli.main(["lambda", "policies", "validate", str(path), "--json", *target]) == 1
    captured = capsys.readouterr()
    assert {m["action"] for m in json.loads(captured.out)["missing"]} == {
        "cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms", "cloudwatch:DescribeAlarms",
        "cloudwatch:TagResource", "cloudwatch:UntagResource", "cloudwatch:ListTagsForResource",
    }  # fmt: skip
    [line] = [x for x in captured.err.splitlines() if x.startswith("error [")]
    assert line.startswith("error [POLICY_MISSING_ACTIONS]: ") and "6 needed action(s)" in line
    # Render-only: a render policy is enough.
    assert cli.main(["lambda", "policies", "validate", str(path), "--render-only", *target]) == 0
    capsys.readouterr()
    path.write_text("{not json")
    assert cli.main(["lambda", "policies", "validate", str(path), *target]) == 1
    assert "error [INVALID_POLICY]" in capsys.readouterr().err
    with pytest.raises(InvalidPolicyError, match="no Statement list"):
        load_policy(write(tmp_path, {"Version": "2012-10-17"}))


def test_allowed_output_buckets_are_the_templates_conditional_policy() -> None:
    """The template grants the AllowedOutputBuckets exactly what
    ``output_bucket_statements`` says (and only when some are listed); ``lambda policies
    role --output-bucket`` prints them scoped to each bucket."""
    from hyperframes_lambda.aws.policies import output_bucket_statements, role_policy

    props = template()["Resources"]["RenderFunction"]["Properties"]
    conditional = [p["If"] for p in props["Policies"] if isinstance(p, dict) and "If" in p]
    assert [c[0] for c in conditional] == ["HasAllowedOutputBuckets"]
    statements = conditional[0][1]["Statement"]
    in_template = {s["Sid"]: sorted(s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
                   for s in statements}  # fmt: skip
    assert in_template == {s.sid: sorted(s.actions) for s in output_bucket_statements(["b"])}
    assert output_bucket_statements([]) == ()
    document = role_policy(Names(output_buckets=("media-a", "media-b")))
    by_sid = {s["Sid"]: s for s in document["Statement"]}
    assert by_sid["AllowedOutputBucketObjects"]["Resource"] == [
        "arn:aws:s3:::media-a/*", "arn:aws:s3:::media-b/*",
    ]  # fmt: skip
    assert by_sid["AllowedOutputBucketList"]["Resource"] == [
        "arn:aws:s3:::media-a", "arn:aws:s3:::media-b",
    ]  # fmt: skip
    assert "s3:DeleteObject" not in json.dumps(document)
    assert "AllowedOutputBuckets" in template()["Parameters"]
    subs = template()["Resources"]["RenderStateMachine"]["Properties"]["DefinitionSubstitutions"]
    assert subs["AllowedOutputBuckets"] == {"Ref": "AllowedOutputBuckets"}


def test_the_printed_policies_fit_iams_size_quotas() -> None:
    """IAM counts a policy's characters without whitespace: a managed policy takes 6,144,
    a user's inline policies 2,048 in all, a role's 10,240 (docs/aws.md says to create the
    user policy as a managed one). Checked with the longest names the template allows."""
    longest = Names(stack="s" * 31, project="p" * 31, region="ap-southeast-2",
                    account="123456789012")  # fmt: skip

    def size(document: dict[str, Any]) -> int:
        return len(json.dumps(document, separators=(",", ":")))

    assert 2048 < size(user_policy(longest)) <= 6144  # too big inline, fits managed
    assert size(user_policy(longest, render_only=True)) <= 2048
    assert size(role_policy(longest)) <= 10240
