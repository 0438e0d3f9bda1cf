"""Compare renders: per-frame PSNR, audio residual, decoded-frame hashes, chunk seams.

``python -m hyperframes_lambda.compare {psnr,audio,frames,seams} …`` prints JSON; the
smoke and eval scripts (``scripts/``), the local eval and the tests all use these
functions, so there is one implementation of each measure.

May import: ``media/`` (ffmpeg), ``aws/`` (prices, for run costs) and the ground modules.
Nothing in a render imports it.
"""

from __future__ import annotations

from .audio import AudioResult, compare_audio, residual_dbfs
from .media import MediaError
from .video import (
    FramesResult,
    MismatchError,
    PsnrResult,
    SeamsResult,
    chunk_boundaries,
    compare_frames,
    psnr,
    seams,
)

__all__ = [
    "AudioResult",
    "FramesResult",
    "MediaError",
    "MismatchError",
    "PsnrResult",
    "SeamsResult",
    "chunk_boundaries",
    "compare_audio",
    "compare_frames",
    "psnr",
    "residual_dbfs",
    "seams",
]
