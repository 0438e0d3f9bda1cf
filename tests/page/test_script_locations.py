"""Script errors name the author's file and line, never the page server's URL."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hyperframes_lambda.compile.document_prep import DEFERRED_TYPE, name_inline_scripts
from hyperframes_lambda.errors import PageScriptError
from hyperframes_lambda.page.locations import user_locations
from hyperframes_lambda.stages.plan import plan
from hyperframes_lambda.stages.render_chunk import render_chunk

_ROOT = '<div data-composition-id="t" data-width="320" data-height="180" data-duration="1"></div>'
_SERVER = re.compile(r"127\.0\.0\.1|compiled/|__hf_inline__")


def _project(
    root: Path, head: str = "", body: str = "", files: dict[str, str] | None = None
) -> Path:
    root.mkdir()
    (root / "index.html").write_text(
        '<!doctype html><html><head><meta charset="utf-8">\n'
        f"{head}</head><body>\n{_ROOT}\n{body}</body></html>\n"
    )
    for name, text in (files or {}).items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def _plan_error(tmp_path: Path, project: Path) -> str:
    with pytest.raises(PageScriptError) as caught:
        plan(project, None, tmp_path / "plan")
    return str(caught.value)


# ---- fast: the mapping itself --------------------------------------------------------


def test_served_urls_become_project_paths() -> None:
    text = (
        "Error: boom\n    at build (http://127.0.0.1:4321/compiled/js/app.js:3:9)\n"
        "http://127.0.0.1:4321/compiled/img/a%20b.png failed"
    )
    assert user_locations(text, "http://127.0.0.1:4321") == (
        "Error: boom\n    at build (js/app.js:3:9)\nimg/a b.png failed"
    )
    # Another origin is not ours to rename.
    assert user_locations("http://127.0.0.1:9/x.js:1:1", "http://127.0.0.1:4321") == (
        "http://127.0.0.1:9/x.js:1:1"
    )


def test_inline_scripts_are_named_after_their_place_in_the_original() -> None:
    original = "<html><head>\n<script>\n  a();\n</script>\n</head><body>\n<script>b()</script>\n"
    compiled = original.replace("<head>", "<head><style>x</style>\n").replace(
        "<script>b()", f'<script type="{DEFERRED_TYPE}">b()'
    )
    named = name_inline_scripts(compiled, original, "index.html")
    head_name = re.search(r"sourceURL=(\S+)", named)
    assert head_name is not None
    # The head script is run by the parser: its positions count in the (compiled) page.
    assert user_locations(f"{head_name.group(1)}:4:3: Uncaught", "") == "index.html:3:3: Uncaught"
    body_name = re.findall(r"sourceURL=(\S+)", named)[1]
    # A body script is re-inserted by the runtime: positions count from its own start.
    assert user_locations(f"{body_name}:1:1", "") == "index.html:6:9"
    # Text not found in the original (a moved sub-composition script): its ordinal.
    moved = name_inline_scripts(f'<script type="{DEFERRED_TYPE}">c()</script>', "", "index.html")
    moved_name = re.search(r"sourceURL=(\S+)", moved)
    assert moved_name is not None
    assert user_locations(f"{moved_name.group(1)}:1:2", "") == (
        "index.html (inline script 1 of the compiled page, line 1:2)"
    )


def test_json_and_ready_flags_are_left_alone() -> None:
    html = (
        '<script type="application/json">{"a": 1}</script>'
        "<script>window.__renderReady = true;</script><script src='x.js'></script>"
    )
    assert name_inline_scripts(html, html, "index.html") == html


# ---- slow: real pages ----------------------------------------------------------------


@pytest.mark.slow
def test_an_error_in_a_script_file_names_the_file_and_line(tmp_path: Path) -> None:
    app = "// the app\nfunction build() {\n  throw new Error('boom');\n}\nbuild();\n"
    project = _project(
        tmp_path / "p", body='<script src="js/app.js"></script>\n', files={"js/app.js": app}
    )
    message = _plan_error(tmp_path, project)
    assert "js/app.js:3" in message and "boom" in message, message
    assert not _SERVER.search(message), message


@pytest.mark.slow
@pytest.mark.parametrize(
    ("head", "body", "where"),
    [
        # A head script (run by the parser) and a body script (run by the runtime, later).
        ("<script>\n  window.a = 1;\n  null.f();\n</script>\n", "", "index.html:4:8"),
        ("", "<script>\n  window.b = 2;\n</script>\n<script>\n  throw new Error('x');\n</script>\n",
         "index.html:8:3"),
    ],
)  # fmt: skip
def test_an_error_in_an_inline_script_names_the_entry_line(
    tmp_path: Path, head: str, body: str, where: str
) -> None:
    message = _plan_error(tmp_path, _project(tmp_path / "p", head=head, body=body))
    assert where in message, message
    assert not _SERVER.search(message), message


@pytest.mark.slow
def test_an_error_while_seeking_names_the_file_and_line(tmp_path: Path) -> None:
    seek = (
        "window.addEventListener('hf-seek', () => {\n"
        "  if (performance.now() > 500) throw new Error('late');\n"
        "});\n"
    )
    project = _project(
        tmp_path / "p", body='<script src="js/seek.js"></script>\n', files={"js/seek.js": seek}
    )
    planned = plan(project, {"chunkSize": 30}, tmp_path / "plan")
    with pytest.raises(PageScriptError) as caught:
        render_chunk(planned.plan_dir, 0, tmp_path / "chunk.mp4")
    message = str(caught.value)
    assert "js/seek.js:2" in message and "late" in message, message
    assert not _SERVER.search(message), message
