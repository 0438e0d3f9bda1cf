"""``hyperframes-lambda lambda emulate``: the AWS stack on 127.0.0.1, for trying it without AWS.

Why: every ``lambda`` command needs a deployed stack, and a newcomer without an account stops
at ``sam deploy``. This starts what the stack is made of, locally and in the foreground:

- moto's server on ``127.0.0.1:PORT``: S3, CloudFormation, IAM and Step Functions with
  moto's ASL interpreter switched on (``execute_state_machine``), which runs the very
  ``sam/statemachine/render.asl.json`` with the template's ``DefinitionSubstitutions``;
- the state machine (``<stack>-render``, STANDARD) from that definition, and a
  CloudFormation stack (through moto's CloudFormation API) with the template's bucket and
  function (``<stack>-render``: handler, runtime, memory, timeout, environment) and its three
  outputs, so :func:`~hyperframes_lambda.aws.stack.find_stack` finds it as on AWS;
- the function's code: moto would run a Lambda in Docker; instead its one method that runs
  the code (``LambdaFunction._invoke_lambda``) hands the event to
  :class:`~hyperframes_lambda.rie.LocalLambda`, real ``awslambdaric`` processes serving
  ``hyperframes_lambda.handler.handler`` (one invocation at a time each, like Lambda).

It prints the ``export`` lines that point boto3 (and so every ``lambda`` command) at it, and
runs until SIGINT/SIGTERM, then stops the runtime processes, the server and removes its
temporary directory. Needs ``pip install 'hyperframes-lambda[emulate]'`` and a clone of the
repository (the state machine definition lives in ``sam/``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import socket
import sys
import tempfile
import threading
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any

from ..aws import asl
from ..aws.stack import OUTPUT_BUCKET, OUTPUT_FUNCTION, OUTPUT_STATE_MACHINE
from ..errors import EmulatorUnavailableError

if TYPE_CHECKING:
    from .rie import LocalLambda

INSTALL_HINT = "pip install 'hyperframes-lambda[emulate]'"
HOST = "127.0.0.1"
DEFAULT_PORT = 4566  # the port local AWS emulators customarily listen on
DEFAULT_REGION = "us-east-1"
DEFAULT_CONCURRENCY = 2
# moto accepts any credentials; these only have to be present.
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
# sam/template.yaml's function (tests/local/test_emulate.py checks these against it).
HANDLER = "hyperframes_lambda.handler.handler"
RUNTIME = "python3.12"
MEMORY_MB = 10240  # LambdaMemoryMb's default
TIMEOUT_S = 900  # LambdaTimeoutSec's default
EPHEMERAL_MB = 10240
MAP_MAX_CONCURRENCY = 64  # MapMaxConcurrency's default
STACK_NAME_HELP = "lowercase letters, digits and dashes, 2-31 characters, starting with a letter"


def stack_name(text: str) -> str:
    """An argparse ``type``: the template's ProjectName pattern (names the resources too)."""
    if not (2 <= len(text) <= 31 and text[0].isascii() and text[0].islower()) or any(
        not (c.isascii() and (c.islower() or c.isdigit() or c == "-")) for c in text
    ):
        raise argparse.ArgumentTypeError(f"{text!r}: {STACK_NAME_HELP}")
    return text


@dataclass(frozen=True)
class EmulatorOptions:
    """What ``lambda emulate`` takes: where to listen, the stack's name, where files go."""

    port: int = DEFAULT_PORT
    stack: str = "hyperframes"
    region: str = DEFAULT_REGION
    data_dir: Path | None = None  # logs, the function's /tmp; None: a temporary directory
    concurrency: int = DEFAULT_CONCURRENCY  # runtime processes (Lambda containers)


