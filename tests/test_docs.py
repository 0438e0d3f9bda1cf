"""README.md and docs/*.md are checked like code: every relative link resolves, and every
code block marked runnable runs and exits 0.

The marker convention (docs/development.md, "Documentation"):
- a fenced block whose info string is ``sh runnable`` is run with ``bash -euo pipefail``;
- ``python runnable`` is run with this interpreter;
- ``<lang> file=PATH`` (``html file=my-video/index.html``) is written to PATH first, so a page
  can show a file and then the command that uses it.

The blocks of one page run in order, in one scratch copy of the checkout per page (its
``.venv`` a link to this interpreter's environment), so commands are written as a reader
pastes them from the repository root and a later block may use an earlier one's output.
They run inside ``bwrap --unshare-net``: loopback only, so a block that needs AWS or the
internet fails here and must not be marked runnable. What the pages' compositions load
from CDNs (GSAP, the page runtime, font faces) is fetched into the cache first, outside
the sandbox, by the same code a render uses; on a machine where ``make demo`` or any render
ran, that fetches nothing.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from hyperframes_lambda.compile.project import compile_project
from hyperframes_lambda.media.probe import probe
from hyperframes_lambda.net.remote_assets import RemoteFetcher
from hyperframes_lambda.page.official_runtime import runtime_path

from .conftest import EXAMPLES, ROOT

sys.path.insert(0, str(ROOT / "build"))
import lambda_sandbox

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# Other pages whose links are checked too (their blocks are not run).
LINKED_PAGES = [*PAGES, ROOT / "examples" / "README.md", ROOT / "sam" / "events" / "README.md"]

# What the runnable blocks must leave behind: the quick start's render of the flagship
# example and the README's first composition, checked by decoding every frame.
EXPECTED_OUTPUTS = {
    "README.md": {
        "out/title-card.mp4": (120, 1920, 1080),
        "out/my-video.mp4": (60, 640, 360),
    },
}
QUICK_START_RENDER = ".venv/bin/hyperframes-lambda render examples/title-card -o out/title-card.mp4"

# Not copied into a page's scratch checkout: version control, environments, caches, outputs.
SCRATCH_IGNORE = shutil.ignore_patterns(
    ".git", ".venv", ".venv-sam", "out", "dist", ".cache", "__pycache__", "*.egg-info",
    ".pytest_cache", ".mypy_cache", ".ruff_cache", ".hypothesis", "local-s3",
)  # fmt: skip

FENCE = re.compile(r"^(`{3,}|~{3,})(.*)$")
LINK = re.compile(r"!?\[(?:[^\]\[]|\[[^\]]*\])*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
INLINE_CODE = re.compile(r"(`+).+?\1")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


@dataclass(frozen=True)
class Block:
    page: Path
    line: int  # of the opening fence, 1-based
    lang: str
    runnable: bool
    file: str | None  # ``file=PATH``
    text: str

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def parse(page: Path) -> tuple[list[Block], list[tuple[int, str]]]:
    """A page's fenced blocks, and its prose lines (outside blocks) with their numbers."""
    blocks: list[Block] = []
    prose: list[tuple[int, str]] = []
    lines = page.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if match is None:
            prose.append((i + 1, lines[i]))
            i += 1
            continue
        fence, info = match.group(1), match.group(2).split()
        start = i
        body: list[str] = []
        i += 1
        while i < len(lines) and not lines[i].startswith(fence):
            body.append(lines[i])
            i += 1
        assert i < len(lines), f"{page.name}:{start + 1}: unclosed code block"
        i += 1
        files = [word.removeprefix("file=") for word in info[1:] if word.startswith("file=")]
        blocks.append(
            Block(
                page=page,
                line=start + 1,
                lang=info[0] if info else "",
                runnable="runnable" in info[1:],
                file=files[0] if files else None,
                text="\n".join(body) + "\n",
            )
        )
    return blocks, prose


