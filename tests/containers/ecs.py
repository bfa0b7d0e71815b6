"""Container tasks end to end through real clients: the ECS API with boto3 and the AWS CLI, the
Fargate pipeline (Lambda -> ecs:runTask.sync -> Parallel(2 Lambdas) -> Lambda) through Step
Functions, and crashes of Switchyard (kill -9) while containers run.

Usage: ecs.py --switchyard BIN --runner engine|process
The script starts its own servers. With the engine runner, DOCKER_HOST names Podman's service
(scripts/setup/podman.sh) and the pipeline's image is built here from tests/containers/fargate.
"""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import boto3

HERE = os.path.dirname(os.path.abspath(__file__))
FARGATE = os.path.join(HERE, "fargate")
BUSYBOX = "localhost/switchyard-busybox"
PIPELINE_IMAGE = "000000000000.dkr.ecr.us-east-1.amazonaws.com/stepfunctiontest:latest"
ROLE = "arn:aws:iam::000000000000:role/ECSPassRole"
OWNER_LABEL = "io.switchyard.owner"

results = {"passed": 0, "failed": 0}


def check(name, condition, detail=""):
    if condition:
        results["passed"] += 1
        print(f"PASS {name}")
    else:
        results["failed"] += 1
        print(f"FAIL {name}: {detail}")


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """One `switchyard serve` on a data directory that outlives its restarts."""

    def __init__(self, binary, runner, data_dir):
        self.binary, self.runner, self.data_dir = binary, runner, data_dir
        self.port = free_port()
        self.process = None

    def start(self):
        functions = []
        for name, handler in (("map", "handler_map"), ("branch", "handler_branch"), ("reduce", "handler_reduce")):
            functions += ["--function", f"StepFunctionFargate-dev-{name}={FARGATE}/handler.py:{handler}"]
        command = [self.binary, "serve", "--listen", f"127.0.0.1:{self.port}", "--data-dir", self.data_dir,
                   "--container-runner", self.runner, "--container-workdir", FARGATE, *functions]
        self.log = open(os.path.join(self.data_dir, "server.log"), "a")
        self.process = subprocess.Popen(command, stderr=self.log, stdout=self.log)
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"switchyard did not start; see {self.data_dir}/server.log")

    def kill(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self):
        self.process.terminate()
        self.process.wait()

    def client(self, service):
        return boto3.client(service, endpoint_url=f"http://127.0.0.1:{self.port}", region_name="us-east-1",
                            aws_access_key_id="test", aws_secret_access_key="test")


def wait_for(describe, predicate, timeout=30):
    deadline = time.time() + timeout
    while True:
        value = describe()
        if predicate(value) or time.time() > deadline:
            return value
        time.sleep(0.1)


def task_of(ecs, arn, cluster="default"):
    return ecs.describe_tasks(cluster=cluster, tasks=[arn])["tasks"][0]


def stopped(ecs, arn, cluster="default", timeout=30):
    return wait_for(lambda: task_of(ecs, arn, cluster), lambda task: task["lastStatus"] == "STOPPED", timeout)


def task_log(server, task, container="app"):
    cluster = task["clusterArn"].rsplit("/", 1)[1]
    task_id = task["taskArn"].rsplit("/", 1)[1]
    path = os.path.join(server.data_dir, "logs", "ecs", cluster, task_id, f"{container}.log")
    return open(path).read() if os.path.exists(path) else ""


def leftovers(server):
    """Containers (or process runs) of this server that still exist."""
    if server.runner == "process":
        directory = os.path.join(server.data_dir, "containers")
        return [name for name in os.listdir(directory) if name.endswith(".json")] if os.path.isdir(directory) else []
    socket_path = os.environ["DOCKER_HOST"].removeprefix("unix://")
    owner = os.path.abspath(server.data_dir)
    query = urllib.parse.quote(json.dumps({"label": [f"{OWNER_LABEL}={owner}"]}))
    listed = subprocess.run(["curl", "-sf", "--unix-socket", socket_path, f"http://d/containers/json?all=1&filters={query}"],
                            capture_output=True, text=True, check=True)
    return json.loads(listed.stdout)


def register(ecs, family, command, memory=None, image=BUSYBOX):
    container = {"name": "app", "image": image, "command": command, "essential": True}
    if memory:
        container["memory"] = memory
    return ecs.register_task_definition(family=family, requiresCompatibilities=["FARGATE"], networkMode="awsvpc",
                                        cpu="256", memory="512", containerDefinitions=[container])["taskDefinition"]


