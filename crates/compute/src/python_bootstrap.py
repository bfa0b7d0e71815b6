"""Switchyard's Python runtime, a small stand-in for AWS's awslambdaric.

Speaks the Lambda Runtime API at AWS_LAMBDA_RUNTIME_API, loads the handler named by _HANDLER from
LAMBDA_TASK_ROOT (or the inline module source in _SWITCHYARD_HANDLER_SOURCE) and answers
invocations with the results and error documents Lambda returns: same error types, messages and
stack traces, with the function's files shown under /var/task. A handler that does not load is
reported to /runtime/init/error, and the process exits, as awslambdaric does.
"""

import importlib
import importlib.machinery
import importlib.util
import json
import logging
import os
import resource
import socket
import sys
import threading
import time
import traceback

LAMBDA_TASK_ROOT = "/var/task"
INLINE_SOURCE_VARIABLE = "_SWITCHYARD_HANDLER_SOURCE"
RUNTIME_PATH = "/2018-06-01/runtime"
# The stack CPython gives its threads where the C library's default is small (musl).
LIMITED_THREAD_STACK_BYTES = 1 << 20


class RuntimeApi:
    """A keep-alive HTTP/1.1 client of the Runtime API: plain sockets start faster than http.client."""

    def __init__(self, address):
        host, port = address.rsplit(":", 1)
        self.connection = socket.create_connection((host, int(port)))
        # Nagle plus delayed ACKs would add ~40 ms to every call.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.responses = self.connection.makefile("rb")

    def call(self, method, path, body=b"", headers=()):
        head = "%s %s HTTP/1.1\r\nHost: runtime\r\nContent-Length: %d\r\n%s\r\n" % (
            method,
            RUNTIME_PATH + path,
            len(body),
            "".join("%s: %s\r\n" % header for header in headers),
        )
        self.connection.sendall(head.encode("latin-1") + body)
        status_line = self.responses.readline()
        if not status_line:
            # The Runtime API is gone: so is the environment.
            sys.exit(0)
        response_headers = {}
        while True:
            line = self.responses.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            response_headers[name.strip().lower()] = value.strip()
        length = int(response_headers.get("content-length", "0"))
        return int(status_line.split()[1]), response_headers, self.responses.read(length) if length else b""

    def post_error(self, path, error):
        error_type = error["errorType"]
        self.call("POST", path, json.dumps(error).encode("utf-8"), [("Lambda-Runtime-Function-Error-Type", error_type if error_type.startswith("Runtime.") else "Unhandled")])


class Fault(Exception):
    """An error of the runtime rather than of the handler (awslambdaric's FaultException)."""

    def __init__(self, error_type, message, trace=None):
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.trace = trace


class InlineModule(importlib.machinery.SourceFileLoader):
    """Finds and loads the inline handler source as if it were the file /var/task/<module>.py,
    through the standard loader so that errors show the frames Lambda shows."""

    def __init__(self, name, source):
        super().__init__(name, LAMBDA_TASK_ROOT + "/" + name.replace(".", "/") + ".py")
        self.source = source

    def find_spec(self, fullname, path=None, target=None):
        if fullname != self.name:
            return None
        return importlib.util.spec_from_file_location(fullname, self.path, loader=self)

    def get_data(self, path):
        return self.source.encode("utf-8")


class CognitoIdentity:
    def __init__(self):
        self.cognito_identity_id = None
        self.cognito_identity_pool_id = None


class LambdaContext:
    def __init__(self, request_id, deadline_ms, invoked_function_arn):
        self.aws_request_id = request_id
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.invoked_function_arn = invoked_function_arn
        self.client_context = None
        self.identity = CognitoIdentity()
        self._epoch_deadline_time_in_ms = deadline_ms

    def get_remaining_time_in_millis(self):
        remaining = self._epoch_deadline_time_in_ms - int(time.time() * 1000)
        return remaining if remaining > 0 else 0

    def log(self, message):
        sys.stdout.write(str(message))


class RequestIdFilter(logging.Filter):
    request_id = ""

    def filter(self, record):
        record.aws_request_id = RequestIdFilter.request_id
        return True


def install_log_handler():
    """Formats log records as Lambda's Python runtime does."""
    handler = logging.StreamHandler(sys.stderr)
    formatter = logging.Formatter("[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s", "%Y-%m-%dT%H:%M:%S")
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    handler.addFilter(RequestIdFilter())
    logging.getLogger().addHandler(handler)


def make_error(message, error_type, stack_trace, request_id):
    return {
        "errorMessage": message if message else "",
        "errorType": error_type if error_type else "Exception",
        "requestId": request_id if request_id is not None else "",
        "stackTrace": stack_trace if stack_trace else [],
    }


def task_path(filename, task_root):
    """Shows the function's own files where Lambda keeps them."""
    if task_root and filename and filename.startswith(task_root + os.sep):
        return LAMBDA_TASK_ROOT + "/" + filename[len(task_root) + 1 :].replace(os.sep, "/")
    return filename


