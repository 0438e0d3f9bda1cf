from __future__ import annotations

from hyperframes_lambda import errors


def test_spec_terminal_names_are_terminal() -> None:
    spec_terminal = {
        "PLAN_HASH_MISMATCH", "FFMPEG_VERSION_MISMATCH", "PLAN_PROTOCOL_UNSUPPORTED",
        "S3_URI_NOT_ALLOWED", "PLAN_ARTIFACT_DIGEST_MISMATCH", "PLAN_TOO_LARGE",
        "FORMAT_NOT_SUPPORTED_IN_DISTRIBUTED", "BROWSER_GPU_NOT_SOFTWARE", "FONT_FETCH_FAILED",
        "VIDEO_SOURCE_UNRENDERABLE", "INVALID_VIDEO_METADATA", "NOT_MEDIA_PAYLOAD",
        "ChromeBinaryUnavailableError", "INVALID_EVENT", "INVALID_CONFIG",
        "CHUNK_INDEX_OUT_OF_RANGE",
    }  # fmt: skip
    assert spec_terminal <= set(errors.terminal_codes())


def test_retryable_names_are_not_terminal() -> None:
    retryable = {
        "CDP_TIMEOUT",
        "BROWSER_CRASHED",
        "FONT_FETCH_UNAVAILABLE",
        "VIDEO_EXTRACTION_FAILED",
    }
    assert not retryable & set(errors.terminal_codes())
    codes = [cls.code for cls in errors.all_error_classes()]
    assert len(codes) == len(set(codes)), "every error class has its own stable name"


def test_every_code_is_upper_snake_and_lambda_names_differ_only_where_spec_keeps_them() -> None:
    import re

    for cls in errors.all_error_classes():
        assert re.fullmatch(r"[A-Z][A-Z0-9]*(_[A-Z0-9]+)*", cls.code), cls
    renamed = {cls.code: cls.error_type() for cls in errors.all_error_classes()}
    renamed = {code: name for code, name in renamed.items() if code != name}
    assert renamed == {"CHROME_BINARY_UNAVAILABLE": "ChromeBinaryUnavailableError"}
