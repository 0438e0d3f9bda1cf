"""The Lambda ZIP (build/build_zip.py): deterministic, under the size gate, self-contained —
and run from its extracted tree in a Lambda-like bubblewrap sandbox (build/lambda_sandbox.py)
under Python 3.12 through awslambdaric, rendering a composition that loads GSAP from a CDN
URL end to end (plan → chunks → assemble) with the frames of a local render."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from hyperframes_lambda.cache import file_sha256
from hyperframes_lambda.compile import deterministic_fonts
from hyperframes_lambda.local.rie import LocalLambda

from .conftest import COMPOSITIONS, ROOT
from .pipeline_helpers import decoded

sys.path.insert(0, str(ROOT / "build"))
import build_zip
import lambda_sandbox

PROJECT = COMPOSITIONS / "lambda-zip"
LOSSLESS = '{"crf": 0}'
FRAMES = 30


def zip_listing(path: Path) -> list[tuple[str, int, int]]:
    with zipfile.ZipFile(path) as archive:
        return [(i.filename, i.file_size, i.CRC) for i in archive.infolist()]


# --- fast: pieces of the build -------------------------------------------------------------


def test_elf_check(tmp_path: Path) -> None:
    from hyperframes_lambda.media.ffmpeg import ffmpeg_exe

    build_zip.check_elf_x86_64(Path(ffmpeg_exe()))
    script = tmp_path / "script"
    script.write_bytes(b"#!/bin/sh\necho hi\n" + b"\0" * 64)
    with pytest.raises(build_zip.BuildError, match="not an ELF"):
        build_zip.check_elf_x86_64(script)
    arm = tmp_path / "arm"
    arm.write_bytes(b"\x7fELF\x02\x01\x01" + b"\0" * 11 + (0xB7).to_bytes(2, "little") + b"\0" * 44)
    with pytest.raises(build_zip.BuildError, match="not x86-64"):
        build_zip.check_elf_x86_64(arm)


def test_size_gate_reports_the_largest_entries() -> None:
    entries = [build_zip.Entry(f"f{i}", i * 2**20, i * 2**19) for i in range(1, 30)]
    report = build_zip.size_report(entries, 100 * 2**20, 248)
    assert report.splitlines()[1].endswith("f29") and "unzipped: 435.0 MiB" in report
    assert build_zip.over_limit(entries, 248) and not build_zip.over_limit(entries[:5], 248)


def test_over_the_gate_exits_1_and_removes_the_zip(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def fake_build(out: Path, work: Path, cache: Path) -> tuple[list[build_zip.Entry], dict]:
        out.write_bytes(b"PK")
        return [build_zip.Entry("chromium/chromium.br", 300 * 2**20, 300 * 2**20)], {}

    monkeypatch.setattr(build_zip, "build", fake_build)
    out = tmp_path / "dist" / "hyperframes-lambda.zip"
    out.parent.mkdir()
    assert build_zip.main(["--out", str(out), "--work", str(tmp_path / "w")]) == 1
    captured = capsys.readouterr()
    assert "chromium/chromium.br" in captured.out and "unzipped: 300.0 MiB" in captured.out
    assert "over the 248 MiB gate" in captured.err and not out.exists()
    assert build_zip.main(["--out", str(out), "--limit-mib", "400"]) == 0 and out.exists()


def test_vendored_font_is_checked_and_needs_no_registry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(deterministic_fonts, "VENDOR_FONTS_DIR", tmp_path / "fonts")
    monkeypatch.setenv("HYPERFRAMES_NPM_REGISTRY", "http://127.0.0.1:9")  # nothing listens
    font = deterministic_fonts.CANONICAL_FONTS["inter"]
    face = font.faces[0]
    path = deterministic_fonts.vendored_face_path(font, face)
    assert path == tmp_path / "fonts" / "@fontsource/inter@5.2.8/files/inter-latin-400-normal.woff2"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not the pinned face")
    from hyperframes_lambda.errors import AssetIntegrityError

    with pytest.raises(
        AssetIntegrityError, match=r"inter-latin-400-normal\.woff2: sha256 mismatch"
    ):
        deterministic_fonts.bundled_face_bytes(font, face)


# --- slow: the real ZIP ---------------------------------------------------------------------


@pytest.fixture(scope="session")
def lambda_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One ZIP per session (``HYPERFRAMES_TEST_LAMBDA_ZIP`` reuses a built one)."""
    reuse = os.environ.get("HYPERFRAMES_TEST_LAMBDA_ZIP")
    if reuse:
        return Path(reuse)
    out = tmp_path_factory.mktemp("zip-a") / "hyperframes-lambda.zip"
    build_zip.build(out, tmp_path_factory.mktemp("zip-a-work"), build_zip.DEFAULT_CACHE)
    return out


