"""Offline audio mix of a composition's media clips (SPEC §8).

Sound is never captured from the browser: the plan mixes every ``<audio>`` and unmuted
``<video>`` once, into one AAC file, so chunk workers stay silent and the final mux never
joins separately encoded AAC (which clicks at every seam). The mix is a plain sum —
``amix``'s default normalisation would make each track quieter as tracks are added — and a
mono source is copied to both channels at full level instead of the -3 dB rematrix that
ffmpeg's automatic upmix applies.
"""

from __future__ import annotations

import math
import os
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from ..errors import EncodeError
from ..media.ffmpeg import ffmpeg_exe
from ..media.media_probe import MediaStreams, probe_media

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

AAC_BITRATE = "192k"
AudioCodec = Literal["aac", "mp3", "wav"]
# What each codec is written as: ffmpeg encoder, and whether a bitrate applies.
_CODEC_ARGS: dict[str, list[str]] = {
    "aac": ["-c:a", "aac"],
    "mp3": ["-c:a", "libmp3lame"],
    "wav": ["-c:a", "pcm_s16le"],
}
_ALOOP_MAX_SAMPLES = 2**31 - 1
_BITEXACT = ["-map_metadata", "-1", "-fflags", "+bitexact", "-flags:a", "+bitexact"]


@dataclass(frozen=True)
class AudioTrack:
    """One sounding clip, in composition seconds (``start``, ``duration``) and source
    seconds (``media_start``). ``duration`` None plays to the end of the source, or to
    the end of the composition when ``loop``; a loop repeats ``[media_start, source end]``.
    """

    source: Path
    start: float
    duration: float | None = None
    media_start: float = 0.0
    volume: float = 1.0
    playback_rate: float = 1.0
    loop: bool = False
    # Linear gain ramps, in seconds: 0 to 1 from the clip's start, 1 to 0 into its end
    # (HyperFrames' data-fade-in / data-fade-out); shrunk in proportion when they overlap.
    fade_in: float = 0.0
    fade_out: float = 0.0

    def __post_init__(self) -> None:
        if self.start < 0 or self.media_start < 0:
            raise ValueError(f"{self.source}: start and media_start must be >= 0")
        if self.duration is not None and self.duration < 0:
            raise ValueError(f"{self.source}: duration must be >= 0")
        if self.playback_rate <= 0 or self.volume < 0:
            raise ValueError(f"{self.source}: playback_rate must be > 0 and volume >= 0")
        if self.fade_in < 0 or self.fade_out < 0:
            raise ValueError(f"{self.source}: fade_in and fade_out must be >= 0")


def mix_audio(
    tracks: Sequence[AudioTrack],
    total_seconds: float,
    out: Path,
    sample_rate: int = 48000,
    *,
    window: tuple[int, int] | None = None,
    codec: AudioCodec = "aac",
    bitrate: str | None = None,
) -> bool:
    """Mix ``tracks`` into exactly ``total_seconds`` of stereo audio at ``out`` (AAC in
    .m4a by default; ``codec`` mp3 or wav for an audio-only output).

    ``window`` (first sample, sample count) keeps only that span of the mix, cut in the
    filter graph before the one encode, so a frame range's soundtrack is the full mix's
    samples exactly. Returns False, writing nothing, when no track has an audio stream
    (SPEC §8: no audio elements, no audio stream). Non-media sources raise
    NotMediaPayloadError.
    """
    if total_seconds <= 0:
        raise ValueError(f"total_seconds must be > 0, got {total_seconds}")
    audible = [(t, s) for t in tracks if (s := probe_media(t.source)).has_audio]
    if not audible:
        return False
    total_samples = round(total_seconds * sample_rate)
    first, count = window if window is not None else (0, total_samples)
    cut = (
        f"atrim=start_sample={first}:end_sample={first + count},asetpts=N/SR/TB,"
        if window is not None
        else ""
    )
    total_samples = max(total_samples, first + count)
    inputs: list[str] = []
    chains: list[str] = []
    for track, streams in audible:
        chain = _track_chain(track, streams, total_seconds, sample_rate)
        if chain is None:
            continue
        label = f"t{len(chains)}"
        chains.append(f"[{len(chains)}:a:0]{chain}[{label}]")
        inputs += ["-i", str(track.source)]
    if not chains:  # every track lies outside the composition: a silent mix
        inputs = ["-f", "lavfi", "-i", f"anullsrc=r={sample_rate}:cl=stereo"]
        chains = ["[0:a:0]anull[t0]"]
    labels = "".join(f"[t{i}]" for i in range(len(chains)))
    mixer = f"amix=inputs={len(chains)}:normalize=0:duration=longest," if len(chains) > 1 else ""
    chains.append(
        f"{labels}{mixer}apad=whole_len={total_samples},atrim=end_sample={total_samples},{cut}"
        f"aformat=sample_fmts=fltp:sample_rates={sample_rate}:channel_layouts=stereo[mix]"
    )
    encoder = [*_CODEC_ARGS[codec]]
    if codec != "wav":
        encoder += ["-b:a", bitrate or AAC_BITRATE]
    _encode(inputs, ";".join(chains), out, sample_rate, encoder)
    return True