@dataclass(frozen=True)
class EmulatedStack:
    """A running emulator: its endpoint and what the stack's outputs say."""

    endpoint: str
    stack: str
    region: str
    bucket: str
    function_arn: str
    state_machine_arn: str
    log_file: Path

    def environment(self) -> dict[str, str]:
        """What a shell (or boto3) needs to use it: ``lambda`` commands then need no flags."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            **CREDENTIALS,
            "AWS_DEFAULT_REGION": self.region,
            "HYPERFRAMES_STACK": self.stack,
        }

    def exports(self) -> str:
        """The lines to paste into another shell (a named profile would override the keys)."""
        lines = ["unset AWS_PROFILE AWS_SESSION_TOKEN"]
        lines += [f"export {key}={value}" for key, value in self.environment().items()]
        return "\n".join(lines)


def missing_dependencies() -> str | None:
    """Why the emulator cannot run here, or None: its optional packages and the ASL file."""
    import importlib.util

    missing = []
    for module, package in (
        ("moto.server", "moto[server]"),
        ("moto.stepfunctions.parser", "moto[stepfunctions]"),
        ("awslambdaric", "awslambdaric"),
    ):
        try:
            found = importlib.util.find_spec(module) is not None
        except ImportError:
            found = False
        if not found:
            missing.append(package)
    if missing:
        return f"{', '.join(missing)} not installed; install with: {INSTALL_HINT}"
    if not asl.ASL_PATH.is_file():
        return (
            f"no state machine definition at {asl.ASL_PATH}: `lambda emulate` runs the one in "
            "sam/ of a clone of the repository (pip install -e '.[emulate]' there)"
        )
    return None


def stack_template(
    stack: str, bucket: str, function_name: str, state_machine_arn: str, env: dict[str, str]
) -> dict[str, Any]:
    """The stack as CloudFormation JSON: sam/template.yaml's bucket and function (names,
    handler, runtime, memory, timeout, environment) and its three outputs, without what moto
    cannot use (policies, alarms, logging). The state machine is created through the Step
    Functions API instead: moto's CloudFormation puts it where its ASL interpreter does not
    look, and its Fn::Sub would read the ASL's ``$$.Execution`` as an escaped ``$``."""
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
             "Principal": {"Service": "lambda.amazonaws.com"}}]}  # fmt: skip
    function = {
        "FunctionName": function_name,
        "Handler": HANDLER,
        "Runtime": RUNTIME,
        "MemorySize": MEMORY_MB,
        "Timeout": TIMEOUT_S,
        "Role": {"Fn::GetAtt": ["RenderFunctionRole", "Arn"]},
        "Code": {"ZipFile": "# emulated: hyperframes_lambda.local.emulate runs the handler"},
        "Environment": {"Variables": env},
    }
    return {
        "Description": f"hyperframes-lambda emulated stack {stack} (sam/template.yaml)",
        "Resources": {
            # Retained, as the template's: `lambda destroy` deletes it after the stack.
            "RenderBucket": {"Type": "AWS::S3::Bucket", "DeletionPolicy": "Retain",
                             "UpdateReplacePolicy": "Retain",
                             "Properties": {"BucketName": bucket}},
            "RenderFunctionRole": {"Type": "AWS::IAM::Role",
                                   "Properties": {"AssumeRolePolicyDocument": trust}},
            "RenderFunction": {"Type": "AWS::Lambda::Function", "Properties": function},
        },
        "Outputs": {
            OUTPUT_BUCKET: {"Value": {"Ref": "RenderBucket"}},
            OUTPUT_FUNCTION: {"Value": {"Fn::GetAtt": ["RenderFunction", "Arn"]}},
            OUTPUT_STATE_MACHINE: {"Value": state_machine_arn},
        },
    }  # fmt: skip


@contextmanager
def _routed_invocations(route: Callable[[str, Any], tuple[str, bool, str]]) -> Iterator[None]:
    """Replace moto's Docker-based Lambda execution with ``route(function_name, event)``."""
    from moto.awslambda.models import LambdaFunction

    patched: Any = LambdaFunction  # the one method replaced, and put back on exit
    original = patched._invoke_lambda

    def invoke(function: Any, event: Any = None) -> tuple[str, bool, str]:
        return route(function.function_name, event if event is not None else {})

    patched._invoke_lambda = invoke
    try:
        yield
    finally:
        patched._invoke_lambda = original