@pytest.mark.slow
@pytest.mark.network
def test_zip_contents(lambda_zip: Path) -> None:
    from hyperframes_lambda.media.ffmpeg import ffmpeg_exe, ffmpeg_version_line
    from hyperframes_lambda.page.official_runtime import PINNED

    listing = {name: size for name, size, _crc in zip_listing(lambda_zip)}
    assert "hyperframes_lambda/handler/dispatch.py" in listing and "boto3/__init__.py" in listing
    assert sum(listing.values()) <= build_zip.SIZE_LIMIT_MIB * 2**20
    assert not [n for n in listing if n.endswith(".pyc") or "/__pycache__/" in n]
    assert not [n for n in listing if n.startswith("imageio_ffmpeg/binaries/ffmpeg-")]
    assert not [n for n in listing if n.startswith(("awslambdaric/", "bin/"))]
    assert {f"chromium/{name}" for name in ("chromium.br", "al2023.tar.br")} <= set(listing)
    faces = sum(len(font.faces) for font in deterministic_fonts.CANONICAL_FONTS.values())
    vendored_fonts = [n for n in listing if n.startswith("hyperframes_lambda/_vendor/fonts/")]
    assert len(vendored_fonts) == faces
    with zipfile.ZipFile(lambda_zip) as archive:
        runtime = archive.read(f"hyperframes_lambda/_vendor/{PINNED.file_name}")
        manifest = json.loads(archive.read("ffmpeg/ffmpeg.json"))
        info = archive.getinfo("ffmpeg/ffmpeg.gz")
    assert hashlib.sha256(runtime).hexdigest() == PINNED.sha256
    # The very ffmpeg the local renderer runs, so local plans pass the version check.
    assert manifest["sha256"] == file_sha256(Path(ffmpeg_exe()))
    assert manifest["version"] == ffmpeg_version_line()
    assert info.compress_type == zipfile.ZIP_STORED and info.file_size < manifest["size"] / 2


@pytest.mark.slow
@pytest.mark.network
def test_two_builds_are_identical(lambda_zip: Path, tmp_path: Path) -> None:
    if os.environ.get("HYPERFRAMES_TEST_LAMBDA_ZIP"):
        pytest.skip("HYPERFRAMES_TEST_LAMBDA_ZIP: a reused ZIP, not a build of this session")
    again = tmp_path / "again.zip"
    assert build_zip.main(["--out", str(again), "--work", str(tmp_path / "work")]) == 0
    assert zip_listing(again) == zip_listing(lambda_zip)
    assert file_sha256(again) == file_sha256(lambda_zip)


# --- slow: the Lambda-like sandbox ------------------------------------------------------------


@pytest.fixture(scope="session")
def sandbox_tools() -> tuple[str, str]:
    python = lambda_sandbox.find_python312()
    bwrap = lambda_sandbox.find_bwrap()
    if python is None:
        pytest.skip("no CPython 3.12 (set HYPERFRAMES_PYTHON312, or install it with pyenv)")
    if bwrap is None:
        pytest.skip("bubblewrap (bwrap) is missing or cannot create namespaces here")
    return python, bwrap


@pytest.fixture(scope="session")
def extracted(
    lambda_zip: Path, sandbox_tools: tuple[str, str], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path]:
    """(/var/task, /var/runtime) trees: the extracted ZIP and awslambdaric for 3.12."""
    root = tmp_path_factory.mktemp("lambda-fs")
    task = lambda_sandbox.extract_zip(lambda_zip, root / "task")
    runtime = lambda_sandbox.install_runtime(root / "runtime")
    return task, runtime


@pytest.fixture
def npm_mirror() -> Iterator[lambda_sandbox.NpmMirror]:
    with lambda_sandbox.npm_mirror([("gsap", "3.12.5")]) as mirror:
        yield mirror


def run_local(*args: str | Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hyperframes_lambda.local", *map(str, args)],
        capture_output=True, text=True, timeout=900, check=False, env={**os.environ, **env},
    )  # fmt: skip


