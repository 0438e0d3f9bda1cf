"""Deterministic fonts: generic-first normalisation, requested families, bundled faces."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import io
import json
import re
import tarfile
from pathlib import Path

import pytest

from hyperframes_lambda.compile import deterministic_fonts as df
from hyperframes_lambda.compile.deterministic_fonts import (
    BUNDLED_LATIN_UNICODE_RANGE,
    CANONICAL_FONTS,
    FONT_ALIASES,
    inject_deterministic_fonts,
    normalize_generic_first,
    requested_families,
)
from hyperframes_lambda.errors import AssetIntegrityError, FontFetchUnavailableError
from hyperframes_lambda.net import npm_registry

UNREACHABLE_REGISTRY = "https://registry.invalid"
STYLE = re.compile(r'<style data-hyperframes-deterministic-fonts="true">(.*?)</style>', re.S)


def page(head: str = "", body: str = "x") -> str:
    return f"<!DOCTYPE html><html><head>{head}</head><body>{body}</body></html>"


def injected_faces(html: str) -> list[str]:
    """``family:weight`` of every injected rule, in order."""
    match = STYLE.search(html)
    if match is None:
        return []
    return [
        f"{family}:{weight}"
        for family, weight in re.findall(
            r'font-family: "([^"]+)";.*?font-weight: (\d+);', match.group(1), re.S
        )
    ]


def fake_face(package: str, path: str) -> bytes:
    return f"woff2 of {package}/{path}".encode()


@pytest.fixture
def fake_registry(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, str]]:
    """Face files served without the network, with the pins set to their hashes."""
    calls: list[tuple[str, str, str]] = []

    def read_package_file(package: str, version: str, path: str) -> bytes:
        calls.append((package, version, path))
        return fake_face(package, path)

    monkeypatch.setattr(npm_registry, "read_package_file", read_package_file)
    for key, font in CANONICAL_FONTS.items():
        faces = tuple(
            dataclasses.replace(
                face,
                sha256=hashlib.sha256(fake_face(font.package, font.package_path(face))).hexdigest(),
            )
            for face in font.faces
        )
        monkeypatch.setitem(CANONICAL_FONTS, key, dataclasses.replace(font, faces=faces))
    return calls


# --- the tables ------------------------------------------------------------------------


def test_pinned_table_matches_the_reference_bundle() -> None:
    weights = {key: [face.weight for face in font.faces] for key, font in CANONICAL_FONTS.items()}
    assert sum(len(w) for w in weights.values()) == 42
    for key in ("inter", "montserrat", "outfit", "nunito", "playfair-display", "roboto", "lato",
                "poppins"):  # fmt: skip
        assert weights[key] == [400, 700, 900]
    for key in ("oswald", "space-mono", "ibm-plex-mono", "jetbrains-mono", "eb-garamond",
                "source-code-pro", "noto-sans-jp", "open-sans"):  # fmt: skip
        assert weights[key] == [400, 700]
    assert weights["league-gothic"] == weights["archivo-black"] == [400]
    inter = CANONICAL_FONTS["inter"]
    assert (inter.package, inter.version) == ("@fontsource/inter", "5.2.8")
    assert inter.package_path(inter.faces[0]) == "files/inter-latin-400-normal.woff2"
    assert inter.faces[0].sha256 == (
        "8909904ab6c872eb994093482a88a28eca2cd95912d7b6fecd72103b0dc07edc"
    )
    assert CANONICAL_FONTS["roboto"].version == "5.2.10"
    for font in CANONICAL_FONTS.values():
        assert font.package == f"@fontsource/{font.slug}"
        assert all(re.fullmatch(r"[0-9a-f]{64}", face.sha256) for face in font.faces)


def test_aliases() -> None:
    assert all(key == key.lower().strip() for key in FONT_ALIASES)
    assert set(FONT_ALIASES.values()) == set(CANONICAL_FONTS)
    assert len(FONT_ALIASES) == 69
    expect = {
        "Helvetica": "inter", "'Helvetica Neue'": "inter", "ARIAL": "inter",
        "SF Pro Display": "inter", "Arial Black": "montserrat", "Futura": "montserrat",
        "Bebas Neue": "league-gothic", "Segoe UI": "roboto", "Courier New": "jetbrains-mono",
        "Menlo": "jetbrains-mono", "Times New Roman": "eb-garamond", "Georgia": "eb-garamond",
        "Noto Sans Japanese": "noto-sans-jp", "Playfair Display": "playfair-display",
    }  # fmt: skip
    for family, canonical in expect.items():
        assert df.canonical_font(family) == CANONICAL_FONTS[canonical], family
    for family in ("Impact", "Comic Sans MS", "HelveticaNeue", "Helvetica  Neue", "sans-serif"):
        assert df.canonical_font(family) is None, family


def test_split_families() -> None:
    assert df.split_families(' "Helvetica Neue" , Arial,sans-serif ') == [
        "Helvetica Neue",
        "Arial",
        "sans-serif",
    ]
    assert df.split_families("var(--a, X, Y), 'Z'") == ["var(--a, X, Y)", "Z"]
    assert df.split_families("'a,b', c") == ["a,b", "c"]
    assert df.split_families(" , ") == []


# --- normalize_generic_first ---------------------------------------------------------


def test_generic_first_family_gets_inter_in_front() -> None:
    html = page(
        "<style>\nbody { font-family: system-ui, sans-serif; color: red }\n"
        ".a{font-family:'SANS-SERIF', Arial} .b{font-family: Arial, sans-serif}\n"
        ".c{font-family: monospace !important}\n"
        "@font-face { font-family: serif; src: url(a.woff2) }\n"
        "@media (min-width: 1px) { .d { font-family: -apple-system } }\n</style>"
    )
    out = normalize_generic_first(html)
    assert out == html.replace("font-family: system-ui", "font-family: Inter, system-ui").replace(
        "font-family:'SANS-SERIF'", "font-family:Inter, 'SANS-SERIF'"
    ).replace("monospace !important", "Inter, monospace !important").replace(
        "font-family: -apple-system", "font-family: Inter, -apple-system"
    )
    assert "font-family: serif; src" in out  # @font-face is not touched
    assert normalize_generic_first(out) == out  # idempotent


def test_generic_first_in_attributes_and_custom_properties() -> None:
    html = page(
        "<style>:root{--f: serif; --n: 10px; --g: Georgia}</style>",
        '<div style="color: red; font-family: cursive">a</div>'
        "<div style='font-family:Arial'>b</div>"
        '<p data-font-family="fantasy, serif">c</p>'
        '<template><div style="font-family: serif">t</div></template>',
    )
    out = normalize_generic_first(html)
    assert "--f: Inter, serif; --n: 10px; --g: Georgia" in out
    assert '<div style="color: red; font-family: Inter, cursive">a</div>' in out
    assert "<div style='font-family:Arial'>b</div>" in out
    assert '<p data-font-family="Inter, fantasy, serif">c</p>' in out
    assert '<template><div style="font-family: serif">t</div></template>' in out


def test_generic_first_through_var() -> None:
    html = page(
        "<style>:root{--defined: Lato}\n"
        ".a{font-family: var(--defined, serif)}\n"
        ".b{font-family: var(--undefined, serif)}\n"
        ".c{font-family: var(--undefined)}\n"
        ".d{font-family: var(--u1, var(--u2, monospace))}\n"
        ".e{font-family: var(--u3, Arial), serif}</style>"
    )
    out = normalize_generic_first(html)
    assert ".a{font-family: var(--defined, serif)}" in out
    assert ".b{font-family: var(--undefined, Inter, serif)}" in out
    assert ".c{font-family: var(--undefined)}" in out
    assert ".d{font-family: var(--u1, var(--u2, Inter, monospace))}" in out
    assert ".e{font-family: var(--u3, Arial), serif}" in out


def test_normalize_leaves_everything_else_byte_identical() -> None:
    html = page(
        "<meta charset=utf-8><style>b{font-family:serif}</style>",
        "<script>const s = 'font-family: serif';</script><!-- <style>a{font-family:serif}</style> -->",
    )
    out = normalize_generic_first(html)
    assert out == html.replace("b{font-family:serif}", "b{font-family:Inter, serif}")
    unchanged = page("<style>b{font-family:Arial}</style>")
    assert normalize_generic_first(unchanged) == unchanged


# --- requested_families --------------------------------------------------------------


def test_requested_families_order_and_sources() -> None:
    html = page(
        "<style>.a{font-family: Lato, 'Helvetica Neue', sans-serif}</style>",
        '<div style="font-family: Roboto; font: 12px Impact">x</div>'
        '<p data-font-family="Oswald">y</p>'
        "<style>.b{font-family: Poppins, inherit} .c{font-family: LATO}</style>"
        "<template><style>.t{font-family: Nunito}</style></template>"
        "<script>el.style.fontFamily = 'Outfit'; ctx.font = '12px Montserrat';</script>",
    )
    # style elements in document order, then style attributes, then data-font-family
    assert requested_families(html) == [
        "Lato",
        "Helvetica Neue",
        "Poppins",
        "Roboto",
        "Oswald",
    ]


def test_requested_families_resolve_vars() -> None:
    html = page(
        "<style>:root{--brand: 'Space Mono', monospace; --alias: var(--brand)}\n"
        ".a{font-family: var(--brand), Georgia}\n"
        ".b{font-family: var(--alias)}\n"
        ".c{font-family: var(--missing, 'Courier New'), Menlo}\n"
        ".d{font-family: var(--missing)}\n"
        ".e{font-family: Verdana, var(--brand)}</style>",
        '<div style="--late: Tahoma"><i style="font-family: var(--late)">x</i></div>',
    )
    assert requested_families(html) == [
        "Space Mono",
        "Georgia",
        "Courier New",
        "Menlo",
        "Verdana",
        "Tahoma",
    ]


def test_requested_families_skip_declared_faces() -> None:
    html = page(
        "<style>@font-face { font-family: 'Brand Sans'; src: url(b.woff2) }\n"
        ".a{font-family: 'brand sans', Arial, Helvetica}</style>",
        "<script>const css = '@font-face{font-family: Helvetica; src: url(h.woff2)}';</script>",
    )
    assert requested_families(html) == ["Arial"]


# --- inject_deterministic_fonts ------------------------------------------------------


def test_rule_shape_and_files(tmp_path: Path, fake_registry: list[tuple[str, str, str]]) -> None:
    html = page("<style>h1{font-family:'Helvetica Neue', Arial, sans-serif}</style>")
    out, warnings = inject_deterministic_fonts(html, tmp_path)
    assert warnings == []
    css = STYLE.search(out)
    assert css is not None
    rule = (
        "@font-face {\n"
        '  font-family: "Helvetica Neue";\n'
        '  src: url("_fonts/hf/inter-latin-400-normal.woff2") format("woff2");\n'
        "  font-style: normal;\n"
        "  font-weight: 400;\n"
        "  font-display: block;\n"
        f"  unicode-range: {BUNDLED_LATIN_UNICODE_RANGE};\n"
        "}"
    )
    assert css.group(1).startswith(rule + "\n\n@font-face {")
    assert BUNDLED_LATIN_UNICODE_RANGE.startswith("U+0000-00FF, U+0131, U+0152-0153")
    assert BUNDLED_LATIN_UNICODE_RANGE.endswith("U+2212, U+2215, U+FEFF, U+FFFD")
    assert injected_faces(out) == [
        "Helvetica Neue:400", "Helvetica Neue:700", "Helvetica Neue:900",
        "Arial:400", "Arial:700", "Arial:900",
    ]  # fmt: skip
    # One copy of each face file, fetched once, though two families use it.
    folder = tmp_path / "_fonts" / "hf"
    names = [f"inter-latin-{w}-normal.woff2" for w in (400, 700, 900)]
    assert sorted(p.name for p in folder.iterdir()) == names
    assert (folder / names[0]).read_bytes() == fake_face("@fontsource/inter", f"files/{names[0]}")
    assert fake_registry == [("@fontsource/inter", "5.2.8", f"files/{n}") for n in names]
    # Everything but the inserted element is unchanged.
    assert out.replace(css.group(0), "") == html


def test_faces_use_the_authored_name_and_their_canonical_files(
    tmp_path: Path, fake_registry: list[tuple[str, str, str]]
) -> None:
    html = page(
        "<style>.a{font-family: 'Courier New', Courier} .b{font-family: 'arial black'}"
        " .c{font-family: 'Bebas Neue'}</style>"
    )
    out, _ = inject_deterministic_fonts(html, tmp_path, fonts_url_dir="assets/fonts/")
    assert injected_faces(out) == [
        "Courier New:400", "Courier New:700", "Courier:400", "Courier:700",
        "arial black:400", "arial black:700", "arial black:900", "Bebas Neue:400",
    ]  # fmt: skip
    assert 'url("assets/fonts/jetbrains-mono-latin-700-normal.woff2")' in out
    assert 'url("assets/fonts/montserrat-latin-900-normal.woff2")' in out
    assert 'url("assets/fonts/league-gothic-latin-400-normal.woff2")' in out
    assert (tmp_path / "assets/fonts/league-gothic-latin-400-normal.woff2").is_file()


def test_optional_families_come_last(
    tmp_path: Path, fake_registry: list[tuple[str, str, str]]
) -> None:
    html = page("<style>.a{font-family: var(--nope, Georgia), Roboto}</style>")
    out, _ = inject_deterministic_fonts(html, tmp_path)
    assert requested_families(html) == ["Georgia", "Roboto"]
    assert [f.split(":")[0] for f in injected_faces(out)] == ["Roboto"] * 3 + ["Georgia"] * 2


@pytest.mark.parametrize(
    ("html", "before"),
    [
        # after the last <style>, even one in <body>
        (
            "<html><head><style>a{font-family:Arial}</style></head>"
            "<body><p>x</p><style>b{}</style><div>y</div></body></html>",
            "<style>b{}</style>",
        ),
        # after the last <link rel~=stylesheet>
        (
            "<html><head><style>a{font-family:Arial}</style>"
            "<link rel='preload stylesheet' href=x.css><meta name=x></head><body></body></html>",
            "<link rel='preload stylesheet' href=x.css>",
        ),
        # not after a <style> inside <template> content
        (
            "<html><head><link rel=stylesheet href=a.css><template><style>t{}</style></template>"
            "</head><body style='font-family:Arial'></body></html>",
            "<link rel=stylesheet href=a.css>",
        ),
        # no stylesheet: at the end of <head>
        (
            "<html><head><meta charset=utf-8><title>t</title></head>"
            "<body><p style='font-family:Arial'>x</p></body></html>",
            "<title>t</title>",
        ),
    ],
)
def test_placement(
    html: str, before: str, tmp_path: Path, fake_registry: list[tuple[str, str, str]]
) -> None:
    out, _ = inject_deterministic_fonts(html, tmp_path)
    match = STYLE.search(out)
    assert match is not None
    assert out[: match.start()].endswith(before)
    assert out[: match.start()] + out[match.end() :] == html


def test_nothing_inserted_without_head_or_rules(
    tmp_path: Path, fake_registry: list[tuple[str, str, str]]
) -> None:
    no_head = "<html><body><p style='font-family:Arial'>x</p></body></html>"
    assert inject_deterministic_fonts(no_head, tmp_path) == (no_head, [])
    assert fake_registry == [] and not (tmp_path / "_fonts").exists()  # nothing fetched
    no_rules = page("<style>a{font-family: sans-serif} b{font-family: Impact}</style>")
    out, warnings = inject_deterministic_fonts(no_rules, tmp_path)
    assert out == no_rules
    assert warnings == ["font family 'Impact' has no bundled face; it renders in a fallback font"]
    declared = page(
        "<style>@font-face{font-family:Arial;src:url(a.woff2)} a{font-family:Arial}</style>"
    )
    assert inject_deterministic_fonts(declared, tmp_path) == (declared, [])


def test_warnings_name_unresolved_families_only(
    tmp_path: Path, fake_registry: list[tuple[str, str, str]]
) -> None:
    html = page(
        '<link rel="stylesheet" href="https://fonts.googleapis.com/css2?family=Bungee:wght@400'
        '&family=Roboto+Slab&display=swap">'
        "<style>@font-face{font-family:'Mine';src:url(m.woff2)}\n"
        "a{font-family: Mine, Impact, Bungee, 'Roboto Slab', Arial, system-ui, serif, inherit}\n"
        "b{font-family: 'Comic Sans MS', Impact}</style>"
    )
    out, warnings = inject_deterministic_fonts(html, tmp_path)
    assert injected_faces(out) == ["Arial:400", "Arial:700", "Arial:900"]
    assert warnings == [
        "font family 'Comic Sans MS' has no bundled face; it renders in a fallback font",
        "font family 'Impact' has no bundled face; it renders in a fallback font",
    ]


def test_family_declared_under_another_spelling(
    tmp_path: Path, fake_registry: list[tuple[str, str, str]]
) -> None:
    html = page(
        "<style>@font-face{font-family:'Brand Sans';src:url(brand.woff2) format('woff2');"
        "font-weight:700}\n.a{font-family: BrandSans}</style>"
        '<link rel="stylesheet" href="https://fonts.googleapis.com/css2?family=Playfair+Display">'
        "<style>.b{font-family: 'playfair-display'}</style>"
    )
    out, warnings = inject_deterministic_fonts(html, tmp_path)
    match = STYLE.search(out)
    assert match is not None
    css = match.group(1)
    assert css.startswith(
        "@font-face{font-family:\"BrandSans\";src:url(brand.woff2) format('woff2');"
        "font-weight:700}\n\n@font-face {"
    )
    assert injected_faces(out)[-3:] == [f"playfair-display:{w}" for w in (400, 700, 900)]
    assert len(warnings) == 2 and "'BrandSans' is not a known family" in warnings[0]
    assert "'Brand Sans'" in warnings[0] and "'Playfair Display'" in warnings[1]


def test_existing_output_files_are_checked(
    tmp_path: Path, fake_registry: list[tuple[str, str, str]]
) -> None:
    folder = tmp_path / "_fonts" / "hf"
    folder.mkdir(parents=True)
    stale = folder / "roboto-latin-400-normal.woff2"
    stale.write_bytes(b"stale")
    good = folder / "roboto-latin-700-normal.woff2"
    good.write_bytes(fake_face("@fontsource/roboto", f"files/{good.name}"))
    inject_deterministic_fonts(page("<style>a{font-family:'Segoe UI'}</style>"), tmp_path)
    assert stale.read_bytes() == fake_face("@fontsource/roboto", f"files/{stale.name}")
    fetched = [path for _, _, path in fake_registry]
    assert fetched == ["files/roboto-latin-400-normal.woff2", "files/roboto-latin-900-normal.woff2"]


# --- integrity and the real registry ---------------------------------------------------


def _poison_cached_tarball(package: str, version: str, files: dict[str, bytes]) -> None:
    """A cached tarball whose integrity record matches it, but whose files are not npm's."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(f"package/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    dest = npm_registry.tarball_path(package, version)
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(buffer.getvalue())
    sri = "sha512-" + base64.b64encode(hashlib.sha512(buffer.getvalue()).digest()).decode()
    sidecar = dest.with_name(dest.name + ".integrity.json")
    sidecar.write_text(json.dumps({"sri": sri, "url": "https://example.invalid/x.tgz"}))