def run(ecs, family, **extra):
    return ecs.run_task(taskDefinition=family, launchType="FARGATE", count=1,
                        networkConfiguration={"awsvpcConfiguration": {"subnets": ["subnet-1"], "assignPublicIp": "ENABLED"}},
                        **extra)["tasks"][0]


def api_cases(server):
    ecs = server.client("ecs")
    definition = register(ecs, "hello", ["sh", "-c", "echo hello $WHO; exit 0"])
    check("register-task-definition gives revision 1", definition["revision"] == 1 and definition["status"] == "ACTIVE", definition)
    register(ecs, "hello", ["sh", "-c", "echo hello $WHO; exit 0"])
    described = ecs.describe_task_definition(taskDefinition="hello")["taskDefinition"]
    check("describe-task-definition by family is the latest revision", described["revision"] == 2, described.get("revision"))
    listed = ecs.list_task_definitions(familyPrefix="hel")["taskDefinitionArns"]
    check("list-task-definitions", listed == [f"arn:aws:ecs:us-east-1:000000000000:task-definition/hello:{n}" for n in (1, 2)], listed)
    ecs.deregister_task_definition(taskDefinition="hello:1")
    check("a deregistered revision is INACTIVE",
          ecs.describe_task_definition(taskDefinition="hello:1")["taskDefinition"]["status"] == "INACTIVE")
    try:
        ecs.describe_task_definition(taskDefinition="missing")
        check("an unknown task definition is a ClientException", False, "no error")
    except ecs.exceptions.ClientException:
        check("an unknown task definition is a ClientException", True)
    cluster = ecs.create_cluster(clusterName="work")["cluster"]
    check("create-cluster", cluster["clusterArn"].endswith(":cluster/work") and cluster["status"] == "ACTIVE", cluster)
    check("list-clusters includes the implicit default", len(ecs.list_clusters()["clusterArns"]) == 2, ecs.list_clusters())
    try:
        ecs.run_task(cluster="nope", taskDefinition="hello")
        check("run-task on an unknown cluster is ClusterNotFoundException", False, "no error")
    except ecs.exceptions.ClusterNotFoundException:
        check("run-task on an unknown cluster is ClusterNotFoundException", True)

    task = run(ecs, "hello", cluster="work",
               overrides={"containerOverrides": [{"name": "app", "environment": [{"name": "WHO", "value": "override"}]}]})
    check("run-task answers PROVISIONING", task["lastStatus"] == "PROVISIONING" and task["desiredStatus"] == "RUNNING", task["lastStatus"])
    done = stopped(ecs, task["taskArn"], "work")
    check("a task stops with its exit code", done["stopCode"] == "EssentialContainerExited" and done["containers"][0].get("exitCode") == 0, done)
    check("a task's logs are kept", task_log(server, done) == "hello override\n", repr(task_log(server, done)))
    check("list-tasks shows stopped tasks by desired status",
          ecs.list_tasks(cluster="work", desiredStatus="STOPPED")["taskArns"] == [task["taskArn"]])

    register(ecs, "fails", ["sh", "-c", "echo failing >&2; exit 3"])
    done = stopped(ecs, run(ecs, "fails")["taskArn"])
    check("a non-zero exit is the container's exitCode", done["containers"][0].get("exitCode") == 3, done["containers"])

    register(ecs, "sleeps", ["sh", "-c", "echo started; sleep 30"])
    task = run(ecs, "sleeps")
    running = wait_for(lambda: task_of(ecs, task["taskArn"]), lambda t: t["lastStatus"] == "RUNNING")
    check("a task goes RUNNING", running["lastStatus"] == "RUNNING" and "startedAt" in running, running["lastStatus"])
    check("list-tasks shows running tasks", task["taskArn"] in ecs.list_tasks()["taskArns"])
    began = time.time()
    ecs.stop_task(task=task["taskArn"], reason="enough")
    done = stopped(ecs, task["taskArn"])
    check("stop-task stops it mid-run", done["stopCode"] == "UserInitiated" and done["stoppedReason"] == "enough"
          and time.time() - began < 15, done)

    register(ecs, "hungry", ["sh", "-c", "x=$(head -c 300000000 /dev/zero | tr '\\0' a); echo ${#x}"], memory=32)
    done = stopped(ecs, run(ecs, "hungry")["taskArn"])
    container = done["containers"][0]
    check("a task over its memory is OOM-killed", container.get("exitCode") == 137
          and container.get("reason", "").startswith("OutOfMemoryError"), container)

    if server.runner != "process":
        register(ecs, "noimage", ["true"], image="localhost/switchyard-no-such-image")
        done = stopped(ecs, run(ecs, "noimage")["taskArn"])
        check("a missing image fails to start", done["stopCode"] == "TaskFailedToStart"
              and "CannotPullContainerError" in done["stoppedReason"], done.get("stoppedReason"))

    cli = subprocess.run(["aws", "ecs", "run-task", "--task-definition", "hello", "--launch-type", "FARGATE",
                          "--endpoint-url", f"http://127.0.0.1:{server.port}", "--output", "json"],
                         capture_output=True, text=True, env={**os.environ, "AWS_ACCESS_KEY_ID": "test",
                                                               "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"})
    arn = json.loads(cli.stdout)["tasks"][0]["taskArn"] if cli.returncode == 0 else None
    check("the AWS CLI runs a task", arn is not None and stopped(ecs, arn)["lastStatus"] == "STOPPED", cli.stderr)