def frame_hashes(frames: list[np.ndarray]) -> list[str]:
    return [hashlib.sha256(f.tobytes()).hexdigest()[:16] for f in frames]


def rerender_chunks(
    emulator: LocalLambda, bucket: str, s3_endpoint: str
) -> tuple[list[str], list[str]]:
    """(SHA-256 of each chunk the run stored, of the same chunk rendered again)."""
    import boto3

    s3 = boto3.client("s3", endpoint_url=s3_endpoint)
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"])
    plan_key = next(k for k in keys if k.endswith("/plan.tar.gz"))
    plan_hash = s3.head_object(Bucket=bucket, Key=plan_key)["Metadata"]["plan-hash"]
    chunk_keys = [k for k in keys if "/chunks/" in k and k.endswith(".mp4")]
    originals = [s3.head_object(Bucket=bucket, Key=k)["Metadata"]["sha256"] for k in chunk_keys]
    rerendered = []
    for index in range(len(chunk_keys)):
        outcome = emulator.invoke(
            {"Action": "renderChunk", "PlanS3Uri": f"s3://{bucket}/{plan_key}",
             "PlanHash": plan_hash, "ChunkIndex": index,
             "ChunkOutputS3Prefix": f"s3://{bucket}/warm/", "Format": "mp4"},
            timeout=300,
        )  # fmt: skip
        assert outcome.ok, outcome.payload
        assert outcome.payload["Reused"] is False
        rerendered.append(outcome.payload["Sha256"])
    return originals, rerendered


@pytest.mark.slow
@pytest.mark.network
def test_zip_renders_in_lambda_sandbox(
    extracted: tuple[Path, Path],
    sandbox_tools: tuple[str, str],
    npm_mirror: lambda_sandbox.NpmMirror,
    bucket: str,
    s3_endpoint: str,
    tmp_path: Path,
) -> None:
    task, runtime = extracted
    python, bwrap = sandbox_tools
    # The local render: the same Chromium build (the ZIP's pack, decompressed on this host),
    # the same ffmpeg (imageio-ffmpeg's, which the ZIP carries), no sandbox, no Lambda flags.
    local_tmp = tmp_path / "local-tmp"
    local_tmp.mkdir()
    local = run_local(
        PROJECT, "-o", tmp_path / "local.mp4", "--parallel", "1", "--config", LOSSLESS,
        env={"HYPERFRAMES_BUNDLED_CHROMIUM_DIR": str(task / "chromium"), "TMPDIR": str(local_tmp)},
    )  # fmt: skip
    assert local.returncode == 0, local.stderr

    sandbox = lambda_sandbox.Sandbox(
        task, runtime, tmp_path / "containers", python, bwrap,
        env={
            "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing", "AWS_ENDPOINT_URL": s3_endpoint,
            "HYPERFRAMES_S3_ENDPOINT_URL": s3_endpoint, "HYPERFRAMES_RENDER_BUCKET": bucket,
            "HYPERFRAMES_NPM_REGISTRY": npm_mirror.url,
            "POWERTOOLS_METRICS_NAMESPACE": "HyperFramesTest",
        },
    )  # fmt: skip
    launcher = sandbox.launcher(tmp_path / "launcher")
    logs = tmp_path / "lambda.log"
    out = tmp_path / "lambda.mp4"
    with (
        logs.open("w") as sink,
        LocalLambda(
            concurrency=2, python=str(launcher), function_name="hyperframes-render",
            stdout=sink, stderr=sink,
        ) as emulator,
    ):  # fmt: skip
        result = run_local(
            PROJECT, "-o", out, "--parallel", "2", "--chunk-size", "10", "--config", LOSSLESS,
            "--s3-endpoint-url", s3_endpoint, "--bucket", bucket,
            "--invoke-url", emulator.invoke_url,
            env={"HYPERFRAMES_S3_ENDPOINT_URL": s3_endpoint},
        )  # fmt: skip
        assert result.returncode == 0, result.stderr + logs.read_text()[-4000:]
        # Warm containers render the same bytes as cold ones: every chunk again, now in
        # containers that have already rendered (browser binaries extracted, clients reused).
        originals, rerendered = rerender_chunks(emulator, bucket, s3_endpoint)
        invocations = emulator.server.invocation_count
    text = logs.read_text()
    assert invocations == 8  # plan, 3 chunks, assemble, 3 warm re-renders
    assert rerendered == originals and len(originals) == 3

    # GSAP came from the loopback registry (the CDN is unreachable in the sandbox); the
    # runtime, fonts, Chromium and ffmpeg came from the ZIP: nothing else was asked for.
    assert npm_mirror.requests and all(r.startswith("/gsap") for r in npm_mirror.requests)
    containers = sorted((tmp_path / "containers").iterdir())
    assert len(containers) == 2
    for container in containers:
        names = {p.name for p in container.iterdir()}
        assert "hf-chromium-153.0.0" in names, names  # decompressed from /var/task/chromium
        assert any(n.startswith("hf-ffmpeg-") for n in names), names
    assert (containers[0] / "hyperframes-cache").is_dir() or (
        containers[1] / "hyperframes-cache"
    ).is_dir()  # the plan's CDN fetch was cached under /tmp, not under the read-only HOME
    assert '"action":"renderChunk"' in text and '"FramesRendered"' in text

    lambda_frames = decoded(out, 320, 180)
    local_frames = decoded(tmp_path / "local.mp4", 320, 180)
    assert len(lambda_frames) == len(local_frames) == FRAMES
    print("local  frames:", frame_hashes(local_frames))
    print("lambda frames:", frame_hashes(lambda_frames))
    print("local mp4", file_sha256(tmp_path / "local.mp4"), "lambda mp4", file_sha256(out))
    for index, (a, b) in enumerate(zip(lambda_frames, local_frames, strict=True)):
        assert np.array_equal(a, b), f"frame {index}: the Lambda sandbox render differs"
    assert len(set(frame_hashes(lambda_frames))) > FRAMES // 2  # it moves


