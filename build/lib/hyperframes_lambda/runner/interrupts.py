"""Signals as exceptions: SIGINT and SIGTERM interrupt the work where it stands, so the
cleanup that Ctrl-C runs (browsers killed, their profiles and work directories removed)
runs for a SIGTERM too — from ``timeout``, systemd, ``docker stop`` or the local runner
stopping its worker processes.

In the main process, both signals raise in the main thread (:class:`Terminated` for
SIGTERM, a :class:`KeyboardInterrupt`); a second signal while the first one's cleanup runs
is ignored. In pool worker processes, a signal interrupts the running task, whose
exception the parent then sees, or ends an idle worker with the shell's exit status
(128 + the signal's number).
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread so the Ctrl-C cleanup paths run for it too."""


_signalled = threading.Event()


def _raise_interrupt(signum: int, _frame: FrameType | None) -> None:
    if _signalled.is_set():
        return  # cleanup of the first signal is running: let it finish
    _signalled.set()
    if signum == signal.SIGTERM:
        raise Terminated()
    raise KeyboardInterrupt()


def install_interrupt_handlers() -> Callable[[], None]:
    """SIGTERM and SIGINT raise in the main thread (a second signal waits for cleanup).

    Returns a function that puts the previous handlers back (for ``main()`` called from
    another program or a test)."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    _signalled.clear()
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    signal.signal(signal.SIGTERM, _raise_interrupt)
    signal.signal(signal.SIGINT, _raise_interrupt)

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return restore


# ---- worker processes ------------------------------------------------------------------

_task_running = threading.Event()


def _worker_signal(signum: int, _frame: FrameType | None) -> None:
    if not _task_running.is_set():
        raise SystemExit(128 + signum)  # idle worker: nothing to clean up, exit quietly
    if _signalled.is_set():
        return
    _signalled.set()
    raise Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()


def install_worker_interrupt_handlers() -> None:
    """For pool worker processes: a signal interrupts the running task (its cleanup runs and
    the parent sees the exception), or ends an idle worker quietly."""
    signal.signal(signal.SIGTERM, _worker_signal)
    signal.signal(signal.SIGINT, _worker_signal)


@contextlib.contextmanager
def worker_task() -> Iterator[None]:
    """Marks a worker process as busy, so a signal interrupts the task instead of exiting."""
    _signalled.clear()
    _task_running.set()
    try:
        yield
    finally:
        _task_running.clear()


def stop_pool_workers(processes: object) -> None:
    """Send SIGTERM to the live processes of a ``ProcessPoolExecutor`` (its ``_processes``):
    SIGTERM reaches only our own process, not the workers, which would otherwise finish
    their chunk (or be orphaned with their browsers)."""
    values = getattr(processes, "values", None)
    if values is None:
        return
    for process in list(values()):
        pid = getattr(process, "pid", None)
        if pid and process.is_alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
