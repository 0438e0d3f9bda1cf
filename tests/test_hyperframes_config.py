"""Issue 21 item 6: the Config HyperFrames' own client sends is accepted on our stack.

Its CLI (``hyperframes lambda render``, npm ``hyperframes`` 0.8.170, ``buildLambdaRenderConfig``
in ``dist/render-*.js``) always sends ``workerConcurrency`` and ``runtimeCap``, and
``outputResolution``/``outputResolutionAspectAgnostic`` with ``--output-resolution``. The
keys we do not implement are accepted and named in a plan warning; ``outputResolution``
is implemented as the output size (the page scaled to it); any other unknown key is still
refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hyperframes_lambda.config import HYPERFRAMES_ONLY_KEYS, parse_config
from hyperframes_lambda.errors import InvalidConfigError
from hyperframes_lambda.stages.plan import plan

from .conftest import EXAMPLES


def hyperframes_cli_config(**extra: Any) -> dict[str, Any]:
    """The object the CLI builds for ``--fps 30 --width 1920 --height 1080``."""
    return {
        "fps": 30, "width": 1920, "height": 1080, "format": "mp4", "chunkSize": 40,
        "maxParallelChunks": 16, "workerConcurrency": 4, "runtimeCap": "lambda", **extra,
    }  # fmt: skip


def test_hyperframes_keys_are_accepted_and_named_not_silent() -> None:
    config = parse_config(hyperframes_cli_config(hdrMode="force-sdr"))
    assert config.hyperframes_only_keys == ("hdrMode", "workerConcurrency")
    warnings = config.ignored_key_warnings()
    assert len(warnings) == 2
    assert warnings[1].startswith("Config.workerConcurrency is a HyperFrames setting")
    assert "MapMaxConcurrency" in warnings[1]
    assert set(HYPERFRAMES_ONLY_KEYS) >= {"workerConcurrency", "videoFrameFormat", "cfr"}
    # Not a HyperFrames key: still refused, by name.
    with pytest.raises(InvalidConfigError, match=r"Config\.workerConcurency: Extra inputs"):
        parse_config(hyperframes_cli_config(workerConcurency=4))
    assert parse_config({}).hyperframes_only_keys == ()


@pytest.mark.parametrize(
    ("resolution", "agnostic", "layout", "size"),
    [
        ("landscape-4k", False, (1920, 1080), (3840, 2160)),
        ("LANDSCAPE", False, (1280, 720), (1920, 1080)),
        ("4k", False, (1080, 1920), (2160, 3840)),  # an aspect-agnostic alias: portrait
        ("landscape", True, (1080, 1080), (1080, 1080)),  # the CLI's flag: square
        ("landscape", False, (1080, 1080), (1920, 1080)),  # explicit: as named
        ("uhd", False, (1920, 1080), (3840, 2160)),
    ],
)  # fmt: skip
def test_output_resolution_is_the_preset_size_in_the_compositions_orientation(
    resolution: str, agnostic: bool, layout: tuple[int, int], size: tuple[int, int]
) -> None:
    config = parse_config(
        {"outputResolution": resolution, "outputResolutionAspectAgnostic": agnostic}
    )
    assert config.output_resolution_size(*layout) == size


def test_an_unknown_output_resolution_is_named() -> None:
    with pytest.raises(InvalidConfigError, match=r"Config\.outputResolution: must be one of"):
        parse_config({"outputResolution": "8k"})


@pytest.mark.slow
def test_plan_with_the_hyperframes_cli_config(tmp_path: Path) -> None:
    """The CLI's Config with ``--output-resolution 4k``: planned at 3840x2160 (the page
    scaled), the keys we ignore in the plan's warnings; a preset of the other orientation
    fails the plan naming both sizes."""
    config = hyperframes_cli_config(outputResolution="landscape-4k")
    config["outputResolutionAspectAgnostic"] = True
    result = plan(EXAMPLES / "title-card", config, tmp_path / "plan")
    assert (result.width, result.height) == (3840, 2160)
    assert any(w.startswith("Config.workerConcurrency is a HyperFrames") for w in result.warnings)
    with pytest.raises(InvalidConfigError, match="does not match the composition's aspect"):
        plan(EXAMPLES / "title-card", {"outputResolution": "portrait"}, tmp_path / "plan2")