class Emulator:
    """The emulated stack; ``with Emulator(options) as emulator: emulator.stack.endpoint``.

    One per process: moto keeps its state (buckets, stacks, executions) in the process's
    memory, and the routing of Lambda invocations is a class-level replacement."""

    def __init__(self, options: EmulatorOptions) -> None:
        self.options = options
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._runtime: LocalLambda | None = None
        self._routing: AbstractContextManager[None] | None = None
        self._data_dir: Path | None = None
        self._scratch: Path | None = None
        self._function_log: IO[str] | None = None
        self._temporary = options.data_dir is None
        self._saved_env: dict[str, str | None] = {}
        self._log_handlers: list[tuple[logging.Logger, logging.Handler]] = []
        self.stack: EmulatedStack | None = None

    # ----- lifecycle -------------------------------------------------------------------

    def start(self) -> EmulatedStack:
        """Listen, create the stack, start the runtime processes; raises
        EmulatorUnavailableError with the reason when any of it cannot be done."""
        if (problem := missing_dependencies()) is not None:
            raise EmulatorUnavailableError(problem)
        # This process's boto3 clients (ours, and the interpreter's) use no named profile:
        # one from the caller's shell would fail (or be ignored) against moto.
        for key in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
            self._set_env(key, None)
        try:
            data_dir = self._make_data_dir()
            self._capture_logs(data_dir / "server.log")
            endpoint = self._listen()
            stack = self._create_stack(endpoint, data_dir)
            self._start_runtime(stack)
        except BaseException:
            self.stop()
            raise
        self.stack = stack
        return stack

    def stop(self) -> None:
        """Runtime processes first (in-flight invocations fail), then the server, then the
        temporary directory (with ``--data-dir``, only the function's /tmp: the logs stay)."""
        if self._runtime is not None:
            self._runtime.stop()
            self._runtime = None
        if self._function_log is not None:
            self._function_log.close()
            self._function_log = None
        if self._routing is not None:
            self._routing.__exit__(None, None, None)
            self._routing = None
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_env = {}
        for logger, handler in self._log_handlers:
            logger.removeHandler(handler)
            handler.close()
        self._log_handlers = []
        logging.getLogger("werkzeug").propagate = True
        if self._data_dir is not None:
            target = self._data_dir if self._temporary else self._scratch
            if target is not None:
                shutil.rmtree(target, ignore_errors=True)
            self._data_dir = self._scratch = None

    def __enter__(self) -> Emulator:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # ----- the pieces ------------------------------------------------------------------

    def _set_env(self, key: str, value: str | None) -> None:
        """Change this process's environment; :meth:`stop` puts it back."""
        self._saved_env.setdefault(key, os.environ.get(key))
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value

    def _capture_logs(self, path: Path) -> None:
        """moto's and werkzeug's logs (a traceback per unsupported call, the interpreter's
        notes) go to a file, not over the exports on the terminal."""
        handler = logging.FileHandler(path, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        werkzeug = logging.getLogger("werkzeug")  # it adds a stderr handler unless it has one
        werkzeug.propagate = False
        for logger in (logging.getLogger(), werkzeug):
            logger.addHandler(handler)
            self._log_handlers.append((logger, handler))

    def _listen(self) -> str:
        """moto's WSGI app on werkzeug's threaded server, on a socket bound here: a taken port
        is then our one-line error (werkzeug would print two lines and exit; moto's
        ThreadedMotoServer would bind in its thread and wait forever)."""
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        class QuietHandler(MotoRequestHandler):
            def log_request(self, *args: Any, **kwargs: Any) -> None:
                """No access log: the terminal keeps the exports and the errors."""

        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((HOST, self.options.port))
            listener.listen(128)
        except OSError as exc:
            listener.close()
            raise EmulatorUnavailableError(
                f"--port {self.options.port}: cannot listen on {HOST}:{self.options.port} "
                f"({exc.strerror or exc}); pick another port (--port 0: any free one)"
            ) from None
        app = DomainDispatcherApplication(create_backend_app)
        try:
            server = make_server(
                HOST, self.options.port, app, threaded=True, request_handler=QuietHandler,
                fd=listener.fileno(),
            )  # fmt: skip
        finally:
            listener.close()  # the server holds its own duplicate of the descriptor
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, name="emulate-moto", daemon=True
        )
        self._thread.start()
        port = server.server_address[1]
        endpoint = f"http://{HOST}:{port}"
        # The ASL interpreter's own boto3 clients (Lambda, child executions) call moto back
        # at localhost:$MOTO_PORT.
        self._set_env("MOTO_PORT", str(port))
        config = {"stepfunctions": {"execute_state_machine": True}}
        request = urllib.request.Request(
            f"{endpoint}/moto-api/config", data=json.dumps(config).encode(), method="POST"
        )
        urllib.request.urlopen(request, timeout=30).close()
        return endpoint

    def _make_data_dir(self) -> Path:
        if self.options.data_dir is None:
            root = Path(tempfile.mkdtemp(prefix="hyperframes-emulate-"))
        else:
            root = self.options.data_dir.expanduser().resolve()
            try:
                root.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise EmulatorUnavailableError(
                    f"--data-dir {self.options.data_dir}: {exc.strerror or exc}"
                ) from None
        self._data_dir = root
        # The function's /tmp: a fresh directory of ours, whatever else --data-dir holds.
        self._scratch = Path(tempfile.mkdtemp(prefix="function-tmp-", dir=root))
        return root

    def _client(self, endpoint: str, service: str) -> Any:
        import boto3

        session: Any = boto3.Session()
        return session.client(
            service,
            endpoint_url=endpoint,
            region_name=self.options.region,
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )

    def _create_stack(self, endpoint: str, data_dir: Path) -> EmulatedStack:
        """The state machine (the real ASL, substituted as the template does), then the
        stack around it; its outputs are what ``find_stack`` will read."""
        name, region = self.options.stack, self.options.region
        account = self._client(endpoint, "sts").get_caller_identity()["Account"]
        function_name = f"{name}-render"
        function_arn = f"arn:aws:lambda:{region}:{account}:function:{function_name}"
        bucket = f"{name}-renderbucket-{account}"
        definition = asl.substitute(
            asl.ASL_PATH.read_text("utf-8"),
            {
                "RenderFunctionArn": function_arn,
                "RenderBucketName": bucket,
                "MapMaxConcurrency": str(MAP_MAX_CONCURRENCY),
                "AllowedOutputBuckets": "",
            },
        )
        role = f"arn:aws:iam::{account}:role/{name}-render-state-machine"
        machine_arn = self._client(endpoint, "stepfunctions").create_state_machine(
            name=f"{name}-render", definition=definition, roleArn=role, type="STANDARD"
        )["stateMachineArn"]
        template = stack_template(name, bucket, function_name, machine_arn, self._function_env())
        cfn = self._client(endpoint, "cloudformation")
        cfn.create_stack(StackName=name, TemplateBody=json.dumps(template))
        outputs = {
            o["OutputKey"]: o["OutputValue"]
            for o in cfn.describe_stacks(StackName=name)["Stacks"][0]["Outputs"]
        }
        if (outputs[OUTPUT_BUCKET], outputs[OUTPUT_FUNCTION]) != (bucket, function_arn):
            raise AssertionError(f"moto's stack outputs {outputs} differ from the definition's")
        return EmulatedStack(
            endpoint=endpoint,
            stack=name,
            region=region,
            bucket=bucket,
            function_arn=function_arn,
            state_machine_arn=machine_arn,
            log_file=data_dir / "function.log",
        )

    def _function_env(self) -> dict[str, str]:
        """The template's function environment (the bucket is added per stack)."""
        return {
            "HYPERFRAMES_EPHEMERAL_STORAGE_MB": str(EPHEMERAL_MB),
            "HYPERFRAMES_LAMBDA_TIMEOUT_S": str(TIMEOUT_S),
            "HYPERFRAMES_OUTPUT_BUCKETS": "",  # AllowedOutputBuckets' default: none
            "POWERTOOLS_SERVICE_NAME": "hyperframes-render",
            "POWERTOOLS_METRICS_NAMESPACE": self.options.stack,
        }

    def _start_runtime(self, stack: EmulatedStack) -> None:
        from ..cache import cache_root
        from .rie import LocalLambda

        env: dict[str, str | None] = {
            **self._function_env(),
            "HYPERFRAMES_RENDER_BUCKET": stack.bucket,
            # The handler's S3 and the notify step's Step Functions calls come back here.
            "HYPERFRAMES_S3_ENDPOINT_URL": stack.endpoint,
            "AWS_ENDPOINT_URL": stack.endpoint,
            **CREDENTIALS,
            "AWS_SESSION_TOKEN": None,
            "AWS_PROFILE": None,
            "AWS_REGION": stack.region,
            "AWS_DEFAULT_REGION": stack.region,
            # This machine's browser, fonts and runtime (the ZIP would bring its own), and
            # the function's /tmp inside the data directory.
            "HYPERFRAMES_CACHE_DIR": str(cache_root()),
            "TMPDIR": str(self._scratch),
        }
        # Open until stop: a runtime process that dies is replaced, writing here too.
        self._function_log = stack.log_file.open("a", encoding="utf-8")
        runtime = LocalLambda(
            HANDLER,
            concurrency=self.options.concurrency,
            timeout_s=TIMEOUT_S,
            function_name=stack.function_arn.rsplit(":", 1)[1],
            memory_mb=MEMORY_MB,
            env=env,
            stdout=self._function_log,
            stderr=self._function_log,
        )
        runtime.start()
        self._runtime = runtime
        function_name = runtime.function_name

        def route(name: str, event: Any) -> tuple[str, bool, str]:
            if name != function_name:
                error = {"errorType": "Runtime.NotEmulated",
                         "errorMessage": f"only {function_name} runs here, not {name}"}  # fmt: skip
                return json.dumps(error), True, ""
            outcome = runtime.invoke(event)
            return outcome.body.decode(), not outcome.ok, ""

        self._routing = _routed_invocations(route)
        self._routing.__enter__()


