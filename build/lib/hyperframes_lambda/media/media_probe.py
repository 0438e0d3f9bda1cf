"""What streams a media asset holds, and whether it is media at all.

Plan time must reject payloads that are not media (an HTML error page or JSON body saved
under a video's name is the classic case) before ffmpeg produces a confusing failure deep in
audio mixing or frame extraction. The bundled ffmpeg has no ffprobe, so streams come from
the ``ffmpeg -i`` header dump, and a missing container duration is measured by decoding.
"""

from __future__ import annotations

import codecs
import re
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path

from ..errors import AssetNotFoundError, InvalidVideoMetadataError, NotMediaPayloadError
from ..media.ffmpeg import ffmpeg_exe

_SNIFF_BYTES = 1024
_DURATION = re.compile(r"^\s*Duration: (?:(\d+):(\d+):(\d+(?:\.\d+)?)|N/A)", re.MULTILINE)
_STREAM = re.compile(r"^\s*Stream #\d+:\d+\S*: (Video|Audio|Subtitle|Data|Attachment): (.*)$")
_SIZE = re.compile(r"^(\d+)x(\d+)\b")
_RATE = re.compile(r"^(\d+(?:\.\d+)?)(k?) (fps|tbr)$")
_ALPHA_PIX = re.compile(r"^(yuva|gbrap|ya\d|ayuv|vuya|uyva|rgba|bgra|argb|abgr)")
_ALPHA_META = re.compile(r"^\s*alpha_mode\s*:\s*1\s*$", re.IGNORECASE)
_OUT_TIME = re.compile(r"^out_time_us=(\d+)$", re.MULTILINE)
_PIX_PROPS = re.compile(r"\(([^)]*)\)")  # yuv420p(tv, bt709, progressive)
_MATRICES = frozenset(
    {"bt709", "smpte170m", "bt470bg", "bt2020nc", "bt2020c", "smpte240m", "fcc", "gbr",
     "ycgco", "chroma-derived-nc", "chroma-derived-c", "ictcp"}
)  # fmt: skip
_LAYOUT_CHANNELS = {"mono": 1, "stereo": 2, "downmix": 2, "quad": 4, "hexagonal": 6}


@dataclass(frozen=True)
class MediaStreams:
    """First video and audio stream of a file (attached cover art does not count as video).

    ``video_codec`` and ``audio_channels`` are extras the mixer and frame extractor need:
    mono sources are upmixed by hand, and VP8/VP9 alpha needs the libvpx decoder.
    """

    path: Path
    duration: float | None
    has_video: bool
    has_audio: bool
    width: int | None
    height: int | None
    fps: float | None
    has_alpha: bool
    video_codec: str | None = None
    audio_channels: int | None = None
    # The YUV matrix the file declares ("bt709", "smpte170m", …); None when untagged.
    color_matrix: str | None = None


def probe_media(path: Path) -> MediaStreams:
    """Streams of ``path``; raises if it is not media or its video metadata is unusable."""
    _reject_non_media_bytes(path)
    result = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path)],
        capture_output=True, text=True, errors="replace", check=False,
    )  # fmt: skip
    header = _input_section(result.stderr)
    if header is None:
        reason = _last_line(result.stderr) or "ffmpeg cannot open it"
        raise NotMediaPayloadError(f"{path} is not a media file: {reason}")
    streams = _parse_header(path, header)
    if not (streams.has_video or streams.has_audio):
        raise NotMediaPayloadError(f"{path} is not a media file: no audio or video stream")
    if streams.duration is None:
        streams = replace(streams, duration=_decoded_duration(path))
    if streams.has_video:
        if not streams.width or not streams.height:
            raise InvalidVideoMetadataError(f"{path}: video stream has no usable frame size")
        if streams.duration is None or streams.duration <= 0:
            raise InvalidVideoMetadataError(f"{path}: video stream has no usable duration")
    return streams


def _reject_non_media_bytes(path: Path) -> None:
    """Empty files and text (HTML, JSON, XML, plain text) are never audio or video."""
    try:
        with path.open("rb") as handle:
            head = handle.read(_SNIFF_BYTES)
    except FileNotFoundError as exc:
        raise AssetNotFoundError(f"{path} does not exist") from exc
    if not head:
        raise NotMediaPayloadError(f"{path} is not a media file: it is empty")
    if _looks_like_text(head):
        preview = head[:60].decode("utf-8", errors="replace").strip().replace("\n", " ")
        raise NotMediaPayloadError(f"{path} is not a media file: it holds text ({preview!r}…)")


def _looks_like_text(head: bytes) -> bool:
    body = head.removeprefix(codecs.BOM_UTF8)
    if body.lstrip().startswith(b"<"):  # HTML or XML, however it continues
        return True
    try:
        text = codecs.getincrementaldecoder("utf-8")().decode(body, final=False)
    except UnicodeDecodeError:
        return False
    return all(ch.isprintable() or ch in "\t\n\r\f" for ch in text)


