"""The budgets follow the function's memory and their knobs; the process-tree memory they
compare is read from /proc for a real process tree."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from hyperframes_lambda.browser.memory_budget import (
    ENV_FUNCTION_MEMORY,
    ENV_MAX_CHUNKS,
    ENV_PAGE_MB,
    ENV_POLL_S,
    ENV_RECYCLE_MB,
    MIB,
    current_budget,
)
from hyperframes_lambda.browser.proc_stats import descendants, tree_memory
from hyperframes_lambda.errors import InvalidConfigError

KNOBS = (ENV_FUNCTION_MEMORY, ENV_RECYCLE_MB, ENV_MAX_CHUNKS, ENV_PAGE_MB, ENV_POLL_S)


@pytest.fixture(autouse=True)
def no_knobs(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in KNOBS:
        monkeypatch.delenv(name, raising=False)


def test_budgets_derive_from_the_function_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_FUNCTION_MEMORY, "10240")
    budget = current_budget()
    assert (budget.memory, budget.recycle, budget.page) == (
        10240 * MIB,
        2048 * MIB,
        3584 * MIB,
    )
    assert budget.max_chunks == 100 and budget.poll_s == 0.1
    assert budget.launch_flags() == ("--js-flags=--max-old-space-size=3584",)
    monkeypatch.setenv(ENV_FUNCTION_MEMORY, "2048")
    assert current_budget().recycle < current_budget().page < 2048 * MIB


def test_knobs_override_and_bad_values_name_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_RECYCLE_MB, "300")
    monkeypatch.setenv(ENV_PAGE_MB, "500")
    monkeypatch.setenv(ENV_MAX_CHUNKS, "0")
    monkeypatch.setenv(ENV_POLL_S, "0.5")
    budget = current_budget()
    assert (budget.recycle, budget.page, budget.max_chunks, budget.poll_s) == (
        300 * MIB,
        500 * MIB,
        0,
        0.5,
    )
    for name, value in (
        (ENV_PAGE_MB, "lots"),
        (ENV_RECYCLE_MB, "0"),
        (ENV_MAX_CHUNKS, "-1"),
        (ENV_POLL_S, "nan"),
        (ENV_FUNCTION_MEMORY, "10 GB"),
    ):
        monkeypatch.setenv(name, value)
        with pytest.raises(InvalidConfigError, match=name):
            current_budget()
        monkeypatch.delenv(name)


def test_tree_memory_counts_the_descendants() -> None:
    # A parent holding nothing much, and a child holding 64 MiB of written pages.
    child_code = "import time; b = bytearray(64 << 20); b[::4096] = b'x' * len(b[::4096]); print(1, flush=True); time.sleep(60)"
    parent_code = (
        "import subprocess, sys, time; "
        f"p = subprocess.Popen([sys.executable, '-c', {child_code!r}]); time.sleep(60)"
    )
    parent = subprocess.Popen([sys.executable, "-c", parent_code])
    try:
        for _ in range(200):
            if descendants(parent.pid) and tree_memory(parent.pid).private >= 64 * MIB:
                break
            time.sleep(0.05)
        memory = tree_memory(parent.pid)
        assert memory.processes == 2
        assert memory.private >= 64 * MIB and memory.rss >= memory.private
    finally:
        for pid in descendants(parent.pid):
            subprocess.run(["kill", "-9", str(pid)], check=False)
        parent.kill()
        parent.wait()
    assert tree_memory(parent.pid).processes == 0
