"""How the render bucket expires objects: by object tag, not by prefix.

Intermediates (plan archive, audio, chunks, chunk heartbeats) are tagged when written, and
the bucket's lifecycle rule (``sam/template.yaml``, ``expire-intermediates``) expires what
carries :data:`INTERMEDIATE_TAG`, wherever it lives. An output is never tagged as an
intermediate, so it is kept wherever it is written, under ``renders/`` too (HyperFrames'
client writes its outputs there). Outputs expire only when asked: the template's
``OutputExpirationDays`` (every output) or a per-render :data:`OUTPUT_EXPIRY_DAYS` choice,
each a tag with a rule of its own.
"""

from __future__ import annotations

from urllib.parse import urlencode

LIFECYCLE_TAG = "hyperframes-lifecycle"
INTERMEDIATE = "intermediate"
INTERMEDIATE_TAG = {LIFECYCLE_TAG: INTERMEDIATE}
OUTPUT = "output"  # every output, expired by OutputExpirationDays when that is set
# Per-render output expiry: S3 lifecycle rules are per bucket, so a render picks one of
# these, each a rule in the template (tag value "output-<N>d").
OUTPUT_EXPIRY_DAYS = (1, 3, 7, 30, 90)


def output_tag(expire_days: int | None) -> dict[str, str]:
    """The tag an output is written with: ``output-<N>d`` for a per-render expiry."""
    if expire_days is None:
        return {LIFECYCLE_TAG: OUTPUT}
    if expire_days not in OUTPUT_EXPIRY_DAYS:
        raise ValueError(
            f"output expiry must be one of {', '.join(map(str, OUTPUT_EXPIRY_DAYS))} days "
            f"(got {expire_days})"
        )
    return {LIFECYCLE_TAG: f"output-{expire_days}d"}


def tagging(tags: dict[str, str]) -> str:
    """Tags as S3's ``Tagging`` argument (a URL-encoded query string)."""
    return urlencode(sorted(tags.items()))
