"""Script error locations as the author knows them: ``js/app.js:3:9``, ``index.html:13:5``.

The page runs from the page server (``http://127.0.0.1:PORT/compiled/…``) and the entry's
inline scripts run under names given at compile time
(:func:`.document_prep.name_inline_scripts`). Messages that reach the user say the project
file and its line instead.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

# The plan directory serves the compiled project under this path (plan.COMPILED_DIR).
COMPILED_URL_PREFIX = "/compiled/"

_INLINE = re.compile(
    r"(?:https?://[^\s/()]+/(?:[^\s()]*/)?)?__hf_inline__/(\d+)/(\d+):(\d+)/(\d+):(\d+)/"
    r"([^\s:()'\"]+)(?::(\d+)(?::(\d+))?)?"
)


def project_path(url_path: str) -> str:
    """A path the page server serves, as the project-relative path the author wrote."""
    path = unquote(url_path)
    if path.startswith(COMPILED_URL_PREFIX):
        return path[len(COMPILED_URL_PREFIX) :]
    return path.lstrip("/")


def _inline_location(match: re.Match[str]) -> str:
    ordinal, line, column, page_line, page_column = (int(g) for g in match.groups()[:5])
    entry = match.group(6)
    if match.group(7) is None:
        return f"{entry} (inline script {ordinal})"
    at_line, at_column = int(match.group(7)), int(match.group(8) or 0)
    if page_line:  # a parser-run script: positions count in the served page
        at_line, at_column = (
            at_line - page_line + 1,
            at_column - page_column + 1 if at_line == page_line else at_column,
        )
    if line and at_line >= 1:
        original_column = column + at_column - 1 if at_line == 1 else at_column
        return f"{entry}:{line + at_line - 1}" + (f":{original_column}" if at_column else "")
    where = f"line {at_line}" + (f":{at_column}" if at_column else "")
    return f"{entry} (inline script {ordinal} of the compiled page, {where})"


def user_locations(text: str, origin: str) -> str:
    """``text`` with the page server's URLs and inline-script names made project paths."""
    text = _INLINE.sub(_inline_location, text)
    if not origin:
        return text
    served = re.compile(re.escape(origin.rstrip("/")) + r"(/[^\s:()'\"]*)")
    return served.sub(lambda m: project_path(m.group(1)), text)
