"""Typed errors with stable names (SPEC §10).

Every error the renderer raises on purpose is a :class:`RenderError` subclass carrying a
stable ``code`` (what Step Functions will see as ``errorType``) and whether retrying can
help. This module is the one source of truth for those names: the Lambda adapter and the
state machine's retry lists are checked against :func:`terminal_codes`.
"""

from __future__ import annotations

from typing import ClassVar

MAX_MESSAGE_CHARS = 4000  # a message quoting untrusted input stays a readable size
QUOTE_CHARS = 120  # the most of one value a message quotes


def quoted(value: object, limit: int = QUOTE_CHARS) -> str:
    """``repr(value)``, or the repr of a bounded prefix saying how long the value was, so
    a message quoting a 1 MB event field stays a line."""
    if isinstance(value, str | bytes) and len(value) > limit:
        return f"{value[:limit]!r}… ({len(value)} characters)"
    text = repr(value)
    if len(text) > limit:
        return f"{text[:limit]}… ({len(text)} characters)"
    return text


class RenderError(Exception):
    """Base of every deliberate failure. ``code`` is stable; the message is for humans."""

    code: ClassVar[str] = "RENDER_FAILED"
    retryable: ClassVar[bool] = False
    # The name Step Functions sees when it is not ``code``: only where SPEC §10 keeps the
    # reference's own spelling, so a HyperFrames client's retry lists keep matching.
    lambda_name: ClassVar[str] = ""

    def __init__(self, *args: object) -> None:
        if args and isinstance(args[0], str) and len(args[0]) > MAX_MESSAGE_CHARS:
            message = args[0]
            args = (
                f"{message[:MAX_MESSAGE_CHARS]}… (message cut at {MAX_MESSAGE_CHARS} "
                f"of {len(message)} characters)",
                *args[1:],
            )
        super().__init__(*args)

    @classmethod
    def error_type(cls) -> str:
        """What Lambda reports as ``errorType`` (and the state machine matches)."""
        return cls.lambda_name or cls.code


# --- terminal: bad input or a broken contract; retrying cannot help -------------------


class InvalidConfigError(RenderError):
    code = "INVALID_CONFIG"


class InvalidVariablesError(RenderError):
    """A variable the composition does not declare, or of another type than declared
    (``strictVariables``), or a variables file that is not a JSON object."""

    code = "INVALID_VARIABLES"


class InputTooLargeError(RenderError):
    """An execution input (or a field of it) that cannot fit Step Functions' 256 KiB even
    with the Config offloaded to S3; found before anything starts."""

    code = "INPUT_TOO_LARGE"


class OutputExistsError(RenderError):
    """The output object already exists and the render was not asked to overwrite it."""

    code = "OUTPUT_EXISTS"


class InvalidEventError(RenderError):
    code = "INVALID_EVENT"


class CompositionError(RenderError):
    """The project is not a valid composition (entry file, root element, size, duration)."""

    code = "INVALID_COMPOSITION"


class PageScriptError(RenderError):
    """A script of the composition threw while loading or seeking."""

    code = "PAGE_SCRIPT_ERROR"


class AssetNotFoundError(RenderError):
    """A local asset the page references does not exist in the project."""

    code = "ASSET_NOT_FOUND"


class AssetFetchError(RenderError):
    """A remote asset could not be fetched from its URL nor from any fallback."""

    code = "ASSET_FETCH_FAILED"


class AssetIntegrityError(RenderError):
    """Downloaded bytes did not match their published integrity hash."""

    code = "ASSET_INTEGRITY_MISMATCH"


class RuntimeIntegrityError(AssetIntegrityError):
    """The pinned HyperFrames page runtime on disk is not the build we pinned."""

    code = "RUNTIME_INTEGRITY_MISMATCH"


class PlanHashMismatchError(RenderError):
    code = "PLAN_HASH_MISMATCH"


class FfmpegVersionMismatchError(RenderError):
    code = "FFMPEG_VERSION_MISMATCH"


class PlanProtocolUnsupportedError(RenderError):
    code = "PLAN_PROTOCOL_UNSUPPORTED"


class BrowserBuildMismatchError(RenderError):
    """The plan was made with another Chromium build than this worker runs."""

    code = "BROWSER_BUILD_MISMATCH"


class FontSetMismatchError(RenderError):
    """The plan was made with another font set than this worker has."""

    code = "FONT_SET_MISMATCH"


class FontSetIntegrityError(RenderError):
    """A file of the pinned font set is missing or does not match its SHA-256."""

    code = "FONT_SET_INTEGRITY_MISMATCH"