def banner(stack: EmulatedStack, options: EmulatorOptions) -> str:
    """What the terminal shows besides the exports (on stderr)."""
    kept = "kept" if options.data_dir is not None else "removed on exit"
    return (
        f"hyperframes-lambda emulator: stack {stack.stack!r} on {stack.endpoint}: S3, "
        f"CloudFormation and Step Functions (moto) running sam/statemachine/"
        f"{asl.ASL_PATH.name}; Lambda {stack.function_arn.rsplit(':', 1)[1]} served by "
        f"{options.concurrency} local process(es) of {HANDLER}.\n"
        f"Logs: {stack.log_file} (the function) and server.log beside it ({kept}).\n"
        "In another shell, paste the lines below; then every `lambda` command works as on "
        f"AWS (stack {stack.stack!r}, from $HYPERFRAMES_STACK). Ctrl-C stops it; the "
        "buckets and executions live in memory and go with it."
    )


def run(args: argparse.Namespace) -> int:
    """``lambda emulate``: start, print the exports, wait for SIGINT/SIGTERM (raised as
    KeyboardInterrupt by the CLI's handlers, which also give the exit status), stop."""
    import time

    options = EmulatorOptions(
        port=args.port,
        stack=args.stack,
        region=args.region or DEFAULT_REGION,
        data_dir=args.data_dir,
        concurrency=args.concurrency,
    )
    with Emulator(options) as emulator:
        assert emulator.stack is not None
        print(banner(emulator.stack, options), file=sys.stderr, flush=True)
        print(emulator.stack.exports(), flush=True)
        while True:
            # Short naps: the kernel may hand SIGINT/SIGTERM to any of moto's threads, and
            # Python then runs the handler only when the main thread next runs bytecode.
            time.sleep(0.2)
