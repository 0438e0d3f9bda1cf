"""mix_audio against tones with known frequency, level and timing (SPEC §8).

Levels are RMS over windows kept 50 ms clear of every onset/offset (AAC smears a transient
over about one 1024-sample frame); frequencies are checked with an FFT of each window.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from hyperframes_lambda.media.audio_mix import AudioTrack, atempo_factors, audio_samples, mix_audio

from ..media_fixtures import ffmpeg

SR = 48000
A_STEREO = 0.4  # amplitude of the stereo 440 Hz source
A_MONO = 0.3  # amplitude of the mono 1000 Hz source
Samples = npt.NDArray[np.float32]


def tone(path: Path, expr: str, seconds: float, channels: int = 1) -> Path:
    """A wav of ``expr`` (aevalsrc syntax) on every channel."""
    escaped = expr.replace(",", "\\,")  # commas would split the lavfi filtergraph
    source = f"aevalsrc={'|'.join([escaped] * channels)}:s={SR}:d={seconds}"
    ffmpeg("-f", "lavfi", "-i", source, "-c:a", "pcm_f32le", str(path))
    return path


def rms(x: Samples, lo: float, hi: float) -> npt.NDArray[np.float64]:
    window = x[int(lo * SR) : int(hi * SR)].astype(np.float64)
    level: npt.NDArray[np.float64] = np.sqrt(np.mean(window**2, axis=0))
    return level


def amplitude_at(x: Samples, lo: float, hi: float, freq: float) -> float:
    """Sine amplitude near ``freq`` in the left channel of the window (Hann-windowed FFT)."""
    window = x[int(lo * SR) : int(hi * SR), 0].astype(np.float64)
    hann = np.hanning(len(window))
    spectrum = np.abs(np.fft.rfft(window * hann)) * 2 / hann.sum()
    freqs = np.fft.rfftfreq(len(window), 1 / SR)
    band = (freqs > freq - 20) & (freqs < freq + 20)
    return float(spectrum[band].max())


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("audio-src")
    tone(d / "a440.wav", f"{A_STEREO}*sin(2*PI*440*t)", 3.0, channels=2)
    # Mono: 3000 Hz for the first 0.25 s, then 1000 Hz; media_start 0.25 must skip the 3000.
    marked = f"{A_MONO}*if(lt(t,0.25),sin(2*PI*3000*t),sin(2*PI*1000*t))"
    tone(d / "m1000.wav", marked, 3.0)
    tone(d / "short.wav", f"{A_MONO}*sin(2*PI*1000*t)", 0.3)
    tone(d / "a440_2s.wav", f"{A_STEREO}*sin(2*PI*440*t)", 2.0, channels=2)
    ffmpeg("-f", "lavfi", "-i", "color=c=red:size=32x32:rate=10:duration=1", str(d / "mute.mp4"))
    return d


@pytest.fixture(scope="module")
def two_tones(sources: Path, tmp_path_factory: pytest.TempPathFactory) -> Samples:
    out = tmp_path_factory.mktemp("mix") / "audio.m4a"
    tracks = [
        AudioTrack(sources / "a440.wav", start=0.5, duration=1.0, volume=0.5),
        AudioTrack(sources / "m1000.wav", start=1.0, media_start=0.25, volume=1.0),
    ]
    assert mix_audio(tracks, 2.0, out) is True
    assert out.exists()
    return audio_samples(out)


def test_length_is_exact_despite_aac_priming(two_tones: Samples) -> None:
    # The m4a edit list hides the encoder's priming and padding: not one sample off.
    assert two_tones.shape == (96000, 2)
    assert two_tones.dtype == np.float32


def test_silence_before_first_track(two_tones: Samples) -> None:
    assert rms(two_tones, 0.0, 0.45).max() < 1e-3


def test_volume_scales_the_first_track(two_tones: Samples) -> None:
    expected = 0.5 * A_STEREO / np.sqrt(2)
    assert rms(two_tones, 0.55, 0.95) == pytest.approx([expected, expected], rel=0.02)
    assert amplitude_at(two_tones, 0.55, 0.95, 440) == pytest.approx(0.5 * A_STEREO, rel=0.03)
    assert amplitude_at(two_tones, 0.55, 0.95, 1000) < 0.005


def test_tracks_sum_without_normalisation(two_tones: Samples) -> None:
    # amix's default would halve both tracks here; the plain sum adds their powers.
    expected = np.sqrt((0.5 * A_STEREO) ** 2 / 2 + A_MONO**2 / 2)
    assert rms(two_tones, 1.05, 1.45) == pytest.approx([expected, expected], rel=0.02)
    assert amplitude_at(two_tones, 1.05, 1.45, 440) == pytest.approx(0.5 * A_STEREO, rel=0.03)
    assert amplitude_at(two_tones, 1.05, 1.45, 1000) == pytest.approx(A_MONO, rel=0.03)


def test_media_start_skips_the_sources_beginning(two_tones: Samples) -> None:
    assert amplitude_at(two_tones, 1.05, 1.45, 3000) < 0.005


def test_mono_is_not_attenuated_by_upmix(two_tones: Samples) -> None:
    left, _ = rms(two_tones, 1.55, 1.95)
    assert left == pytest.approx(A_MONO / np.sqrt(2), rel=0.02)  # not A_MONO / 2 (-3 dB)
    np.testing.assert_array_equal(two_tones[:, 0], two_tones[:, 1])
    assert amplitude_at(two_tones, 1.55, 1.95, 440) < 0.005


def test_no_tracks_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "audio.m4a"
    assert mix_audio([], 2.0, out) is False
    assert not out.exists()


def test_tracks_without_audio_stream_write_nothing(sources: Path, tmp_path: Path) -> None:
    out = tmp_path / "audio.m4a"
    assert mix_audio([AudioTrack(sources / "mute.mp4", start=0.0)], 2.0, out) is False
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("rate", [2.0, 4.0])
def test_playback_rate_shortens_a_trimmed_track(sources: Path, tmp_path: Path, rate: float) -> None:
    out = tmp_path / "audio.m4a"
    assert mix_audio([AudioTrack(sources / "a440_2s.wav", 0.0, playback_rate=rate)], 2.0, out)
    samples = audio_samples(out)
    end = 2.0 / rate
    assert rms(samples, 0.05, end - 0.05).min() == pytest.approx(A_STEREO / np.sqrt(2), rel=0.05)
    assert rms(samples, end + 0.05, 2.0).max() < 1e-3
    # atempo keeps the pitch, as browsers do (preservesPitch).
    assert amplitude_at(samples, 0.05, end - 0.05, 440) > 0.8 * A_STEREO


def test_loop_fills_to_the_end(sources: Path, tmp_path: Path) -> None:
    out = tmp_path / "audio.m4a"
    track = AudioTrack(sources / "short.wav", start=0.2, loop=True)
    assert mix_audio([track], 2.0, out)
    samples = audio_samples(out)
    assert samples.shape == (96000, 2)
    assert rms(samples, 0.0, 0.15).max() < 1e-3
    for lo in np.arange(0.25, 1.95, 0.1):
        assert rms(samples, lo, lo + 0.05)[0] == pytest.approx(A_MONO / np.sqrt(2), rel=0.06)
    # Period 0.3 s: the waveform 0.3 s later is the same (up to AAC error).
    a, b = samples[int(0.5 * SR) : int(0.7 * SR), 0], samples[int(0.8 * SR) : int(1.0 * SR), 0]
    assert np.abs(a - b).max() < 0.02


def test_loop_repeats_from_media_start(sources: Path, tmp_path: Path) -> None:
    out = tmp_path / "audio.m4a"
    track = AudioTrack(sources / "m1000.wav", 0.0, duration=1.5, media_start=0.25, loop=True)
    assert mix_audio([track], 2.0, out)
    samples = audio_samples(out)
    assert amplitude_at(samples, 0.05, 1.45, 3000) < 0.005
    assert amplitude_at(samples, 0.05, 1.45, 1000) == pytest.approx(A_MONO, rel=0.03)
    assert rms(samples, 1.55, 2.0).max() < 1e-3


def test_odd_total_length_and_deterministic_bytes(sources: Path, tmp_path: Path) -> None:
    tracks = [AudioTrack(sources / "a440.wav", 0.1, volume=0.8)]
    first, second = tmp_path / "a.m4a", tmp_path / "b.m4a"
    assert mix_audio(tracks, 1.2345, first)
    assert mix_audio(tracks, 1.2345, second)
    assert first.read_bytes() == second.read_bytes()
    assert audio_samples(first).shape == (round(1.2345 * SR), 2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.m4a", "b.m4a"]  # no temp left


def test_atempo_factors_stay_in_range() -> None:
    assert atempo_factors(1.0) == []
    assert atempo_factors(4.0) == [2.0, 2.0]
    assert atempo_factors(0.25) == [0.5, 0.5]
    assert atempo_factors(3.0) == [2.0, 1.5]
    assert atempo_factors(0.75) == [0.75]


def ramp_rms(
    gain: Callable[[npt.NDArray[np.float64]], npt.NDArray[np.float64]], lo: float, hi: float
) -> float:
    """RMS of a full-scale A_STEREO tone under ``gain`` over [lo, hi)."""
    t = np.arange(int(lo * SR), int(hi * SR)) / SR
    return float(A_STEREO / np.sqrt(2) * np.sqrt(np.mean(gain(t) ** 2)))


def test_fades_ramp_linearly_at_the_clips_ends(sources: Path, tmp_path: Path) -> None:
    """data-fade-in 0.4 s / data-fade-out 0.6 s on a 2 s clip at 0.5 s: gain rises
    linearly from 0 over 0.4 s, falls linearly to 0 over the clip's last 0.6 s."""
    out = tmp_path / "audio.wav"
    track = AudioTrack(sources / "a440.wav", 0.5, duration=2.0, fade_in=0.4, fade_out=0.6)
    assert mix_audio([track], 3.0, out, codec="wav")
    samples = audio_samples(out)

    def gain(t: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return np.clip((t - 0.5) / 0.4, 0, 1) * np.clip((2.5 - t) / 0.6, 0, 1)

    for lo in (0.5, 0.7, 1.0, 1.95, 2.3):
        expected = ramp_rms(gain, lo, lo + 0.1)
        assert rms(samples, lo, lo + 0.1)[0] == pytest.approx(expected, rel=0.03), lo
    assert rms(samples, 2.5, 3.0).max() < 1e-3


def test_overlapping_fades_shrink_to_fit_the_clip(sources: Path, tmp_path: Path) -> None:
    """Fades of 1 s + 1 s on a 1 s clip are scaled to 0.5 s each: the peak is mid-clip."""
    out = tmp_path / "audio.wav"
    track = AudioTrack(sources / "a440.wav", 0.0, duration=1.0, fade_in=1.0, fade_out=1.0)
    assert mix_audio([track], 1.0, out, codec="wav")
    samples = audio_samples(out)

    def gain(t: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return np.clip(t / 0.5, 0, 1) * np.clip((1.0 - t) / 0.5, 0, 1)

    for lo in (0.0, 0.2, 0.45, 0.9):
        expected = ramp_rms(gain, lo, lo + 0.1)
        assert rms(samples, lo, lo + 0.1)[0] == pytest.approx(expected, rel=0.03), lo


@pytest.mark.parametrize("points", [4, 4000])
def test_volume_curve_scales_every_sample(tmp_path: Path, points: int) -> None:
    """A timeline's volume curve (composition seconds, gain) on a clip starting at 0.5 s:
    each sample is scaled by the curve linearly interpolated at its own time (not once per
    decoded frame), the last gain held after the curve; 4000 points make a filter graph
    too long for one command-line argument."""
    dc = tone(tmp_path / "dc.wav", "0.5", 3.0, channels=2)
    times = np.linspace(0.5, 2.0, points)
    gains = 1.0 - 0.8 * (times - 0.5) / 1.5 + 0.05 * np.sin(times * 40)
    curve = tuple(zip(times.tolist(), gains.tolist(), strict=True))
    out = tmp_path / "audio.wav"
    assert mix_audio([AudioTrack(dc, 0.5, volume=0.3, volume_curve=curve)], 3.0, out, codec="wav")
    samples = audio_samples(out)[:, 0].astype(np.float64)
    t = np.arange(len(samples)) / SR
    expected = np.where(t < 0.5, 0.0, 0.5 * np.interp(t, times, gains))
    assert np.abs(samples - expected).max() <= 1 / 32768 + 1e-9
