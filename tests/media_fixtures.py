"""Generate the media test project: real files made by ffmpeg, a real local HTTP server."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from hyperframes_lambda.media.ffmpeg import ffmpeg_exe
from hyperframes_lambda.net.fetch_policy import ENV_ALLOW_PRIVATE

from .conftest import COMPOSITIONS

COLOURS = ("red", "lime", "blue", "white")  # 0.3 s (9 frames) each in colors.mp4


def ffmpeg(*args: str) -> None:
    """Run the project's ffmpeg quietly; raise if it fails (the tests' media generator)."""
    subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y", *args],
        check=True,
    )


def colour_video(out: Path) -> None:
    inputs: list[str] = []
    for colour in COLOURS:
        inputs += ["-f", "lavfi", "-i", f"color=c={colour}:s=160x90:r=30:d=0.3"]
    ffmpeg(
        *inputs,
        "-filter_complex",
        "concat=n=4:v=1:a=0",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        str(out),
    )


def tone(out: Path, frequency: int, amplitude: float, channels: int) -> None:
    ffmpeg(
        "-f", "lavfi", "-i", f"sine=frequency={frequency}:sample_rate=48000:duration=2",
        # lavfi's sine has amplitude 1/8; pan duplicates it without a -3 dB upmix
        "-af", f"volume={amplitude / 0.125:.4f}" + (",pan=stereo|c0=c0|c1=c0" * (channels == 2)),
        "-c:a", "pcm_s16le", str(out),
    )  # fmt: skip


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return


@contextlib.contextmanager
def serve(directory: Path) -> Iterator[str]:
    """Serve ``directory`` on 127.0.0.1; the fetch policy allows loopback while it runs."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(directory)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    saved = os.environ.get(ENV_ALLOW_PRIVATE)
    os.environ[ENV_ALLOW_PRIVATE] = "1"
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        if saved is None:
            os.environ.pop(ENV_ALLOW_PRIVATE, None)
        else:
            os.environ[ENV_ALLOW_PRIVATE] = saved
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def media_project(root: Path) -> Iterator[Path]:
    """The media composition with its files generated, remote ones served while in use."""
    project, remote = root / "project", root / "remote"
    shutil.copytree(COMPOSITIONS / "media", project)
    (project / "media").mkdir()
    remote.mkdir()
    colour_video(project / "media" / "colors.mp4")
    tone(project / "media" / "a440.wav", 440, 0.4, 2)
    tone(remote / "b1000-mono.wav", 1000, 0.3, 1)
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "color=c=magenta:s=40x40:d=1",
        "-frames:v",
        "1",
        str(remote / "logo.png"),
    )
    with serve(remote) as url:
        index = project / "index.html"
        index.write_text(index.read_text().replace("{{REMOTE}}", url))
        yield project