def github_anchor(heading: str) -> str:
    """The id GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link's text only
    return re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    seen: dict[str, int] = {}
    result: set[str] = set()
    for _, line in parse(page)[1]:
        if m := HEADING.match(line):
            slug = github_anchor(m.group(2))
            count = seen.get(slug, 0)
            seen[slug] = count + 1
            result.add(slug if count == 0 else f"{slug}-{count}")
    return result


def test_pages_exist_and_readme_is_short() -> None:
    names = {page.name for page in PAGES}
    assert {"README.md", "cli.md", "aws.md", "compositions.md", "development.md"} <= names
    # The README is the first hour; reference material lives in docs/.
    assert len((ROOT / "README.md").read_text().splitlines()) <= 260


@pytest.mark.parametrize("page", LINKED_PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page: Path) -> None:
    broken: list[str] = []
    for number, line in parse(page)[1]:
        for target in LINK.findall(INLINE_CODE.sub("", line)):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto:
                continue
            path_part, _, fragment = target.partition("#")
            resolved = (page.parent / path_part).resolve() if path_part else page
            if not resolved.exists():
                broken.append(f"{page.name}:{number}: {target} (no {resolved})")
            elif fragment and resolved.suffix == ".md" and fragment not in anchors(resolved):
                broken.append(f"{page.name}:{number}: {target} (no heading #{fragment})")
    assert not broken, "broken links:\n" + "\n".join(broken)


def test_runnable_blocks_are_well_formed() -> None:
    """Markers are spelled right, the quick start's render is among the runnable blocks."""
    readme_runnable: list[str] = []
    for page in PAGES:
        for block in parse(page)[0]:
            if block.runnable:
                assert block.lang in {"sh", "python"}, f"{block.where}: runnable {block.lang!r}"
                assert block.file is None, f"{block.where}: both runnable and file="
                if page.name == "README.md":
                    readme_runnable.append(block.text)
            if block.file is not None:
                assert not Path(block.file).is_absolute() and ".." not in Path(block.file).parts, (
                    f"{block.where}: file= must be a path inside the checkout"
                )
    assert any(QUICK_START_RENDER in text for text in readme_runnable), (
        "the README's quick start render is not a runnable block"
    )


def test_shell_blocks_parse_and_continue_their_lines() -> None:
    """Every ``sh`` block, runnable or not, is valid bash, and an option never starts a line
    unless the line before ends with a continuation (a pasted command would stop there)."""
    problems: list[str] = []
    for page in PAGES:
        for block in parse(page)[0]:
            if block.lang != "sh":
                continue
            check = subprocess.run(
                ["bash", "-n"], input=block.text, capture_output=True, text=True, check=False
            )
            if check.returncode != 0:
                problems.append(f"{block.where}: {check.stderr.strip()}")
            lines = block.text.splitlines()
            for before, line in itertools.pairwise(lines):
                if re.match(r"^\s+(--?\w|\[)", line) and not before.rstrip().endswith("\\"):
                    problems.append(f"{block.where}: no continuation before {line.strip()!r}")
    assert not problems, "\n".join(problems)


def _warm_caches(projects: list[Path], scratch: Path) -> None:
    """Fetch what the projects load from CDNs (and the page runtime) while there is network."""
    runtime_path()
    for index, project in enumerate(projects):
        compile_project(project, scratch / f"warm-{index}", RemoteFetcher())


def _scratch_checkout(dest: Path) -> Path:
    shutil.copytree(ROOT, dest, ignore=SCRATCH_IGNORE, symlinks=True)
    (dest / ".venv").symlink_to(Path(sys.prefix))
    return dest


RUNNABLE_PAGES = [p for p in PAGES if any(b.runnable for b in parse(p)[0])]


@pytest.mark.slow
@pytest.mark.parametrize("page", RUNNABLE_PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_runnable_blocks_run(page: Path, tmp_path: Path) -> None:
    bwrap = lambda_sandbox.find_bwrap()
    if bwrap is None:
        pytest.skip("bubblewrap (bwrap) is missing or cannot create a network namespace here")
    blocks = parse(page)[0]
    checkout = _scratch_checkout(tmp_path / "checkout")
    for block in blocks:
        if block.file is not None:
            target = checkout / block.file
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(block.text, encoding="utf-8")
    written = {(checkout / b.file).parent for b in blocks if b.file and b.file.endswith(".html")}
    _warm_caches(sorted(p for p in EXAMPLES.iterdir() if p.is_dir()) + sorted(written), tmp_path)

    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    for block in blocks:
        if not block.runnable:
            continue
        command = (
            ["bash", "-euo", "pipefail", "-c", block.text]
            if block.lang == "sh"
            else [sys.executable, "-c", block.text]
        )
        result = subprocess.run(
            [bwrap, "--dev-bind", "/", "/", "--unshare-net", "--die-with-parent",
             "--chdir", str(checkout), "--", *command],
            env=env, capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip
        assert result.returncode == 0, (
            f"{block.where}: exit {result.returncode}\n--- block\n{block.text}"
            f"--- stdout\n{result.stdout[-3000:]}\n--- stderr\n{result.stderr[-3000:]}"
        )

    for output, (frames, width, height) in EXPECTED_OUTPUTS.get(page.name, {}).items():
        info = probe(checkout / output)
        assert (info.frame_count, info.width, info.height) == (frames, width, height), output
