"""The page server: what a 404 means depends on who asked."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

import pytest

from hyperframes_lambda.browser.page_server import PageServer, ServedFile


def _get(url: str, dest: str) -> int:
    request = urllib.request.Request(url, headers={"Sec-Fetch-Dest": dest})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def test_only_what_the_document_loads_counts_as_missing(tmp_path: Path) -> None:
    with PageServer(tmp_path) as server:
        assert _get(server.url("gone.js"), "script") == 404
        assert _get(server.url("caption-overrides.json"), "empty") == 404  # fetch(): the page's
        assert _get(server.url("img.png"), "image") == 404
    assert server.missing == ["/gone.js", "/img.png"]


def test_routes_and_the_entry_transform(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<head></head>")
    (tmp_path / "other.html").write_text("<head></head>")
    server = PageServer(
        tmp_path,
        routes={"/__x.js": ServedFile(b"1;", "text/javascript")},
        entry="index.html",
        transform=lambda html: html.replace("<head>", "<head><!--injected-->"),
    )
    with server:
        with urllib.request.urlopen(server.url("index.html"), timeout=5) as response:
            assert b"<!--injected-->" in response.read()
        with urllib.request.urlopen(server.url("other.html"), timeout=5) as response:
            assert b"injected" not in response.read()
        with urllib.request.urlopen(server.url("__x.js"), timeout=5) as response:
            assert response.read() == b"1;"
            assert response.headers["Content-Type"] == "text/javascript"


@pytest.mark.parametrize("dest", ["style", "font", "video"])
def test_document_loads_are_recorded(tmp_path: Path, dest: str) -> None:
    with PageServer(tmp_path) as server:
        _get(server.url(f"x.{dest}"), dest)
    assert server.missing == [f"/x.{dest}"]