def error_from_exception(request_id, task_root):
    error_type, error, tb = sys.exc_info()
    frames = [(task_path(frame.filename, task_root), frame.lineno, frame.name, frame.line) for frame in traceback.extract_tb(tb)]
    # Like Lambda, leave out the runtime's own frames that lead to the function's code.
    while frames and frames[0][0] == BOOTSTRAP_FILENAME:
        frames.pop(0)
    return make_error(str(error), error_type.__name__, traceback.format_list(frames), request_id)


def load_handler(handler, inline_source, task_root):
    try:
        module_name, function_name = handler.rsplit(".", 1)
    except ValueError as error:
        raise Fault("Runtime.MalformedHandlerName", "Bad handler '{}': {}".format(handler, error))
    if inline_source is not None:
        sys.meta_path.insert(0, InlineModule(module_name.replace("/", "."), inline_source))
    try:
        if module_name.split(".")[0] in sys.builtin_module_names:
            raise Fault("Runtime.BuiltInModuleConflict", "Cannot use built-in module {} as a handler module".format(module_name))
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as error:
        raise Fault("Runtime.ImportModuleError", "Unable to import module '{}': {}".format(module_name, error))
    except SyntaxError as error:
        trace = ['  File "%s" Line %s\n    %s' % (task_path(error.filename, task_root), error.lineno, error.text)]
        raise Fault("Runtime.UserCodeSyntaxError", "Syntax error in module '{}': {}".format(module_name, error), trace)
    try:
        return getattr(module, function_name)
    except AttributeError:
        fault = Fault("Runtime.HandlerNotFound", "Handler '{}' missing on module '{}'".format(function_name, module_name))

        def missing_handler(event, context):
            raise fault

        return missing_handler


def number_from_decimal(value):
    # DynamoDB hands out Decimals; Lambda serializes them as JSON numbers.
    if type(value).__name__ == "Decimal":
        return float(value)
    raise TypeError("Object of type {} is not JSON serializable".format(type(value).__name__))


def marshal(result):
    if isinstance(result, bytes):
        return result.decode("utf-8", "replace")
    try:
        return json.dumps(result, ensure_ascii=False, allow_nan=True, default=number_from_decimal)
    except Exception as error:
        raise Fault("Runtime.MarshalError", "Unable to marshal response: {}".format(error))


def invoke(runtime_api, handler, task_root):
    status, headers, body = runtime_api.call("GET", "/invocation/next")
    if status != 200:
        # The environment is shutting down.
        sys.exit(0)
    request_id = headers.get("lambda-runtime-aws-request-id", "")
    RequestIdFilter.request_id = request_id
    if "lambda-runtime-trace-id" in headers:
        os.environ["_X_AMZN_TRACE_ID"] = headers["lambda-runtime-trace-id"]
    context = LambdaContext(request_id, int(headers.get("lambda-runtime-deadline-ms", "0")), headers.get("lambda-runtime-invoked-function-arn"))
    try:
        result = marshal(handler(json.loads(body), context))
    except Fault as fault:
        runtime_api.post_error("/invocation/%s/error" % request_id, make_error(fault.message, fault.error_type, fault.trace, request_id))
    except Exception:
        runtime_api.post_error("/invocation/%s/error" % request_id, error_from_exception(request_id, task_root))
    else:
        runtime_api.call("POST", "/invocation/%s/response" % request_id, result.encode("utf-8"))


def fit_thread_stacks_to_the_address_space():
    """Where no cgroup is available the memory limit is an address-space limit (RLIMIT_AS), which
    counts the 8 MiB every thread reserves for its stack by default though it barely touches it:
    the ten transfer threads of a boto3 upload would exhaust a 128 MB function."""
    if resource.getrlimit(resource.RLIMIT_AS)[0] != resource.RLIM_INFINITY:
        threading.stack_size(LIMITED_THREAD_STACK_BYTES)


def main():
    fit_thread_stacks_to_the_address_space()
    inline_source = os.environ.pop(INLINE_SOURCE_VARIABLE, None)
    task_root = None if inline_source is not None else os.environ.get("LAMBDA_TASK_ROOT")
    sys.path[:] = [entry for entry in sys.path if entry not in ("", ".")]
    if task_root:
        sys.path.insert(0, task_root)
    runtime_api = RuntimeApi(os.environ["AWS_LAMBDA_RUNTIME_API"])
    install_log_handler()
    try:
        handler = load_handler(os.environ.get("_HANDLER", ""), inline_source, task_root)
    except Fault as fault:
        runtime_api.post_error("/init/error", make_error(fault.message, fault.error_type, fault.trace, None))
        sys.exit(1)
    except Exception:
        runtime_api.post_error("/init/error", error_from_exception(None, task_root))
        sys.exit(1)
    while True:
        invoke(runtime_api, handler, task_root)


BOOTSTRAP_FILENAME = main.__code__.co_filename

# The Python template (python_zygote.py) loads this module without running it.
if __name__ == "__main__":
    main()
