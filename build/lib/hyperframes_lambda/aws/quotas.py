"""Concurrency preflight: how many chunks can run at once on this account and stack.

A render fans out up to the Map's ``MaxConcurrency`` (the template's ``MapMaxConcurrency``,
64 by default) chunk invocations at once. Lambda runs at most the function's reserved
concurrency, or else what the account has unreserved (1000 on an established account, 10
on a new one); the rest are throttled, and Step Functions retries them with backoff (up to
8 times, 10 s doubling to 300 s), so the render stretches, or fails with
``Lambda.TooManyRequestsException`` when a chunk is throttled 9 times in a row. This module
reads the numbers (``lambda quotas``) and says before a render starts when the Map would
ask for more than the account can run, and which parameter to change.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

_STRING_TO_JSON = re.compile(r"States\.StringToJson\('(\d+)'\)")


@dataclass(frozen=True)
class ChunkPlan:
    chunks: int
    at_once: int
    waves: int
    throttled: int  # chunks the Map starts beyond what Lambda can run at once

    def as_dict(self) -> dict[str, int]:
        return {
            "chunks": self.chunks, "atOnce": self.at_once, "waves": self.waves,
            "throttled": self.throttled,
        }  # fmt: skip


@dataclass(frozen=True)
class Quotas:
    account_total: int | None  # the account's concurrent executions quota (region)
    account_unreserved: int | None
    reserved: int | None  # the function's reserved concurrency; None: unreserved
    map_concurrency: int | None  # the Map's MaxConcurrency; 0 = no limit; None: unknown
    notes: tuple[str, ...] = ()

    @property
    def lambda_limit(self) -> int | None:
        """At most this many invocations of the function run at once."""
        return self.reserved if self.reserved is not None else self.account_unreserved

    def map_limit(self, chunks: int) -> int:
        if self.map_concurrency in (None, 0):
            return chunks
        return min(chunks, int(self.map_concurrency))

    def plan_for(self, chunks: int) -> ChunkPlan:
        """What a render of ``chunks`` chunks does: how many run at once, in how many
        waves, and how many the Map starts beyond Lambda's limit (throttled, retried)."""
        started = self.map_limit(chunks)
        limit = self.lambda_limit
        at_once = started if limit is None else max(1, min(started, limit))
        return ChunkPlan(chunks, at_once, math.ceil(chunks / at_once), max(0, started - at_once))

    def warning(self) -> str | None:
        """Said before a render starts when the Map may start more chunks than Lambda runs."""
        limit = self.lambda_limit
        if limit is None or self.map_concurrency is None:
            return None
        wanted = (
            "every chunk at once (MapMaxConcurrency 0: no limit)"
            if self.map_concurrency == 0
            else f"up to {self.map_concurrency} chunks at once (MapMaxConcurrency)"
        )
        if self.map_concurrency != 0 and self.map_concurrency <= limit:
            return None
        if self.reserved is not None:
            cap = f"the function's ReservedConcurrency {self.reserved}"
        else:
            cap = f"the {limit} concurrent executions your account has unreserved"
        return (
            f"the Map starts {wanted} but Lambda runs "
            f"at most {cap}: chunks beyond that are throttled and retried with backoff, "
            f"stretching the render (and failing it after 9 throttles in a row). Redeploy "
            f"with MapMaxConcurrency={limit}, or raise the limit (ReservedConcurrency, or a "
            "Lambda concurrency quota increase)"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "accountConcurrency": self.account_total,
            "accountUnreserved": self.account_unreserved,
            "reservedConcurrency": self.reserved,
            "mapMaxConcurrency": self.map_concurrency,
            "lambdaLimit": self.lambda_limit,
            "warning": self.warning(),
            "notes": list(self.notes),
        }

    def table(self, chunks: int | None = None) -> str:
        def shown(value: int | None, none: str = "unknown") -> str:
            return none if value is None else str(value)

        lines = [
            f"account concurrency     {shown(self.account_total)} "
            f"(unreserved {shown(self.account_unreserved)})",
            f"function reserved       {shown(self.reserved, 'none (uses the unreserved pool)')}",
            f"Map MaxConcurrency      "
            f"{'no limit' if self.map_concurrency == 0 else shown(self.map_concurrency)}",
        ]
        if chunks is not None:
            plan = self.plan_for(chunks)
            lines.append(
                f"a render of {chunks} chunks: {plan.at_once} at once, {plan.waves} wave(s)"
                + (f", {plan.throttled} throttled and retried" if plan.throttled else "")
            )
        warning = self.warning()
        if warning:
            lines.append(f"warning: {warning}")
        lines.extend(f"note: {note}" for note in self.notes)
        return "\n".join(lines)


def map_concurrency_of(definition: str) -> int | None:
    """The Map's MaxConcurrency in a state machine definition: ours passes the template's
    parameter through ``States.StringToJson('N')``; a literal ``MaxConcurrency`` counts too."""
    try:
        states = json.loads(definition).get("States", {})
    except (ValueError, AttributeError):
        return None
    for state in states.values():
        params = state.get("Parameters") or {}
        match = _STRING_TO_JSON.fullmatch(str(params.get("MaxConcurrency.$", "")))
        if match:
            return int(match.group(1))
        if state.get("Type") == "Map" and isinstance(state.get("MaxConcurrency"), int):
            return int(state["MaxConcurrency"])
    return None


def read_quotas(lambda_client: Any, sfn: Any, function_arn: str, state_machine_arn: str) -> Quotas:
    """Read the numbers; a call this identity may not make (or an emulator lacks) leaves
    its number unknown, with a note, instead of failing."""
    from botocore.exceptions import BotoCoreError, ClientError

    notes: list[str] = []
    total = unreserved = reserved = map_concurrency = None
    try:
        limits = lambda_client.get_account_settings().get("AccountLimit", {})
        total = limits.get("ConcurrentExecutions")
        unreserved = limits.get("UnreservedConcurrentExecutions")
    except (ClientError, BotoCoreError) as exc:
        notes.append(f"account concurrency unknown (lambda:GetAccountSettings: {_why(exc)})")
    try:
        reply = lambda_client.get_function_concurrency(FunctionName=function_arn)
        value = reply.get("ReservedConcurrentExecutions")
        reserved = None if value is None else int(value)
    except (ClientError, BotoCoreError) as exc:
        notes.append(f"reserved concurrency unknown (lambda:GetFunctionConcurrency: {_why(exc)})")
    try:
        definition = sfn.describe_state_machine(stateMachineArn=state_machine_arn)["definition"]
        map_concurrency = map_concurrency_of(definition)
    except (ClientError, BotoCoreError) as exc:
        notes.append(f"Map concurrency unknown (states:DescribeStateMachine: {_why(exc)})")
    return Quotas(total, unreserved, reserved, map_concurrency, tuple(notes))


def _why(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code") or exc)[:120]
    return type(exc).__name__