def pipeline_definition(cluster, family, container):
    return {
        "StartAt": "StartStepF",
        "States": {
            "StartStepF": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:000000000000:function:StepFunctionFargate-dev-map",
                           "Next": "FargateStep"},
            "FargateStep": {
                "Type": "Task", "Resource": "arn:aws:states:::ecs:runTask.sync",
                "Parameters": {
                    "Cluster": cluster, "TaskDefinition": family, "LaunchType": "FARGATE",
                    "NetworkConfiguration": {"AwsvpcConfiguration": {"Subnets": ["subnet-1"], "AssignPublicIp": "ENABLED"}},
                    "Overrides": {"ContainerOverrides": [{"Name": container, "Command": ["app/exec"], "Cpu": 1, "Memory": 512}]},
                },
                "ResultPath": "$.fargate", "Next": "Parallel",
            },
            "Parallel": {"Type": "Parallel", "Next": "EndStepF", "Branches": [
                {"StartAt": "Branch1", "States": {"Branch1": {"Type": "Task", "End": True,
                 "Resource": "arn:aws:lambda:us-east-1:000000000000:function:StepFunctionFargate-dev-branch"}}},
                {"StartAt": "Branch2", "States": {"Branch2": {"Type": "Task", "End": True,
                 "Resource": "arn:aws:lambda:us-east-1:000000000000:function:StepFunctionFargate-dev-branch"}}},
            ]},
            "EndStepF": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:000000000000:function:StepFunctionFargate-dev-reduce",
                         "End": True},
        },
    }


def finished(sfn, arn, timeout=60):
    return wait_for(lambda: sfn.describe_execution(executionArn=arn), lambda e: e["status"] != "RUNNING", timeout)


def create_machine(sfn, name, definition):
    return sfn.create_state_machine(name=name, definition=json.dumps(definition), roleArn=ROLE)["stateMachineArn"]