class FontSetUnavailableError(RenderError):
    """The pinned font set is not installed and cannot be installed (no registry, no
    fontTools)."""

    code = "FONT_SET_UNAVAILABLE"


class S3UriNotAllowedError(RenderError):
    code = "S3_URI_NOT_ALLOWED"


class PlanArtifactDigestMismatchError(RenderError):
    code = "PLAN_ARTIFACT_DIGEST_MISMATCH"


class PlanTooLargeError(RenderError):
    code = "PLAN_TOO_LARGE"


class FormatNotSupportedInDistributedError(RenderError):
    code = "FORMAT_NOT_SUPPORTED_IN_DISTRIBUTED"


class BrowserGpuNotSoftwareError(RenderError):
    code = "BROWSER_GPU_NOT_SOFTWARE"


class FontFetchFailedError(RenderError):
    code = "FONT_FETCH_FAILED"


class VideoSourceUnrenderableError(RenderError):
    code = "VIDEO_SOURCE_UNRENDERABLE"


class InvalidVideoMetadataError(RenderError):
    code = "INVALID_VIDEO_METADATA"


class NotMediaPayloadError(RenderError):
    code = "NOT_MEDIA_PAYLOAD"


class ChromeBinaryUnavailableError(RenderError):
    """No browser to render with (missing, corrupt, or it cannot start)."""

    code = "CHROME_BINARY_UNAVAILABLE"
    lambda_name = "ChromeBinaryUnavailableError"  # SPEC §10: the reference's name on Lambda


class ChunkIndexOutOfRangeError(RenderError):
    code = "CHUNK_INDEX_OUT_OF_RANGE"


class ChunkMissingError(RenderError):
    """Assemble was given fewer/more chunks than the plan has, or a chunk file is absent."""

    code = "CHUNK_MISSING"


class ChunkDigestMismatchError(RenderError):
    """A chunk's bytes do not match the SHA-256 its worker reported (or stored with it)."""

    code = "CHUNK_DIGEST_MISMATCH"


class ChunkUnverifiableError(RenderError):
    """A chunk to assemble has no SHA-256 to check its bytes against: none stored with the
    object when it was written, none in the event (``ChunkSha256s``). Not written by
    renderChunk (or its metadata was replaced): render it again."""

    code = "CHUNK_UNVERIFIABLE"


class ProjectArchiveError(RenderError):
    """The uploaded project is not a readable, safe .tar.gz."""

    code = "INVALID_PROJECT_ARCHIVE"


class StorageObjectNotFoundError(RenderError):
    """An object an event names does not exist."""

    code = "S3_OBJECT_NOT_FOUND"


class StorageAccessDeniedError(RenderError):
    code = "S3_ACCESS_DENIED"


class FfmpegUnavailableError(RenderError):
    code = "FFMPEG_UNAVAILABLE"


class CacheUnavailableError(RenderError):
    """No writable directory for the download cache (HOME and the temp dir read-only)."""

    code = "CACHE_UNAVAILABLE"


class OutputVerificationError(RenderError):
    """The encoded output does not have the frames/duration the plan promised."""

    code = "OUTPUT_VERIFICATION_FAILED"


class LintFailedError(RenderError):
    """``strict_lint``: HyperFrames' linter found error-severity problems in the
    composition (the message lists them, with project-relative file names)."""

    code = "LINT_FAILED"


class LintUnavailableError(RenderError):
    """HyperFrames' linter could not be loaded or run in the browser (the message says
    why: a changed pinned file, a page error, a timeout)."""

    code = "LINT_UNAVAILABLE"


class FetchNotAllowedError(RenderError):
    """The fetch policy refused a URL the composition names: not http(s), or its host is
    (or a redirect leads to) a private, loopback, link-local, multicast or reserved
    address. The message names the URL and the rule."""

    code = "FETCH_NOT_ALLOWED"


class AssetTooLargeError(RenderError):
    """A remote asset, or all of a plan's remote assets together, exceed the byte cap."""

    code = "ASSET_TOO_LARGE"


class FetchDeadlineError(RenderError):
    """Fetching a remote asset took longer than the per-request timeout, or the plan's
    fetches together exceeded the plan fetch deadline (a slow-drip server)."""

    code = "FETCH_DEADLINE_EXCEEDED"


class ArchiveLimitError(RenderError):
    """An archive expands beyond the extraction caps (bytes, file count, path depth)."""

    code = "ARCHIVE_LIMIT_EXCEEDED"


# Client side of the AWS deployment (hyperframes_lambda.aws): finding the stack, executions.


