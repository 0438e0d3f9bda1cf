"""List prices the cost report and the estimate use, as data, with when they were read.

Prices change and differ per region: check https://aws.amazon.com/lambda/pricing/,
https://aws.amazon.com/step-functions/pricing/ and https://aws.amazon.com/s3/pricing/ for
yours, and add it to ``PRICES``. A region missing here falls back to ``default``
(us-east-1's prices) and the cost report says so. Lambda's first pricing tier (x86) is
used; free tiers are ignored.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

READ_ON = "2026-11-28"
SOURCE = "AWS public pricing pages (Lambda, Step Functions, S3), list prices, x86, first tier"


@dataclass(frozen=True)
class Prices:
    region: str
    lambda_gb_second: float  # x86 duration, per GB-second
    lambda_request: float  # per invocation
    ephemeral_gb_second: float  # /tmp beyond the free 512 MB, per GB-second
    sfn_transition: float  # STANDARD workflows, per state transition
    s3_put: float  # PUT, COPY, POST, LIST, per request
    s3_get: float  # GET, HEAD and the rest, per request
    read_on: str = READ_ON
    source: str = SOURCE


_US_EAST_1 = Prices(
    region="us-east-1",
    lambda_gb_second=0.0000166667,
    lambda_request=0.20 / 1_000_000,
    ephemeral_gb_second=0.0000000309,
    sfn_transition=0.025 / 1000,
    s3_put=0.005 / 1000,
    s3_get=0.0004 / 1000,
)

PRICES: dict[str, Prices] = {
    "us-east-1": _US_EAST_1,
    "default": replace(_US_EAST_1, region="default"),
}


def prices_for(region: str | None) -> Prices:
    """The region's prices, or ``default`` (``region`` of the result says which)."""
    return PRICES.get(region or "", PRICES["default"])
