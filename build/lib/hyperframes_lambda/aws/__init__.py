"""AWS: the state machine definition shipped in ``sam/`` and the client for a deployed stack.

``from hyperframes_lambda.aws import RenderClient`` renders on a stack from Python
(upload, start, progress, wait, download, cost, cancel, resume); ``estimate`` prices a
render before it runs; ``verify_webhook`` checks a completion webhook's signature. The
``hyperframes-lambda lambda …`` commands (:mod:`hyperframes_lambda.lambda_cli`, a way in at
the package top) are the same from a shell.

May import: ``net/`` and the ground modules; the Lambda handler imports its webhook step,
the ``lambda`` commands the client, ``local/emulate`` the state machine definition and the
stack's outputs.
"""

from __future__ import annotations

from .client import CancelResult, RenderClient, RenderJob, RenderSummary
from .cost import CostReport, Estimate, cost_from_records, estimate
from .history import ExecutionRecord, parse_history
from .prices import PRICES, Prices, prices_for
from .progress import Progress
from .stack import AwsTarget, Stack, find_stack
from .upload import ProjectArchive, UploadResult, project_archive
from .webhook import SIGNATURE_HEADER, sign, verify_webhook

__all__ = [
    "PRICES",
    "SIGNATURE_HEADER",
    "AwsTarget",
    "CancelResult",
    "CostReport",
    "Estimate",
    "ExecutionRecord",
    "Prices",
    "Progress",
    "ProjectArchive",
    "RenderClient",
    "RenderJob",
    "RenderSummary",
    "Stack",
    "UploadResult",
    "cost_from_records",
    "estimate",
    "find_stack",
    "parse_history",
    "prices_for",
    "project_archive",
    "sign",
    "verify_webhook",
]
