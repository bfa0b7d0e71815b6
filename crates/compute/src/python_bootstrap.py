"""Switchyard's stand-in for the AWS Lambda Python runtime (awslambdaric).

Loads one handler the way Lambda does and answers invocations with the results and error documents
Lambda returns: same error types, messages and stack traces, with the function's files shown under
/var/task.

Protocol, one JSON document per line:
  stdin, first:        {"handler": "module.function", "inlineSource": str|null, "taskRoot": str|null}
  stdin, then each:    {"requestId": str, "deadlineMs": int, "invokedFunctionArn": str, "event": any}
  original stdout:     {"requestId": str, "kind": "result"|"handler_error"|"runtime_error", "payload": str}
Everything the function prints, even to file descriptor 1, goes to stderr: its log stream.
"""

import importlib
import importlib.machinery
import importlib.util
import json
import logging
import os
import sys
import time
import traceback
import uuid

LAMBDA_TASK_ROOT = "/var/task"


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


def invoke(handler, invocation, task_root):
    request_id = invocation["requestId"]
    RequestIdFilter.request_id = request_id
    context = LambdaContext(request_id, invocation["deadlineMs"], invocation["invokedFunctionArn"])
    try:
        return "result", marshal(handler(invocation["event"], context))
    except Fault as fault:
        return "runtime_error", json.dumps(make_error(fault.message, fault.error_type, fault.trace, request_id))
    except Exception:
        return "handler_error", json.dumps(error_from_exception(request_id, task_root))


def main():
    results = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    init = json.loads(sys.stdin.readline())
    task_root = init["taskRoot"]
    sys.path[:] = [entry for entry in sys.path if entry not in ("", ".")]
    if task_root:
        sys.path.insert(0, task_root)
    os.environ.setdefault("AWS_LAMBDA_LOG_STREAM_NAME", time.strftime("%Y/%m/%d/[$LATEST]", time.gmtime()) + uuid.uuid4().hex)
    install_log_handler()
    init_error = None
    try:
        handler = load_handler(init["handler"], init["inlineSource"], task_root)
    except Fault as fault:
        init_error = json.dumps(make_error(fault.message, fault.error_type, fault.trace, None))
    except Exception:
        init_error = json.dumps(error_from_exception(None, task_root))
    for line in sys.stdin:
        invocation = json.loads(line)
        kind, payload = ("runtime_error", init_error) if init_error else invoke(handler, invocation, task_root)
        results.write(json.dumps({"requestId": invocation["requestId"], "kind": kind, "payload": payload}) + "\n")
        results.flush()


BOOTSTRAP_FILENAME = main.__code__.co_filename

main()
