"""Where a server-side batch keeps its objects under ``s3://BUCKET/batches/<batch-id>/``.

``batch.json`` (the project, the batch's Config, the output suffix, the batch whose output
names the rows keep), ``rows.jsonl`` (the canonical rows, one a line), ``items.json`` (what
the Distributed Map reads: one ``{Index, Id, Line, Offset, Length}`` per row, the row's
byte range in ``rows.jsonl``), ``started/<row>`` (a row's render was prepared),
``results/<row>-<status>.json`` (one per finished row, the status in the key so a listing
alone counts rows) and, at the end, ``results.jsonl``. Each row renders under
``renders/<batch-id>/<row>/`` (the usual plan and chunks, tagged as intermediates).
"""

from __future__ import annotations

BATCH_DIR = "batches"
BATCH_FILE = "batch.json"
ROWS_FILE = "rows.jsonl"
ITEMS_FILE = "items.json"
RESULTS_FILE = "results.jsonl"
STARTED_DIR = "started"
RESULTS_DIR = "results"
ROW_HASH_TAG = "hyperframes-row-hash"  # on a row's output: what --resume compares
STATUSES = ("succeeded", "skipped", "failed")


def batch_prefix_key(batch_id: str) -> str:
    return f"{BATCH_DIR}/{batch_id}/"


def row_name(index: int) -> str:
    """A row's position as a fixed-width name (keys sort in row order)."""
    return f"{index:06d}"


def result_key(prefix_key: str, index: int, status: str) -> str:
    return f"{prefix_key}{RESULTS_DIR}/{row_name(index)}-{status}.json"


def parse_result_key(key: str) -> tuple[int, str] | None:
    """(row index, status) from a result object's key; None for any other key."""
    name = key.rsplit("/", 1)[-1].removesuffix(".json")
    index, _, status = name.partition("-")
    if not index.isdigit() or status not in STATUSES:
        return None
    return int(index), status


def render_prefix(bucket: str, batch_id: str, index: int) -> str:
    """A row's PlanOutputS3Prefix."""
    return f"s3://{bucket}/renders/{batch_id}/{row_name(index)}/"


def execution_name(batch_id: str, index: int) -> str:
    """A row's render execution name (at most 80 characters, unique per batch)."""
    return f"{batch_id[:64]}-{row_name(index)}"