# --- fast: the bundled ffmpeg route -----------------------------------------------------------


def fake_bundle(directory: Path, payload: bytes, *, size: int | None = None) -> Path:
    import gzip

    directory.mkdir(parents=True, exist_ok=True)
    (directory / "ffmpeg.gz").write_bytes(gzip.compress(payload, mtime=0))
    manifest = {"sha256": hashlib.sha256(payload).hexdigest(), "size": size or len(payload)}
    (directory / "ffmpeg.json").write_text(json.dumps(manifest))
    return directory


def test_bundled_ffmpeg_is_extracted_once_and_checked(tmp_path: Path) -> None:
    from hyperframes_lambda.errors import FfmpegUnavailableError
    from hyperframes_lambda.media.ffmpeg import extract_bundled_ffmpeg

    payload = b"#!/bin/sh\necho ffmpeg version test\n"
    bundle = fake_bundle(tmp_path / "task" / "ffmpeg", payload)
    sha = hashlib.sha256(payload).hexdigest()
    # A container that timed out mid-way left a directory without the marker.
    (tmp_path / "tmp" / f"hf-ffmpeg-{sha[:16]}").mkdir(parents=True)
    (tmp_path / "tmp" / f"hf-ffmpeg-{sha[:16]}" / "ffmpeg").write_bytes(b"half")
    exe = extract_bundled_ffmpeg(bundle, tmp_path / "tmp")
    assert exe == tmp_path / "tmp" / f"hf-ffmpeg-{sha[:16]}" / "ffmpeg"
    assert exe.read_bytes() == payload and os.access(exe, os.X_OK)
    mtime = exe.stat().st_mtime_ns
    assert extract_bundled_ffmpeg(bundle, tmp_path / "tmp") == exe
    assert exe.stat().st_mtime_ns == mtime  # once per container

    wrong = fake_bundle(tmp_path / "wrong", payload, size=len(payload) + 1)
    with pytest.raises(FfmpegUnavailableError, match=r"ffmpeg\.json says"):
        extract_bundled_ffmpeg(wrong, tmp_path / "tmp2")
    (tmp_path / "truncated").mkdir()
    (tmp_path / "truncated" / "ffmpeg.gz").write_bytes((bundle / "ffmpeg.gz").read_bytes()[:20])
    (tmp_path / "truncated" / "ffmpeg.json").write_text((bundle / "ffmpeg.json").read_text())
    with pytest.raises(FfmpegUnavailableError, match="truncated gzip stream"):
        extract_bundled_ffmpeg(tmp_path / "truncated", tmp_path / "tmp3")


