"""A template ("zygote") of Switchyard's Python runtime: an interpreter that has started once and
imported the bootstrap with the standard modules it uses, and forks every new execution
environment, which then only has to apply its own setup and import the function's handler.

The runner talks to it over the socket on its stdin, one JSON document per line each way.
Requests: {"fork": {...}} (with the environment's output pipe attached as a descriptor) and
{"kill": pid}. Reports: "ready" once, {"forked": pid} or {"failed": reason} for each fork
in order, and {"exited": {"pid": pid, "status": wait_status}} when an environment ends (the
template is their parent and reaps them). It ends when the socket closes; its environments die
with it (PR_SET_PDEATHSIG).
"""

import ctypes
import io
import json
import os
import resource
import select
import signal
import socket
import sys
import time

BOOTSTRAP_SOURCE_VARIABLE = "_SWITCHYARD_BOOTSTRAP_SOURCE"
PR_SET_PDEATHSIG = 1
LIBC = ctypes.CDLL(None, use_errno=True)
MAX_DESCRIPTORS_PER_READ = 16


def load_bootstrap():
    """The bootstrap's main(), loaded without running it. Compiled under the name `python -c`
    gives it, so that it recognises its own frames in tracebacks exactly as when spawned."""
    namespace = {"__name__": "switchyard_bootstrap"}
    exec(compile(os.environ.pop(BOOTSTRAP_SOURCE_VARIABLE), "<string>", "exec"), namespace)
    return namespace["main"]


class Template:
    def __init__(self, control):
        self.control = control
        self.children = set()
        self.received = b""
        self.descriptors = []
        self.wakeup_read, self.wakeup_write = os.pipe()
        os.set_blocking(self.wakeup_read, False)
        os.set_blocking(self.wakeup_write, False)
        signal.set_wakeup_fd(self.wakeup_write)
        # A handler (doing nothing) so that SIGCHLD is delivered and wakes select() up.
        signal.signal(signal.SIGCHLD, lambda number, frame: None)

    def report(self, message):
        self.control.sendall(json.dumps(message).encode("utf-8") + b"\n")

    def serve(self):
        """Answers requests until the runner goes (returns None) or, in a forked environment,
        returns that environment's fork request and output descriptor."""
        self.report("ready")
        while True:
            readable, _, _ = select.select([self.control, self.wakeup_read], [], [])
            if self.wakeup_read in readable:
                self.reap()
            if self.control not in readable:
                continue
            data, descriptors, _, _ = socket.recv_fds(self.control, 65536, MAX_DESCRIPTORS_PER_READ)
            if not data:
                return None
            self.descriptors.extend(descriptors)
            self.received += data
            while b"\n" in self.received:
                line, _, self.received = self.received.partition(b"\n")
                forked = self.handle(json.loads(line))
                if forked is not None:
                    return forked

    def handle(self, request):
        if "kill" in request:
            self.kill(request["kill"])
            return None
        # Each fork request carries exactly one descriptor, sent with its first byte.
        output = self.descriptors.pop(0)
        try:
            pid = os.fork()
        except OSError as error:
            os.close(output)
            self.report({"failed": "fork: %s" % error})
            return None
        if pid == 0:
            return request["fork"], output
        # Set by both sides, so that a kill right after the fork reaches the new group.
        try:
            os.setpgid(pid, pid)
        except OSError:
            pass
        os.close(output)
        self.children.add(pid)
        self.report({"forked": pid})
        return None

    def kill(self, pid):
        if pid not in self.children:
            return
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            os.kill(pid, signal.SIGKILL)

    def reap(self):
        try:
            while os.read(self.wakeup_read, 4096):
                pass
        except BlockingIOError:
            pass
        while self.children:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                return
            self.children.discard(pid)
            self.report({"exited": {"pid": pid, "status": status}})

    def leave(self, output):
        """In a forked environment: drops everything of the template."""
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        for descriptor in [self.wakeup_read, self.wakeup_write] + self.descriptors:
            os.close(descriptor)
        self.control.close()


def become_environment(template_pid, request, output):
    """Turns a fresh fork into the environment the runner asked for, as a spawned one would be."""
    os.setpgid(0, 0)
    LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != template_pid:
        # The template died before the line above: nobody would stop this environment.
        os._exit(1)
    # The control socket was descriptor 0: /dev/null takes its place.
    null = os.open(os.devnull, os.O_RDONLY)
    if null != 0:
        os.dup2(null, 0)
        os.close(null)
    os.dup2(output, 1)
    os.dup2(output, 2)
    os.close(output)
    # The streams a `python -u` with PYTHONUTF8=1 has: unbuffered, UTF-8.
    sys.stdin = sys.__stdin__ = io.TextIOWrapper(io.BufferedReader(io.FileIO(0, "r", closefd=False)), encoding="utf-8", errors="surrogateescape")
    sys.stdout = sys.__stdout__ = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding="utf-8", errors="surrogateescape", write_through=True)
    sys.stderr = sys.__stderr__ = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), encoding="utf-8", errors="backslashreplace", write_through=True)
    os.environ.clear()
    os.environ.update(request["environment"])
    time.tzset()
    if request["cgroup_procs"] is not None:
        with open(request["cgroup_procs"], "w") as procs:
            procs.write("0")
    if request["memory_limit_bytes"] is not None:
        limit = request["memory_limit_bytes"]
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    if request["directory"] is not None:
        os.chdir(request["directory"])


def run():
    bootstrap_main = load_bootstrap()
    template = Template(socket.socket(fileno=0))
    template_pid = os.getpid()
    forked = template.serve()
    if forked is None:
        return
    request, output = forked
    template.leave(output)
    become_environment(template_pid, request, output)
    # Out of the template's loop: the environment runs, and exits, like a spawned interpreter.
    bootstrap_main()


run()
