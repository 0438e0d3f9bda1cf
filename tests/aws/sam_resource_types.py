"""Prints the resource types of sam/template.yaml after the Serverless transform, as JSON.

Run by ``.venv-sam/bin/python`` (aws-sam-translator lives there, beside the SAM CLI), from
the repository root, with a region set; it reads nothing from AWS (the two managed policies
the template names are given their ARNs here).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

sys.path.insert(0, "src")
from hyperframes_lambda.aws.deploy import packaged_template


class ManagedPolicies:
    def load(self) -> dict[str, str]:
        return {
            "AWSLambdaBasicExecutionRole":
                "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
            "AWSXrayWriteOnlyAccess": "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
        }  # fmt: skip


definitions = {
    f"statemachine/{path.name}": f"s3://b/{path.name}"
    for path in Path("sam/statemachine").glob("*.asl.json")
}
text = packaged_template(Path("sam/template.yaml").read_text(), "s3://b/f.zip", definitions)
resources = transform(yaml_parse(text), {}, ManagedPolicies())["Resources"]
print(json.dumps(sorted({r["Type"] for r in resources.values()})))