def test_prewarm_decompresses_the_bundled_ffmpeg(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tempfile

    from hyperframes_lambda.handler import dispatch as handler
    from hyperframes_lambda.media import ffmpeg

    payload = b"#!/bin/sh\necho ffmpeg version test\n"
    fake_bundle(tmp_path / "task" / "ffmpeg", payload)
    monkeypatch.setenv("LAMBDA_TASK_ROOT", str(tmp_path / "task"))  # no chromium/ in it
    monkeypatch.delenv("HYPERFRAMES_FFMPEG_PATH", raising=False)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    ffmpeg.ffmpeg_exe.cache_clear()
    try:
        threads = handler.prewarm_bundled_binaries()
        assert len(threads) == 1
        for thread in threads:
            thread.join(30)
        exe = Path(ffmpeg.ffmpeg_exe())
        assert exe.parent.parent == tmp_path / "tmp" and exe.read_bytes() == payload
    finally:
        ffmpeg.ffmpeg_exe.cache_clear()


PROBE = r"""
import errno, json, os, shutil, socket, sys
def writable(path):
    try:
        with open(path, "w") as handle:
            handle.write("x")
        return True
    except OSError as exc:
        return errno.errorcode[exc.errno]
def reach(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
        return True
    except OSError as exc:
        return errno.errorcode.get(exc.errno, str(exc))
import awslambdaric, hyperframes_lambda
print(json.dumps({
    "python": list(sys.version_info[:2]),
    "interfaces": sorted(name for _, name in socket.if_nameindex()),
    "relayed": reach(int(os.environ["PROBE_RELAYED_PORT"])),
    "unrelayed": reach(int(os.environ["PROBE_OTHER_PORT"])),
    "task": writable("/var/task/x"), "home": writable(os.path.expanduser("~/x")),
    "root": writable("/root/x"), "tmp": writable("/tmp/x"),
    "root_listing": sorted(os.listdir("/root")),
    "chromium_dir": os.listdir("/usr/lib/chromium") if os.path.isdir("/usr/lib/chromium") else [],
    "ffmpeg_on_path": shutil.which("ffmpeg"),
    "package": hyperframes_lambda.__file__, "ric": awslambdaric.__file__,
    "env": sorted(os.environ),
}))
"""


@pytest.mark.slow
@pytest.mark.network
def test_sandbox_looks_like_lambda(
    extracted: tuple[Path, Path], sandbox_tools: tuple[str, str], tmp_path: Path
) -> None:
    """No network but the relayed loopback ports, nothing writable but /tmp, no host
    Chromium/ffmpeg/caches, Python 3.12 with the ZIP at /var/task and the RIC from
    /var/runtime."""
    import socketserver

    task, runtime = extracted
    python, bwrap = sandbox_tools
    servers = [socketserver.TCPServer(("127.0.0.1", 0), socketserver.BaseRequestHandler)]
    servers.append(socketserver.TCPServer(("127.0.0.1", 0), socketserver.BaseRequestHandler))
    relayed, other = (s.server_address[1] for s in servers)
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        sandbox = lambda_sandbox.Sandbox(
            task, runtime, tmp_path / "containers", python, bwrap,
            env={"PROBE_URL": f"http://127.0.0.1:{relayed}/", "PROBE_RELAYED_PORT": str(relayed),
                 "PROBE_OTHER_PORT": str(other)},
        )  # fmt: skip
        launcher = sandbox.launcher(tmp_path / "launcher")
        result = subprocess.run(
            [str(launcher), "-c", PROBE], capture_output=True, text=True, timeout=120, check=False
        )
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert seen["python"] == [3, 12]
    assert seen["interfaces"] == ["lo"]
    assert seen["relayed"] is True and seen["unrelayed"] == "ECONNREFUSED"
    assert seen["task"] == seen["root"] == "EROFS" and seen["home"] in ("EROFS", "ENOENT")
    assert seen["tmp"] is True
    assert ".cache" not in seen["root_listing"] and seen["chromium_dir"] == []
    assert seen["ffmpeg_on_path"] is None
    assert seen["package"].startswith("/var/task/hyperframes_lambda/")
    assert seen["ric"].startswith("/var/runtime/awslambdaric/")
    assert {"LAMBDA_TASK_ROOT", "AWS_EXECUTION_ENV", "HOME"} <= set(seen["env"])
    assert not {"VIRTUAL_ENV", "HYPERFRAMES_CACHE_DIR", "PYENV_ROOT"} & set(seen["env"])
