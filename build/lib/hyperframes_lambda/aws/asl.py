"""The state machine definitions (``sam/statemachine/render.asl.json`` and ``batch.asl.json``)
and their terminal errors.

Every Task of the state machine retries with the same policy (SPEC §10): first a retrier
listing the terminal error names with ``MaxAttempts: 0`` (never retried), then Lambda
throttling, then ``States.ALL``. The terminal names are :func:`hyperframes_lambda.errors.
terminal_codes`, the one list in code; this module writes them into every ASL file
(:data:`ASL_PATHS`)::

    python -m hyperframes_lambda.aws.asl            # rewrite the files (make asl)
    python -m hyperframes_lambda.aws.asl --check    # exit 1 when a file has drifted

It also substitutes ``${Name}`` placeholders the way ``DefinitionSubstitutions`` does, so
tests load the very file the template deploys.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from ..errors import terminal_codes

REPO_ROOT = Path(__file__).resolve().parents[3]
ASL_PATH = REPO_ROOT / "sam" / "statemachine" / "render.asl.json"
BATCH_ASL_PATH = REPO_ROOT / "sam" / "statemachine" / "batch.asl.json"
ASL_PATHS = (ASL_PATH, BATCH_ASL_PATH)
TEMPLATE_PATH = REPO_ROOT / "sam" / "template.yaml"

# Placeholders as CloudFormation's Fn::Sub (and so DefinitionSubstitutions) reads them.
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")
_INLINE_LIMIT = 96  # arrays of scalars stay on one line up to this width


def placeholders(text: str) -> set[str]:
    """The ``${Name}`` placeholders of a definition."""
    return set(_PLACEHOLDER.findall(text))


def substitute(text: str, values: Mapping[str, str]) -> str:
    """Replace every ``${Name}``; a placeholder without a value is an error, as in CFN."""
    missing = placeholders(text) - set(values)
    if missing:
        raise KeyError(f"no value for placeholder(s): {', '.join(sorted(missing))}")
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], text)


def iter_states(states: Mapping[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every state, nested Map processors and Parallel branches included, with its path."""
    for name, state in states.items():
        where = f"{path}{name}"
        yield where, state
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if processor:
            yield from iter_states(processor["States"], f"{where}/")
        for index, branch in enumerate(state.get("Branches", [])):
            yield from iter_states(branch["States"], f"{where}[{index}]/")


def terminal_retrier() -> dict[str, Any]:
    return {"ErrorEquals": terminal_codes(), "MaxAttempts": 0}


def sync_terminal_retriers(definition: dict[str, Any]) -> list[str]:
    """Make every Task's first retrier the terminal list; return the states changed."""
    changed: list[str] = []
    expected = terminal_retrier()
    for where, state in iter_states(definition["States"]):
        if state.get("Type") != "Task":
            continue
        retry: list[dict[str, Any]] = state.setdefault("Retry", [])
        if (
            retry
            and retry[0].get("MaxAttempts") == 0
            and "States.ALL" not in retry[0].get("ErrorEquals", [])
        ):
            if retry[0] != expected:
                retry[0] = dict(expected)
                changed.append(where)
        else:
            retry.insert(0, dict(expected))
            changed.append(where)
    return changed


def dumps(value: Any, indent: int = 0) -> str:
    """JSON with two-space indents, short scalar arrays and small objects kept inline."""
    pad, inner = "  " * indent, "  " * (indent + 1)
    if isinstance(value, dict) and value:
        flat = json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
        scalar = all(not isinstance(v, dict | list) or not v for v in value.values())
        if scalar and len(value) <= 2 and len(flat) + len(inner) <= _INLINE_LIMIT:
            return flat
        items = [
            f"{inner}{json.dumps(k, ensure_ascii=False)}: {dumps(v, indent + 1)}"
            for k, v in value.items()
        ]
        return "{\n" + ",\n".join(items) + f"\n{pad}}}"
    if isinstance(value, list) and value:
        flat = json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
        if (
            all(not isinstance(v, dict | list) for v in value)
            and len(flat) + len(inner) <= _INLINE_LIMIT
        ):
            return flat
        return "[\n" + ",\n".join(f"{inner}{dumps(v, indent + 1)}" for v in value) + f"\n{pad}]"
    return json.dumps(value, ensure_ascii=False)


def generate(text: str) -> str:
    """The definition ``text`` with its terminal retriers regenerated, canonically formatted."""
    definition = json.loads(text)
    sync_terminal_retriers(definition)
    return dumps(definition) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m hyperframes_lambda.aws.asl",
        description="Write hyperframes_lambda.errors.terminal_codes() into the state machines.",
    )
    parser.add_argument(
        "--file", type=Path, action="append", help=f"one definition (default: {len(ASL_PATHS)}: "
        + ", ".join(p.name for p in ASL_PATHS) + ")",
    )  # fmt: skip
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if a file is not what would be written"
    )
    args = parser.parse_args(argv)
    code = 0
    for path in args.file or ASL_PATHS:
        code = max(code, _one(path, check=args.check))
    return code


def _one(path: Path, *, check: bool) -> int:
    current = path.read_text()
    wanted = generate(current)
    if check:
        if current != wanted:
            print(
                f"{path} is out of date with hyperframes_lambda.errors: run `make asl`",
                file=sys.stderr,
            )
            return 1
        print(f"{path}: {len(terminal_codes())} terminal errors, up to date")
        return 0
    if current != wanted:
        path.write_text(wanted)
        print(f"{path}: rewritten ({len(terminal_codes())} terminal errors)")
    else:
        print(f"{path}: already up to date")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
