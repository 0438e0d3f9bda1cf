"""Copy a composition into a self-contained directory (used by scripts/eval.sh).

    python scripts/stage_fixture.py SRC DEST

Conformance fixtures link into siblings of their directory (``_media/``, ``shared/``), and
after a checkout without symlink support those links are small text files. The
conformance runner's own staging (``benchmarks/conformance.py: stage_fixture``) turns them
back into links next to the shared siblings; this then copies the result with every link
followed, so the project archive uploaded for a render holds real files. Exit 1 (with the
reason) when a link is broken.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
import tempfile
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent


def _conformance() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "conformance", ROOT / "benchmarks" / "conformance.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("conformance", module)
    spec.loader.exec_module(module)
    return module


def stage(src: Path, dest: Path) -> None:
    conformance = _conformance()
    fixture = conformance.Fixture(src.name, src.resolve(), {}, None)
    with tempfile.TemporaryDirectory(prefix="hf-stage-") as tmp:
        linked = conformance.stage_fixture(fixture, Path(tmp))
        if dest.exists():
            shutil.rmtree(dest)
        shutil.copytree(linked, dest, symlinks=False)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        stage(Path(argv[0]), Path(argv[1]))
    except (OSError, shutil.Error) as exc:
        print(f"cannot stage {argv[0]}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