def step_functions_cases(server):
    ecs, sfn = server.client("ecs"), server.client("stepfunctions")
    ecs.create_cluster(clusterName="fargate")
    ecs.register_task_definition(family="dockerFargate", requiresCompatibilities=["FARGATE"], networkMode="awsvpc", cpu="256",
                                 memory="512", containerDefinitions=[{"name": "dockerFargate", "image": PIPELINE_IMAGE, "essential": True}])
    machine = create_machine(sfn, "StepFunctionFargate-StepFunction", pipeline_definition("fargate", "dockerFargate", "dockerFargate"))
    execution = sfn.start_execution(stateMachineArn=machine, input=json.dumps({"job": 1}))["executionArn"]
    result = finished(sfn, execution)
    output = json.loads(result.get("output", "null"))
    check("the Fargate pipeline succeeds with the branches' output", result["status"] == "SUCCEEDED"
          and output == ["Hello world", "Hello world"], result)
    tasks = ecs.list_tasks(cluster="fargate", desiredStatus="STOPPED")["taskArns"]
    task = task_of(ecs, tasks[0], "fargate") if tasks else {}
    check("the pipeline's container said hello and exited 0", len(tasks) == 1 and "Hello execute" in task_log(server, task, "dockerFargate")
          and task["containers"][0].get("exitCode") == 0, task)

    register(ecs, "exit2", ["sh", "-c", "exit 2"])
    failing = create_machine(sfn, "fails", {"StartAt": "Run", "States": {"Run": {
        "Type": "Task", "Resource": "arn:aws:states:::ecs:runTask.sync", "End": True,
        "Parameters": {"TaskDefinition": "exit2", "LaunchType": "FARGATE"}}}})
    result = finished(sfn, sfn.start_execution(stateMachineArn=failing)["executionArn"])
    cause = json.loads(result.get("cause", "{}"))
    check(".sync fails with States.TaskFailed and the task as cause", result.get("error") == "States.TaskFailed"
          and cause.get("Containers", [{}])[0].get("ExitCode") == 2 and cause.get("LastStatus") == "STOPPED", result)

    register(ecs, "slow", ["sh", "-c", "sleep 30"])
    timing_out = create_machine(sfn, "times-out", {"StartAt": "Run", "States": {"Run": {
        "Type": "Task", "Resource": "arn:aws:states:::ecs:runTask.sync", "End": True, "TimeoutSeconds": 2,
        "Parameters": {"TaskDefinition": "slow", "LaunchType": "FARGATE"}}}})
    result = finished(sfn, sfn.start_execution(stateMachineArn=timing_out)["executionArn"])
    slow_tasks = wait_for(lambda: ecs.list_tasks(family="slow", desiredStatus="STOPPED")["taskArns"], lambda arns: arns, 5)
    # A shell as PID 1 ignores SIGTERM: the engine kills it after the stop grace (10 s).
    slow_task = wait_for(lambda: task_of(ecs, slow_tasks[0]) if slow_tasks else {}, lambda t: t.get("lastStatus") == "STOPPED", 20)
    check("a state timeout stops the container", result["status"] == "FAILED" and result.get("error") == "States.Timeout"
          and slow_task.get("stopCode") == "UserInitiated", (result.get("error"), slow_task.get("stoppedReason")))

    request_response = create_machine(sfn, "request-response", {"StartAt": "Run", "States": {"Run": {
        "Type": "Task", "Resource": "arn:aws:states:::ecs:runTask", "End": True,
        "Parameters": {"TaskDefinition": "exit2", "LaunchType": "FARGATE"}}}})
    result = finished(sfn, sfn.start_execution(stateMachineArn=request_response)["executionArn"])
    output = json.loads(result.get("output", "{}"))
    check("request-response answers RunTask's response", result["status"] == "SUCCEEDED"
          and output.get("Tasks", [{}])[0].get("LastStatus") == "PROVISIONING" and output.get("Failures") == [], output)

    register(ecs, "token", ["sh", "-c", "echo token=$TASK_TOKEN; sleep 30"])
    token_machine = create_machine(sfn, "token", {"StartAt": "Run", "States": {"Run": {
        "Type": "Task", "Resource": "arn:aws:states:::ecs:runTask.waitForTaskToken", "End": True,
        "Parameters": {"TaskDefinition": "token", "LaunchType": "FARGATE", "Overrides": {"ContainerOverrides": [
            {"Name": "app", "Environment": [{"Name": "TASK_TOKEN", "Value.$": "$$.Task.Token"}]}]}}}}})
    execution = sfn.start_execution(stateMachineArn=token_machine)["executionArn"]
    arns = wait_for(lambda: ecs.list_tasks(family="token")["taskArns"], lambda arns: arns)
    log = wait_for(lambda: task_log(server, task_of(ecs, arns[0])) if arns else "", lambda text: "token=" in text)
    token = log.split("token=", 1)[1].strip() if "token=" in log else ""
    if token:
        sfn.send_task_success(taskToken=token, output=json.dumps({"from": "container"}))
    result = finished(sfn, execution)
    check(".waitForTaskToken passes the token to the container", result["status"] == "SUCCEEDED"
          and json.loads(result.get("output", "{}")) == {"from": "container"}, (result["status"], log))
    if arns:
        ecs.stop_task(task=arns[0])
        stopped(ecs, arns[0])


