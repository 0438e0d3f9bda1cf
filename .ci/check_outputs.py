"""Check the videos the README's first command (`make demo`) wrote: decoded frame count and
size, as a viewer would see them (the bundled ffmpeg decodes every frame; it ships no
ffprobe). Exit 1 naming the file when one is missing or wrong.

    python .ci/check_outputs.py out/title-card.mp4=120@1920x1080 …
"""

from __future__ import annotations

import sys
from pathlib import Path

from hyperframes_lambda.media.probe import probe


def main(specs: list[str]) -> int:
    failures = 0
    for spec in specs:
        name, expected = spec.split("=")
        path = Path(name)
        if not path.is_file():
            print(f"FAIL {path}: missing", file=sys.stderr)
            failures += 1
            continue
        info = probe(path)
        actual = f"{info.frame_count}@{info.width}x{info.height}"
        verdict = "ok  " if actual == expected else "FAIL"
        failures += verdict == "FAIL"
        print(f"{verdict} {path}: {actual} (expected {expected}), {path.stat().st_size} bytes")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