def test_a_face_that_is_not_the_pinned_one_is_refused(
    temp_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HYPERFRAMES_NPM_REGISTRY", UNREACHABLE_REGISTRY)  # no network needed
    _poison_cached_tarball(
        "@fontsource/inter",
        "5.2.8",
        {f"files/inter-latin-{w}-normal.woff2": b"not inter" for w in (400, 700, 900)},
    )
    out_dir = tmp_path / "out"
    with pytest.raises(AssetIntegrityError) as info:
        inject_deterministic_fonts(page("<style>a{font-family:Arial}</style>"), out_dir)
    message = str(info.value)
    assert "@fontsource/inter@5.2.8" in message
    assert "files/inter-latin-400-normal.woff2" in message
    assert "sha256 mismatch" in message
    assert not (out_dir / "_fonts" / "hf" / "inter-latin-400-normal.woff2").exists()


def test_unreachable_registry_is_retryable(
    temp_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HYPERFRAMES_NPM_REGISTRY", UNREACHABLE_REGISTRY)
    with pytest.raises(FontFetchUnavailableError, match=r"@fontsource/lato@5\.2\.7"):
        inject_deterministic_fonts(page("<style>a{font-family:Lato}</style>"), tmp_path)


@pytest.mark.network
def test_real_inter_faces_match_the_pins(temp_cache: Path, tmp_path: Path) -> None:
    html = page("<style>body{font-family: Inter, sans-serif}</style>")
    out, warnings = inject_deterministic_fonts(html, tmp_path)
    assert warnings == []
    assert injected_faces(out) == ["Inter:400", "Inter:700", "Inter:900"]
    inter = CANONICAL_FONTS["inter"]
    for face in inter.faces:
        data = (tmp_path / "_fonts" / "hf" / inter.file_name(face)).read_bytes()
        assert data[:4] == b"wOF2"
        assert hashlib.sha256(data).hexdigest() == face.sha256
    assert npm_registry.tarball_path("@fontsource/inter", "5.2.8").is_file()
    assert npm_registry.tarball_path("@fontsource/inter", "5.2.8").is_relative_to(temp_cache)