def crash_cases(server):
    ecs, sfn = server.client("ecs"), server.client("stepfunctions")
    register(ecs, "survivor", ["sh", "-c", "sleep 3; echo survived; exit 5"])
    task = run(ecs, "survivor")
    wait_for(lambda: task_of(ecs, task["taskArn"]), lambda t: t["lastStatus"] == "RUNNING")
    register(ecs, "sync-survivor", ["sh", "-c", "sleep 3; echo done"])
    machine = create_machine(sfn, "survives", {"StartAt": "Run", "States": {"Run": {
        "Type": "Task", "Resource": "arn:aws:states:::ecs:runTask.sync", "End": True,
        "Parameters": {"TaskDefinition": "sync-survivor", "LaunchType": "FARGATE"}}}})
    execution = sfn.start_execution(stateMachineArn=machine)["executionArn"]
    wait_for(lambda: ecs.list_tasks(family="sync-survivor")["taskArns"], lambda arns: arns)
    time.sleep(0.5)
    server.kill()
    server.start()
    ecs, sfn = server.client("ecs"), server.client("stepfunctions")
    done = stopped(ecs, task["taskArn"])
    check("a task running through a crash is adopted and its exit kept", done["containers"][0].get("exitCode") == 5
          and "survived" in task_log(server, done), done)
    result = finished(sfn, execution)
    runs = ecs.list_tasks(family="sync-survivor", desiredStatus="STOPPED")["taskArns"] + ecs.list_tasks(family="sync-survivor")["taskArns"]
    check("a .sync task across a crash finishes once, not duplicated", result["status"] == "SUCCEEDED" and len(runs) == 1,
          (result["status"], runs))
    orphans = wait_for(lambda: leftovers(server), lambda left: not left, 10)
    check("no container is left behind", not orphans, orphans)


def run_command_cases(server):
    """The Fargate pipeline through `switchyard run` (an in-process execution, no server)."""
    task_definition = json.dumps({"family": "dockerFargate", "requiresCompatibilities": ["FARGATE"], "cpu": "256", "memory": "512",
                                  "containerDefinitions": [{"name": "dockerFargate", "image": PIPELINE_IMAGE}]})
    functions = []
    for name, handler in (("map", "handler_map"), ("branch", "handler_branch"), ("reduce", "handler_reduce")):
        functions += ["--function", f"StepFunctionFargate-dev-{name}={FARGATE}/handler.py:{handler}"]
    command = [server.binary, "run", json.dumps(pipeline_definition("default", "dockerFargate", "dockerFargate")), "--format", "json",
               "--input", "{}", "--container-runner", server.runner, "--container-workdir", FARGATE,
               "--task-definition", task_definition, *functions]
    ran = subprocess.run(command, capture_output=True, text=True, timeout=120)
    result = json.loads(ran.stdout) if ran.stdout.strip() else {}
    check("switchyard run runs the Fargate pipeline", result.get("status") == "SUCCEEDED"
          and result.get("output") == ["Hello world", "Hello world"], (result.get("status"), result.get("cause"), ran.stderr[-500:]))


def build_pipeline_image():
    socket_path = os.environ["DOCKER_HOST"].removeprefix("unix://")
    env = {**os.environ, "CONTAINERS_CONF": os.path.join(os.path.dirname(socket_path), "containers.conf")}
    subprocess.run(["podman", "build", "-q", "-t", PIPELINE_IMAGE, FARGATE], check=True, env=env, stdout=subprocess.DEVNULL)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--switchyard", required=True)
    parser.add_argument("--runner", choices=["engine", "process"], required=True)
    args = parser.parse_args()
    if args.runner == "engine":
        if not os.environ.get("DOCKER_HOST"):
            print("FAIL setup: DOCKER_HOST is not set (scripts/setup/podman.sh starts Podman's service)")
            return 1
        build_pipeline_image()
    data_dir = tempfile.mkdtemp(prefix=f"switchyard-ecs-{args.runner}-")
    server = Server(os.path.abspath(args.switchyard), args.runner, data_dir)
    server.start()
    try:
        for cases in (api_cases, step_functions_cases, crash_cases, run_command_cases):
            try:
                cases(server)
            except Exception as error:  # a broken case is a failure, and the others still run
                check(cases.__name__, False, repr(error))
    finally:
        server.stop()
    print(f"{results['passed']} passed, {results['failed']} failed")
    if results["failed"] == 0:
        shutil.rmtree(data_dir, ignore_errors=True)
    else:
        print(f"server log: {data_dir}/server.log")
    return 0 if results["failed"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
