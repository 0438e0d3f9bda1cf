"""Check a render's output path before any work: the format it implies, and that it can be
written. A bad ``-o`` used to be found only after the whole render (or as raw ffmpeg text).

Rules (docs/cli.md): without an explicit format, ``.mp4``/``.mov``/``.webm``/``.gif`` and
the audio-only ``.m4a``/``.mp3``/``.wav`` pick that format and a path with no extension (or
an existing directory) means png-sequence, a directory of frames. Any other extension,
or one that contradicts the explicit format, is refused. The parent directory must accept
a new file (a missing one is made, and removed again if the render fails); a png-sequence
replaces its directory on success, so an existing directory must be empty or hold only a previous
sequence (never someone's project or home directory). While a render writes an output it
holds ``.<name>.lock`` beside it (:func:`output_lock`): a second render onto the same path
fails at once with ``OUTPUT_IN_USE`` instead of silently replacing the first one's output.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import cast

from ..config import OutputFormat
from ..errors import InvalidOutputError, OutputInUseError

VIDEO_EXTENSIONS: dict[str, OutputFormat] = {
    ".mp4": "mp4", ".mov": "mov", ".webm": "webm", ".gif": "gif",
    ".m4a": "aac", ".mp3": "mp3", ".wav": "wav",
}  # fmt: skip
SEQUENCE_FILE = re.compile(r"^(frame_\d+\.png|audio\.m4a)$")


def resolve_output(
    output: Path,
    format: str | None = None,
    *,
    output_name: str = "output",
    format_name: str = "format",
) -> OutputFormat:
    """The output format for ``output`` (checked writable), or :class:`InvalidOutputError`.

    ``output_name``/``format_name`` are how the caller's user spells the two settings
    (``-o``/``--format`` on the command line), so the message names what to change.
    """
    suffix = output.suffix.lower()
    known = ", ".join(VIDEO_EXTENSIONS)
    if format is None:
        if suffix in VIDEO_EXTENSIONS:
            resolved: OutputFormat = VIDEO_EXTENSIONS[suffix]
        elif output.is_dir() or not suffix:
            resolved = "png-sequence"
        else:
            raise InvalidOutputError(
                f"{output_name} {output}: unsupported extension {suffix!r}; use {known}, "
                f"or a directory (no extension) for png-sequence"
            )
    else:
        resolved = cast(OutputFormat, format)
        if resolved == "png-sequence":
            if suffix in VIDEO_EXTENSIONS or (output.exists() and not output.is_dir()):
                raise InvalidOutputError(
                    f"{format_name} png-sequence writes a directory of frames, but "
                    f"{output_name} {output} is a file name; give a directory path"
                )
        else:
            wanted = next(ext for ext, fmt in VIDEO_EXTENSIONS.items() if fmt == resolved)
            if suffix != wanted:
                raise InvalidOutputError(
                    f"{format_name} {resolved} does not match {output_name} {output} "
                    f"(extension {suffix or 'none'!r}); name the file *{wanted}"
                )
    if resolved != "png-sequence" and output.is_dir():
        raise InvalidOutputError(f"{output_name} {output} is a directory, not a file")
    if resolved == "png-sequence" and output.is_dir():
        strangers = sorted(p.name for p in output.iterdir() if not SEQUENCE_FILE.match(p.name))
        if strangers:
            raise InvalidOutputError(
                f"{output_name} {output}: a png-sequence replaces this directory, which holds "
                f"other files ({', '.join(strangers[:3])}{', …' if len(strangers) > 3 else ''}); "
                f"give an empty or new directory"
            )
    check_writable_parent(output, output_name)
    return resolved


def check_writable_parent(output: Path, output_name: str = "output") -> None:
    """The output is written beside itself and renamed into place: its directory must
    take a new file, or — when it does not exist yet — its nearest existing ancestor must
    take the directories :func:`created_parents` makes (tried for real: permission bits lie
    to root and do not show read-only file systems)."""
    parent = output.absolute().parent
    existing = parent
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise InvalidOutputError(
            f"{output_name} {output}: {existing} is a file, so directory {parent} cannot be made"
        )
    try:
        handle, probe = tempfile.mkstemp(prefix=".hf-write-check-", dir=existing)
    except OSError as exc:
        verb = "write in" if existing == parent else f"create {parent} under"
        raise InvalidOutputError(
            f"{output_name} {output}: cannot {verb} {existing} ({exc.strerror or exc})"
        ) from None
    os.close(handle)
    os.unlink(probe)


@contextlib.contextmanager
def created_parents(output: Path) -> Iterator[list[Path]]:
    """Make the output's missing parent directories (as ``mkdir -p`` would, and as
    HyperFrames' CLI does for ``-o``), and take them away again if the block fails, so a
    failed render leaves nothing behind — not even the empty directories it made.

    Yields the directories made, outermost first.
    """
    made: list[Path] = []
    parent = output.absolute().parent
    missing: list[Path] = []
    while not parent.exists():
        missing.append(parent)
        parent = parent.parent
    try:
        for directory in reversed(missing):
            directory.mkdir()
            made.append(directory)
        yield made
    except BaseException:
        for directory in reversed(made):
            with contextlib.suppress(OSError):  # not empty: someone else wrote there
                directory.rmdir()
        raise


def lock_path(output: Path) -> Path:
    """The lock file a render of ``output`` holds: ``.<name>.lock`` beside it."""
    return output.absolute().parent / f".{output.name}.lock"


@contextlib.contextmanager
def output_lock(output: Path, output_name: str = "output") -> Iterator[Path]:
    """Hold the output's lock file for the block (the output's directory must exist), or
    raise :class:`OutputInUseError` at once when another render holds it. The kernel drops
    the lock if the process dies; the file is removed when the block ends."""
    path = lock_path(output)
    while True:
        handle = path.open("a+")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read(40).strip()
            handle.close()
            raise OutputInUseError(
                f"{output_name} {output} is being written by another render"
                + (f" (process {holder})" if holder.isdigit() else "")
                + f"; wait for it to finish or choose another {output_name} (lock file {path})"
            ) from None
        try:
            same = os.fstat(handle.fileno()).st_ino == path.stat().st_ino
        except FileNotFoundError:
            same = False  # the holder before us removed it as we opened it
        if same:
            break
        handle.close()
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        yield path
    finally:
        path.unlink(missing_ok=True)
        handle.close()