def _input_section(stderr: str) -> list[str] | None:
    """Lines describing input #0, or None when ffmpeg could not open the file."""
    lines = stderr.splitlines()
    for index, line in enumerate(lines):
        if line.startswith("Input #0"):
            section: list[str] = []
            for rest in lines[index + 1 :]:
                if not rest.startswith(" "):
                    break
                section.append(rest)
            return section
    return None


def _last_line(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def split_top_level(text: str) -> list[str]:
    """Split an ffmpeg stream description on commas outside parentheses and brackets."""
    parts: list[str] = []
    depth = 0
    current: list[str] = []
    for ch in text:
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth = max(0, depth - 1)
        if ch == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
    parts.append("".join(current).strip())
    return parts


def _parse_header(path: Path, lines: list[str]) -> MediaStreams:
    duration = None
    if (m := _DURATION.search("\n".join(lines))) and m.group(1) is not None:
        duration = int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3))
    video: _VideoLine | None = None
    channels: int | None = None
    has_audio = False
    for index, line in enumerate(lines):
        stream = _STREAM.match(line)
        if stream is None:
            continue
        kind, desc = stream.groups()
        if kind == "Video" and video is None and "(attached pic)" not in desc:
            video = _parse_video(desc, _stream_metadata(lines, index))
        elif kind == "Audio" and not has_audio:
            has_audio = True
            channels = _parse_channels(desc)
    return MediaStreams(
        path=path,
        duration=duration,
        has_video=video is not None,
        has_audio=has_audio,
        width=video.width if video else None,
        height=video.height if video else None,
        fps=video.fps if video else None,
        has_alpha=video.has_alpha if video else False,
        video_codec=video.codec if video else None,
        color_matrix=video.color_matrix if video else None,
        audio_channels=channels,
    )


@dataclass(frozen=True)
class _VideoLine:
    """The parts of a ``Video:`` stream line we use."""

    codec: str
    width: int | None
    height: int | None
    fps: float | None
    has_alpha: bool
    color_matrix: str | None = None


def _stream_metadata(lines: list[str], index: int) -> list[str]:
    """Indented lines under stream ``index`` (its metadata block)."""
    block: list[str] = []
    for line in lines[index + 1 :]:
        if _STREAM.match(line):
            break
        block.append(line)
    return block


def _parse_video(desc: str, metadata: list[str]) -> _VideoLine:
    tokens = split_top_level(desc)
    codec = tokens[0].split()[0] if tokens and tokens[0] else "unknown"
    pix_fmt = ""
    if len(tokens) > 1 and not _SIZE.match(tokens[1]):
        pix_fmt = re.split(r"[(\s]", tokens[1], maxsplit=1)[0]
    width = height = None
    rates: dict[str, float] = {}
    for token in tokens[1:]:
        if (size := _SIZE.match(token)) and width is None:
            width, height = int(size.group(1)), int(size.group(2))
        elif rate := _RATE.match(token):
            scale = 1000.0 if rate.group(2) else 1.0
            rates.setdefault(rate.group(3), float(rate.group(1)) * scale)
    # VP8/VP9 keep alpha in a side channel: the native decoder reports yuv420p and only
    # the container's ``alpha_mode`` tag tells.
    has_alpha = bool(_ALPHA_PIX.match(pix_fmt)) or any(_ALPHA_META.match(m) for m in metadata)
    fps = rates.get("fps", rates.get("tbr"))
    matrix = None
    if len(tokens) > 1 and (props := _PIX_PROPS.search(tokens[1])):
        matrix = next(
            (word for word in re.split(r"[\s,/]+", props.group(1)) if word in _MATRICES), None
        )
    return _VideoLine(
        codec=codec, width=width, height=height, fps=fps, has_alpha=has_alpha, color_matrix=matrix
    )


def _parse_channels(desc: str) -> int | None:
    tokens = split_top_level(desc)
    for index, token in enumerate(tokens):
        if token.endswith(" Hz") and index + 1 < len(tokens):
            layout = tokens[index + 1].split("(")[0].strip()
            if layout in _LAYOUT_CHANNELS:
                return _LAYOUT_CHANNELS[layout]
            if m := re.fullmatch(r"(\d+) channels", layout):
                return int(m.group(1))
            if m := re.fullmatch(r"(\d+)\.(\d+)", layout):
                return int(m.group(1)) + int(m.group(2))
            return None
    return None


def _decoded_duration(path: Path) -> float | None:
    """Length by decoding everything: for containers without a duration (streamed WebM)."""
    result = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-nostdin", "-nostats", "-loglevel", "error",
         "-i", str(path), "-map", "0:v:0?", "-map", "0:a:0?", "-f", "null",
         "-progress", "pipe:1", "-"],
        capture_output=True, text=True, errors="replace", check=False,
    )  # fmt: skip
    values = [int(v) for v in _OUT_TIME.findall(result.stdout)]
    if result.returncode != 0 or not values or values[-1] <= 0:
        return None
    return values[-1] / 1_000_000