class StackNotFoundError(RenderError):
    """No CloudFormation stack of that name in that account and region."""

    code = "STACK_NOT_FOUND"


class StackOutputMissingError(RenderError):
    """The stack lacks an output the client needs (not a hyperframes-lambda stack?)."""

    code = "STACK_OUTPUT_MISSING"


class InvalidPolicyError(RenderError):
    """``lambda policies validate``: the file is not a readable IAM policy document."""

    code = "INVALID_POLICY"


class PolicyMissingActionsError(RenderError):
    """``lambda policies validate``: the policy lacks actions the stack needs."""

    code = "POLICY_MISSING_ACTIONS"


class ExecutionRunningError(RenderError):
    """``lambda rm`` on a running execution: cancel it first."""

    code = "EXECUTION_RUNNING"


class DeployFailedError(RenderError):
    """``lambda deploy``/``destroy``: CloudFormation refused or rolled back; the message
    names the first failed resource and its reason."""

    code = "DEPLOY_FAILED"


class StorageLeftError(RenderError):
    """``lambda rm``/``destroy``: objects meant to be deleted are still there afterwards."""

    code = "STORAGE_LEFT"


class ProjectNotFoundError(RenderError):
    """``lambda projects rm`` names a project that is not uploaded."""

    code = "PROJECT_NOT_FOUND"


class ExecutionNotFoundError(RenderError):
    code = "EXECUTION_NOT_FOUND"


class AwsConfigMissingError(RenderError):
    """No region, or a named profile that does not exist: the AWS client cannot start."""

    code = "AWS_CONFIG_MISSING"


class AwsCredentialsMissingError(RenderError):
    code = "AWS_CREDENTIALS_MISSING"


class AwsUnreachableError(RenderError):
    """The AWS endpoint (or ``--endpoint-url``) did not answer."""

    code = "AWS_UNREACHABLE"


class AwsAccessDeniedError(RenderError):
    """The caller's credentials lack a permission the command needs (named in the message)."""

    code = "AWS_ACCESS_DENIED"


class AwsRequestFailedError(RenderError):
    """An AWS API refused a request for a reason with no code of its own here; the
    message holds the service's own error code and text."""

    code = "AWS_REQUEST_FAILED"


class EmulatorUnavailableError(RenderError):
    """``lambda emulate`` cannot start: a missing optional dependency (moto, awslambdaric),
    no state machine definition (not a clone), or its port taken. The message says which."""

    code = "EMULATOR_UNAVAILABLE"


class RemoteExecutionFailedError(RenderError):
    """A render execution on AWS ended FAILED, TIMED_OUT or ABORTED; the message holds
    its own error name and cause (``error_name`` too)."""

    code = "RENDER_EXECUTION_FAILED"

    def __init__(self, message: str, error_name: str = "", cause: str = "") -> None:
        super().__init__(message)
        self.error_name = error_name
        self.cause = cause


class ExecutionOutputMissingError(RenderError):
    """A finished execution's result names no output object to download (an execution
    started by another client, or one whose Assemble never ran)."""

    code = "EXECUTION_OUTPUT_MISSING"


class ExecutionNotResumableError(RenderError):
    """``resume`` needs an execution that ended FAILED, TIMED_OUT or ABORTED."""

    code = "EXECUTION_NOT_RESUMABLE"


class InvalidWebhookError(RenderError):
    """The execution input's WebhookUrl/WebhookSecret(Arn) cannot work."""

    code = "INVALID_WEBHOOK"


class InvalidOutputError(RenderError):
    """The output path cannot take the render (format/extension mismatch, no such or
    unwritable directory), found before any work starts."""

    code = "INVALID_OUTPUT"


class OutputInUseError(RenderError):
    """Another render is writing the same output path right now (its lock file is held):
    two renders onto one ``-o`` would silently replace each other."""

    code = "OUTPUT_IN_USE"


class BatchRowsInvalidError(RenderError):
    """A rows file (``--rows``) cannot be a batch: not JSONL, a row that is not an object,
    an unknown or mistyped field, duplicate ids or two rows writing the same output. The
    message names the line and the field."""

    code = "BATCH_ROWS_INVALID"


class BatchRowsFailedError(RenderError):
    """A batch finished and some rows failed (the others were rendered): the summary and
    the results JSONL name each failed row with its error code."""

    code = "BATCH_ROWS_FAILED"


class BatchRowNotRecordedError(RenderError):
    """A batch row ended without a result record (its recording step failed after its
    retries): the row's render may or may not have written its output."""

    code = "BATCH_ROW_NOT_RECORDED"