def _track_chain(
    track: AudioTrack, streams: MediaStreams, total_seconds: float, sample_rate: int
) -> str | None:
    """Filters taking one source to its stereo, timed, scaled contribution; None if silent."""
    clip_seconds = total_seconds - track.start
    if track.duration is not None:
        clip_seconds = min(clip_seconds, track.duration)
    if clip_seconds <= 0:
        return None
    rate = track.playback_rate
    clip_samples = round(clip_seconds * sample_rate)
    source_samples = math.ceil(clip_seconds * rate * sample_rate)
    first = round(track.media_start * sample_rate)
    filters = [stereo_filter(streams.audio_channels, sample_rate)]
    if track.loop:
        filters += [f"atrim=start_sample={first}", "asetpts=N/SR/TB"]
        filters += [f"aloop=loop=-1:size={_loop_size(track, streams, source_samples, sample_rate)}"]
        filters.append(f"atrim=end_sample={source_samples}")
    else:
        filters += [f"atrim=start_sample={first}:end_sample={first + source_samples}"]
        filters.append("asetpts=N/SR/TB")
    filters += [f"atempo={factor!r}" for factor in atempo_factors(rate)]
    filters.append(f"atrim=end_sample={clip_samples}")  # atempo lengths are approximate
    filters += _fade_filters(track, clip_seconds, sample_rate)
    if track.volume != 1.0:
        filters.append(f"volume={track.volume!r}")
    delay = round(track.start * sample_rate)
    if delay:
        filters.append(f"adelay=delays={delay}S:all=1")
    return ",".join(filters)


def _fade_filters(track: AudioTrack, clip_seconds: float, sample_rate: int) -> list[str]:
    """``afade`` ramps (``tri`` is linear) over the clip as it plays: the fade-out ends at
    the clip's declared end (else where it stops sounding); fades longer than the clip
    together are scaled down to fit it, as HyperFrames does."""
    length = track.duration if track.duration is not None else clip_seconds
    fade_in, fade_out = track.fade_in, track.fade_out
    if length > 0 and fade_in + fade_out > length:
        scale = length / (fade_in + fade_out)
        fade_in, fade_out = fade_in * scale, fade_out * scale
    filters = []
    if fade_in > 0:
        filters.append(f"afade=t=in:ss=0:ns={max(1, round(fade_in * sample_rate))}:curve=tri")
    if fade_out > 0 and length > 0:
        first = round((length - fade_out) * sample_rate)
        count = max(1, round(fade_out * sample_rate))
        filters.append(f"afade=t=out:ss={first}:ns={count}:curve=tri")
    return filters


def _loop_size(
    track: AudioTrack, streams: MediaStreams, source_samples: int, sample_rate: int
) -> int:
    """Samples ``aloop`` buffers: the looped segment (it stops early at the source's end)."""
    size = source_samples
    if streams.duration is not None:
        remaining = streams.duration - track.media_start
        size = min(size, math.ceil(max(remaining, 0.0) * sample_rate) + sample_rate)
    return max(1, min(size, _ALOOP_MAX_SAMPLES))


def stereo_filter(channels: int | None, sample_rate: int) -> str:
    """Resample to ``sample_rate`` stereo float; mono goes to both sides at unity gain."""
    upmix = "pan=stereo|c0=c0|c1=c0," if channels == 1 else ""
    return (
        f"aresample={sample_rate},{upmix}"
        f"aformat=sample_fmts=flt:sample_rates={sample_rate}:channel_layouts=stereo"
    )


def atempo_factors(rate: float) -> list[float]:
    """Split ``rate`` into ``atempo`` steps within 0.5-2 (empty for 1)."""
    factors: list[float] = []
    while rate > 2.0:
        factors.append(2.0)
        rate /= 2.0
    while rate < 0.5:
        factors.append(0.5)
        rate /= 0.5
    if not math.isclose(rate, 1.0, rel_tol=0.0, abs_tol=1e-12):
        factors.append(rate)
    return factors


def _encode(inputs: list[str], graph: str, out: Path, sample_rate: int, encoder: list[str]) -> None:
    """Run the graph once into a temp file beside ``out``; rename it into place on success."""
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{out.stem}.", suffix=out.suffix, dir=out.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        result = subprocess.run(
            [ffmpeg_exe(), "-hide_banner", "-nostdin", "-nostats", "-loglevel", "error", "-y",
             *inputs, "-filter_complex", graph, "-map", "[mix]",
             *encoder, "-ar", str(sample_rate), "-ac", "2",
             *_BITEXACT, str(tmp)],
            capture_output=True, text=True, errors="replace", check=False,
        )  # fmt: skip
        if result.returncode != 0:
            raise EncodeError(f"mixing audio into {out} failed: {result.stderr.strip()[-800:]}")
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)


def audio_samples(path: Path, sample_rate: int = 48000) -> npt.NDArray[np.float32]:
    """Decode the first audio stream of ``path`` to float32 samples of shape (n, 2).

    Mono is duplicated at unity gain, as in the mix. For tests and output verification;
    numpy is imported here so the runtime package does not depend on it.
    """
    import numpy as np

    streams = probe_media(path)
    if not streams.has_audio:
        raise ValueError(f"{path} has no audio stream")
    to_stereo = stereo_filter(streams.audio_channels, sample_rate)
    result = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-nostdin", "-nostats", "-loglevel", "error",
         "-i", str(path), "-map", "0:a:0", "-af", to_stereo,
         "-f", "f32le", "-c:a", "pcm_f32le", "-"],
        capture_output=True, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        message = result.stderr.decode(errors="replace").strip()[-500:]
        raise ValueError(f"{path}: audio cannot be decoded: {message}")
    return np.frombuffer(result.stdout, dtype="<f4").astype(np.float32).reshape(-1, 2)
