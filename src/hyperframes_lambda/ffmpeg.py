"""Locate the ffmpeg binary and identify it.

Default: the binary bundled in the ``imageio-ffmpeg`` wheel (ffmpeg 9 with libx264,
libx265, libvpx-vp9, prores_ks, aac, libopus), so no system ffmpeg is needed.
``HYPERFRAMES_FFMPEG_PATH`` overrides it. There is no ffprobe in that wheel, so probing
is done with ffmpeg itself (see :mod:`hyperframes_lambda.probe`).
"""

from __future__ import annotations

import os
import subprocess
from functools import cache

from .errors import FfmpegUnavailableError

ENV_FFMPEG_PATH = "HYPERFRAMES_FFMPEG_PATH"


@cache
def ffmpeg_exe() -> str:
    override = os.environ.get(ENV_FFMPEG_PATH)
    if override:
        if not (os.path.isfile(override) and os.access(override, os.X_OK)):
            raise FfmpegUnavailableError(f"{ENV_FFMPEG_PATH}={override} is not an executable file")
        return override
    try:
        import imageio_ffmpeg

        return str(imageio_ffmpeg.get_ffmpeg_exe())
    except Exception as exc:
        raise FfmpegUnavailableError(
            f"no ffmpeg binary: install the imageio-ffmpeg package or set {ENV_FFMPEG_PATH} ({exc})"
        ) from exc


@cache
def ffmpeg_version_line() -> str:
    """First line of ``ffmpeg -version``: recorded in plans, compared by workers."""
    result = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-version"], capture_output=True, text=True, check=False
    )
    if result.returncode != 0 or not result.stdout:
        raise FfmpegUnavailableError(f"{ffmpeg_exe()} -version failed: {result.stderr.strip()}")
    return result.stdout.splitlines()[0].strip()