class PageUnresponsiveError(RenderError):
    """The composition's page stopped answering (an endless loop in a script, a seek whose
    promise never settles) while the browser itself still responds: the page's doing, so
    the same page hangs again on a retry."""

    code = "PAGE_UNRESPONSIVE"


class PageNavigatedError(RenderError):
    """The composition's page navigated away from itself (a script set ``location``, a
    form, a meta refresh): the page's doing, so a retry would do the same."""

    code = "PAGE_NAVIGATED"


class PageOutOfMemoryError(RenderError):
    """The composition's page took more memory than the page budget (derived from the
    function's memory; ``HYPERFRAMES_PAGE_MEMORY_MB``), or its browser died of V8's heap
    limit: the message names the phase (load, ready, seek, capture) and the frame. The
    same page takes the same memory on a retry."""

    code = "PAGE_OUT_OF_MEMORY"


class PageCrashedRepeatedlyError(RenderError):
    """The browser crashed rendering the same chunk of the same plan on two attempts
    (the first crash is retryable ``BROWSER_CRASHED`` and leaves a marker in storage):
    the page crashes it deterministically, and further retries would crash it again."""

    code = "PAGE_CRASHED_REPEATEDLY"


class FileUriNotAllowedError(S3UriNotAllowedError):
    """A ``file://`` URI in an event on Lambda: the function's disk is not a storage
    backend (an event could overwrite any file under /tmp). Opt in for local emulation
    with ``HYPERFRAMES_ALLOW_FILE_URIS=1``."""

    code = "FILE_URI_NOT_ALLOWED"


class StoredObjectCorruptError(RenderError):
    """An object we stored earlier (plan files, chunk metadata, a chunk archive) is not
    what we wrote: malformed JSON, missing fields, not an archive. Re-plan/re-run."""

    code = "CORRUPT_STORED_OBJECT"


class ChunkMismatchError(RenderError):
    """A chunk carries another plan's hash or another index than its position (chunks in
    the wrong order, from another render, or not made by renderChunk)."""

    code = "CHUNK_MISMATCH"


class StorageBucketNotFoundError(RenderError):
    code = "S3_BUCKET_NOT_FOUND"


class StorageRequestRejectedError(RenderError):
    """S3 refused the request with a 4xx other than not-found/denied: resending it as is
    cannot succeed."""

    code = "S3_REQUEST_REJECTED"


class InternalError(RenderError):
    """An exception the renderer did not anticipate (a bug), wrapped by the handler's
    last line of defence so Step Functions sees one stable name; the cause holds the
    original type and message. Terminal: a deterministic bug would fail the same way on
    each of 4 retries, each up to 15 minutes of Lambda time."""

    code = "INTERNAL_ERROR"


# --- retryable: the environment failed, the same input may well succeed --------------


class BrowserCrashedError(RenderError):
    code = "BROWSER_CRASHED"
    retryable = True


class CdpTimeoutError(RenderError):
    code = "CDP_TIMEOUT"
    retryable = True


class CdpProtocolError(RenderError):
    code = "CDP_PROTOCOL_ERROR"
    retryable = True


class CaptureError(RenderError):
    """The browser did not produce a frame after repeated attempts."""

    code = "CAPTURE_FAILED"
    retryable = True


class EncodeError(RenderError):
    code = "ENCODE_FAILED"
    retryable = True


class StorageTransientError(RenderError):
    """Throttling, a 5xx, a dropped connection: the same call may well succeed later."""

    code = "S3_TRANSIENT"
    retryable = True


class FontFetchUnavailableError(RenderError):
    code = "FONT_FETCH_UNAVAILABLE"
    retryable = True


class VideoExtractionFailedError(RenderError):
    code = "VIDEO_EXTRACTION_FAILED"
    retryable = True


class WebhookDeliveryError(RenderError):
    """The webhook endpoint did not answer 2xx after the in-invocation attempts."""

    code = "WEBHOOK_DELIVERY_FAILED"
    retryable = True


def all_error_classes() -> list[type[RenderError]]:
    """Every concrete error class, found by walking the hierarchy (those of this module:
    the handler's per-code aliases, made at run time, are the same errors)."""
    seen: list[type[RenderError]] = []
    stack: list[type[RenderError]] = [RenderError]
    while stack:
        cls = stack.pop()
        for sub in cls.__subclasses__():
            if sub not in seen and sub.__module__ == __name__:
                seen.append(sub)
                stack.append(sub)
    return seen


def terminal_codes() -> list[str]:
    """Stable names Step Functions must not retry, sorted."""
    return sorted({cls.error_type() for cls in all_error_classes() if not cls.retryable})
