#!/usr/bin/env python3
"""AWS Batch through real clients (boto3 and the AWS CLI) against `switchyard serve`.

Starts its own server (fresh data dir; jobs run in a scratch copy of this folder), then checks the
API's shapes and errors, array jobs, dependencies, retries, cancel/terminate, the seeds' Step
Functions scenarios on every backend asked for, and that accepted jobs survive `kill -9`.

    python3 tests/batch/batch_clients.py --switchyard target/debug/switchyard [--backends process,slurm,podman]

Prints `PASS name` / `FAIL name: reason` and ends with `N passed, M failed`.
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
import traceback

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

HERE = os.path.dirname(os.path.abspath(__file__))
ACCOUNT, REGION = "000000000000", "us-east-1"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/batch-test"
FUNCTIONS = {
    "map": "handler_map",
    "branch": "handler_branch",
    "reduce": "handler_reduce",
    "prepare": "prepare_training",
    "best": "pick_best",
}
# The image Podman runs (scripts/setup/podman.sh builds it).
PODMAN_IMAGE = "localhost/switchyard-busybox"

results = {"passed": 0, "failed": 0}


def case(name):
    def run(function):
        try:
            function()
            print(f"PASS {name}", flush=True)
            results["passed"] += 1
        except Exception as error:  # a failed check or a client error: both fail the case
            detail = "".join(traceback.format_exception_only(type(error), error)).strip()
            print(f"FAIL {name}: {detail}", flush=True)
            results["failed"] += 1
        return function
    return run


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, binary, data_dir, workdir, extra=()):
        self.binary, self.data_dir, self.workdir, self.extra = binary, data_dir, workdir, list(extra)
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.process = None

    def start(self):
        functions = [arg for name, handler in FUNCTIONS.items() for arg in ("--function", f"{name}={HERE}/handlers.py:{handler}")]
        self.process = subprocess.Popen(
            [self.binary, "serve", "--listen", f"127.0.0.1:{self.port}", "--data-dir", self.data_dir,
             "--batch-workdir", self.workdir, "--batch-idle-seconds", "0.5", *functions, *self.extra],
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.data_dir, "server.log"), "a"))
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("the server did not start")

    def kill(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


def client(service, endpoint):
    return boto3.client(service, endpoint_url=endpoint, region_name=REGION, aws_access_key_id="test",
                        aws_secret_access_key="test", config=Config(retries={"max_attempts": 0}))


def expect_client_error(call, status=400, code="ClientException", **kwargs):
    try:
        call(**kwargs)
    except ClientError as error:
        got = (error.response["ResponseMetadata"]["HTTPStatusCode"], error.response["Error"]["Code"])
        assert got == (status, code), f"expected {status} {code}, got {got}: {error}"
        return error.response["Error"]["Message"]
    raise AssertionError(f"expected {code}")


def wait_job(batch, job_id, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        jobs = batch.describe_jobs(jobs=[job_id])["jobs"]
        if jobs and jobs[0]["status"] in ("SUCCEEDED", "FAILED"):
            return jobs[0]
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not end in {timeout}s: {batch.describe_jobs(jobs=[job_id])['jobs']}")


def wait_execution(sfn, arn, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        execution = sfn.describe_execution(executionArn=arn)
        if execution["status"] != "RUNNING":
            return execution
        time.sleep(0.1)
    raise AssertionError(f"execution {arn} still running after {timeout}s")


def environment(batch, name, backend, max_vcpus=8, instance_types=("c5.large",), kind="SPOT"):
    tags = {"switchyard:backend": backend}
    batch.create_compute_environment(
        computeEnvironmentName=name, type="MANAGED", state="ENABLED", tags=tags,
        computeResources={"type": kind, "minvCpus": 0, "maxvCpus": max_vcpus, "desiredvCpus": 0,
                          "instanceTypes": list(instance_types), "subnets": ["subnet-1"], "instanceRole": "ecsInstanceRole"})
    batch.create_job_queue(jobQueueName=f"{name}-queue", priority=1, state="ENABLED",
                           computeEnvironmentOrder=[{"order": 1, "computeEnvironment": name}])
    image = PODMAN_IMAGE if backend == "podman" else "busybox"
    batch.register_job_definition(jobDefinitionName=f"{name}-definition", type="container", retryStrategy={"attempts": 1},
                                  containerProperties={"image": image, "vcpus": 1, "memory": 128, "command": ["ls"]})
    return f"{name}-queue", f"{name}-definition"


def api_cases(server, batch):
    queue, definition = environment(batch, "api", "process")

    @case("CreateComputeEnvironment answers the name and ARN; DescribeComputeEnvironments echoes the request")
    def _():
        described = batch.describe_compute_environments(computeEnvironments=["api"])["computeEnvironments"][0]
        assert described["computeEnvironmentArn"] == f"arn:aws:batch:{REGION}:{ACCOUNT}:compute-environment/api", described
        assert (described["state"], described["status"], described["type"]) == ("ENABLED", "VALID", "MANAGED"), described
        assert described["computeResources"]["subnets"] == ["subnet-1"], described
        assert described["computeResources"]["instanceRole"] == "ecsInstanceRole", described

    @case("bad requests are ClientException (400) naming what is wrong")
    def _():
        message = expect_client_error(batch.create_compute_environment, computeEnvironmentName="bad", type="MANAGED",
                                      computeResources={"type": "SPOT", "maxvCpus": 4, "instanceTypes": ["z9.huge"], "subnets": ["s"]})
        assert "z9.huge" in message, message
        expect_client_error(batch.create_compute_environment, computeEnvironmentName="api", type="UNMANAGED")
        message = expect_client_error(batch.submit_job, jobName="j", jobQueue="nope", jobDefinition=definition)
        assert "nope" in message, message
        expect_client_error(batch.submit_job, jobName="j", jobQueue=queue, jobDefinition="missing-definition")
        expect_client_error(batch.submit_job, jobName="j", jobQueue=queue, jobDefinition=definition, arrayProperties={"size": 1})
        expect_client_error(batch.delete_compute_environment, computeEnvironment="api")

    @case("job definitions get revisions; Ref:: parameters fill the command; deregistered ones are INACTIVE")
    def _():
        name = "params"
        for _ in range(2):
            registered = batch.register_job_definition(jobDefinitionName=name, type="container", parameters={"word": "default"},
                                                       containerProperties={"image": "busybox", "vcpus": 1, "memory": 64,
                                                                            "command": ["echo", "Ref::word"]})
        assert registered["revision"] == 2 and registered["jobDefinitionArn"].endswith(f"job-definition/{name}:2"), registered
        job = batch.submit_job(jobName="p", jobQueue=queue, jobDefinition=name, parameters={"word": "given"})
        detail = wait_job(batch, job["jobId"])
        assert detail["container"]["command"] == ["echo", "given"], detail["container"]
        batch.deregister_job_definition(jobDefinition=f"{name}:1")
        statuses = {d["revision"]: d["status"] for d in batch.describe_job_definitions(jobDefinitionName=name)["jobDefinitions"]}
        assert statuses == {1: "INACTIVE", 2: "ACTIVE"}, statuses

    @case("the AWS CLI submits and describes jobs; a job's life reads as AWS's")
    def _():
        env = dict(os.environ, AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test", AWS_DEFAULT_REGION=REGION)
        out = subprocess.run(["aws", "batch", "submit-job", "--endpoint-url", server.endpoint, "--job-name", "cli",
                              "--job-queue", queue, "--job-definition", definition,
                              "--container-overrides", json.dumps({"command": ["sh", "-c", "echo from the cli; exit 0"]})],
                             env=env, capture_output=True, text=True, check=True).stdout
        job_id = json.loads(out)["jobId"]
        detail = wait_job(batch, job_id)
        assert detail["status"] == "SUCCEEDED" and detail["statusReason"] == "Essential container in task exited", detail
        assert detail["attempts"][0]["container"]["exitCode"] == 0 and detail["startedAt"] <= detail["stoppedAt"], detail
        listed = subprocess.run(["aws", "batch", "list-jobs", "--endpoint-url", server.endpoint, "--job-queue", queue,
                                 "--job-status", "SUCCEEDED"], env=env, capture_output=True, text=True, check=True).stdout
        assert job_id in [s["jobId"] for s in json.loads(listed)["jobSummaryList"]], listed

    @case("array jobs: children see AWS_BATCH_JOB_ARRAY_INDEX; the parent sums them up; ListJobs by arrayJobId pages")
    def _():
        job = batch.submit_job(jobName="array", jobQueue=queue, jobDefinition=definition, arrayProperties={"size": 4},
                               containerOverrides={"command": ["sh", "-c", 'test "$AWS_BATCH_JOB_ARRAY_INDEX" != 2']})
        parent = wait_job(batch, job["jobId"])
        assert parent["status"] == "FAILED", parent
        assert parent["arrayProperties"]["statusSummary"]["SUCCEEDED"] == 3 and parent["arrayProperties"]["statusSummary"]["FAILED"] == 1, parent
        first = batch.list_jobs(arrayJobId=job["jobId"], jobStatus="SUCCEEDED", maxResults=2)
        rest = batch.list_jobs(arrayJobId=job["jobId"], jobStatus="SUCCEEDED", nextToken=first["nextToken"])
        assert len(first["jobSummaryList"]) + len(rest["jobSummaryList"]) == 3, (first, rest)
        failed = batch.describe_jobs(jobs=[f"{job['jobId']}:2"])["jobs"][0]
        assert failed["container"]["exitCode"] == 1 and failed["arrayProperties"]["index"] == 2, failed

    @case("dependencies: a job waits (PENDING) for another; a failed dependency fails it")
    def _():
        first = batch.submit_job(jobName="first", jobQueue=queue, jobDefinition=definition, containerOverrides={"command": ["sleep", "0.5"]})
        second = batch.submit_job(jobName="second", jobQueue=queue, jobDefinition=definition, dependsOn=[{"jobId": first["jobId"]}],
                                  containerOverrides={"command": ["true"]})
        time.sleep(0.2)
        assert batch.describe_jobs(jobs=[second["jobId"]])["jobs"][0]["status"] == "PENDING"
        assert wait_job(batch, second["jobId"])["status"] == "SUCCEEDED"
        assert wait_job(batch, first["jobId"])["stoppedAt"] <= batch.describe_jobs(jobs=[second["jobId"]])["jobs"][0]["startedAt"]
        failing = batch.submit_job(jobName="failing", jobQueue=queue, jobDefinition=definition, containerOverrides={"command": ["false"]})
        after = batch.submit_job(jobName="after", jobQueue=queue, jobDefinition=definition, dependsOn=[{"jobId": failing["jobId"]}])
        detail = wait_job(batch, after["jobId"])
        assert (detail["status"], detail["statusReason"]) == ("FAILED", "Dependent Job failed"), detail

    @case("retryStrategy: a failed attempt runs again up to its attempts; evaluateOnExit EXIT stops it")
    def _():
        marker = f"retry-{time.time()}"
        command = ["sh", "-c", f"if [ -e {marker} ]; then exit 0; else touch {marker}; exit 7; fi"]
        job = batch.submit_job(jobName="retry", jobQueue=queue, jobDefinition=definition, retryStrategy={"attempts": 2},
                               containerOverrides={"command": command})
        detail = wait_job(batch, job["jobId"])
        assert detail["status"] == "SUCCEEDED" and [a["container"]["exitCode"] for a in detail["attempts"]] == [7, 0], detail
        job = batch.submit_job(jobName="exit", jobQueue=queue, jobDefinition=definition, containerOverrides={"command": ["false"]},
                               retryStrategy={"attempts": 3, "evaluateOnExit": [{"onExitCode": "1", "action": "EXIT"}]})
        detail = wait_job(batch, job["jobId"])
        assert detail["status"] == "FAILED" and len(detail["attempts"]) == 1, detail

    @case("TerminateJob stops a running job; CancelJob fails a queued one")
    def _():
        running = batch.submit_job(jobName="long", jobQueue=queue, jobDefinition=definition, containerOverrides={"command": ["sleep", "60"]})
        deadline = time.time() + 10
        while batch.describe_jobs(jobs=[running["jobId"]])["jobs"][0]["status"] != "RUNNING" and time.time() < deadline:
            time.sleep(0.05)
        batch.terminate_job(jobId=running["jobId"], reason="stop it")
        detail = wait_job(batch, running["jobId"], timeout=20)
        assert (detail["status"], detail["statusReason"], detail["isTerminated"]) == ("FAILED", "stop it", True), detail
        blocker = batch.submit_job(jobName="blocker", jobQueue=queue, jobDefinition=definition, containerOverrides={"command": ["sleep", "1"]})
        waiting = batch.submit_job(jobName="waiting", jobQueue=queue, jobDefinition=definition, dependsOn=[{"jobId": blocker["jobId"]}])
        batch.cancel_job(jobId=waiting["jobId"], reason="not needed")
        detail = wait_job(batch, waiting["jobId"])
        assert (detail["status"], detail["statusReason"], detail["isCancelled"]) == ("FAILED", "not needed", True), detail
        expect_client_error(batch.terminate_job, jobId="no-such-job", reason="x")

    @case("queues and environments update, and delete once DISABLED")
    def _():
        batch.update_job_queue(jobQueue=queue, priority=5)
        assert batch.describe_job_queues(jobQueues=[queue])["jobQueues"][0]["priority"] == 5
        environment(batch, "doomed", "process")
        batch.update_job_queue(jobQueue="doomed-queue", state="DISABLED")
        batch.delete_job_queue(jobQueue="doomed-queue")
        batch.update_compute_environment(computeEnvironment="doomed", state="DISABLED")
        batch.delete_compute_environment(computeEnvironment="doomed")
        names = [e["computeEnvironmentName"] for e in batch.describe_compute_environments()["computeEnvironments"]]
        assert "doomed" not in names, names


def fair_share_cases(server, batch):
    light_heavy = [{"shareIdentifier": "light", "weightFactor": 1.0}, {"shareIdentifier": "heavy", "weightFactor": 3.0}]
    policy = batch.create_scheduling_policy(name="fair", fairsharePolicy={"shareDecaySeconds": 3600, "computeReservation": 0,
                                                                           "shareDistribution": light_heavy})
    # One 2-vCPU job at a time, held back (DISABLED) until both shares are backlogged.
    batch.create_compute_environment(
        computeEnvironmentName="fair", type="MANAGED", state="DISABLED", tags={"switchyard:backend": "process"},
        computeResources={"type": "EC2", "minvCpus": 0, "maxvCpus": 2, "instanceTypes": ["c5.large"], "subnets": ["s"]})
    batch.create_job_queue(jobQueueName="fair-queue", priority=1, schedulingPolicyArn=policy["arn"],
                           computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "fair"}])
    batch.register_job_definition(jobDefinitionName="fair-definition", type="container", schedulingPriority=1,
                                  containerProperties={"image": "busybox", "vcpus": 2, "memory": 128, "command": ["true"]})

    @case("scheduling policies: create, describe, list (boto3 and the AWS CLI), update; deleting one in use is refused")
    def _():
        assert policy["arn"] == f"arn:aws:batch:{REGION}:{ACCOUNT}:scheduling-policy/fair", policy
        described = batch.describe_scheduling_policies(arns=[policy["arn"]])["schedulingPolicies"][0]
        assert described["fairsharePolicy"]["shareDistribution"] == light_heavy, described
        env = dict(os.environ, AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test", AWS_DEFAULT_REGION=REGION)
        listed = subprocess.run(["aws", "batch", "list-scheduling-policies", "--endpoint-url", server.endpoint],
                                env=env, capture_output=True, text=True, check=True).stdout
        assert {"arn": policy["arn"]} in json.loads(listed)["schedulingPolicies"], listed
        spare = batch.create_scheduling_policy(name="spare", fairsharePolicy={"shareDecaySeconds": 0})
        batch.update_scheduling_policy(arn=spare["arn"], fairsharePolicy={"computeReservation": 25})
        updated = batch.describe_scheduling_policies(arns=[spare["arn"]])["schedulingPolicies"][0]
        assert updated["fairsharePolicy"] == {"computeReservation": 25, "shareDistribution": []}, updated
        batch.delete_scheduling_policy(arn=spare["arn"])
        assert batch.describe_scheduling_policies(arns=[spare["arn"]])["schedulingPolicies"] == []
        expect_client_error(batch.delete_scheduling_policy, arn=policy["arn"])
        expect_client_error(batch.create_scheduling_policy, name="bad", fairsharePolicy={"computeReservation": 100})
        expect_client_error(batch.create_scheduling_policy, name="bad",
                            fairsharePolicy={"shareDistribution": [{"shareIdentifier": "a*"}, {"shareIdentifier": "ab"}]})

    @case("fair-share queues require shareIdentifier and a scheduling priority; FIFO queues refuse shareIdentifier")
    def _():
        message = expect_client_error(batch.submit_job, jobName="j", jobQueue="fair-queue", jobDefinition="fair-definition")
        assert "shareIdentifier" in message, message
        batch.register_job_definition(jobDefinitionName="unprioritized", type="container",
                                      containerProperties={"image": "busybox", "vcpus": 2, "memory": 128, "command": ["true"]})
        message = expect_client_error(batch.submit_job, jobName="j", jobQueue="fair-queue", jobDefinition="unprioritized", shareIdentifier="light")
        assert "schedulingPriority" in message, message
        expect_client_error(batch.submit_job, jobName="j", jobQueue="api-queue", jobDefinition="fair-definition", shareIdentifier="light")
        expect_client_error(batch.update_job_queue, jobQueue="api-queue", schedulingPolicyArn=policy["arn"])

    @case("fair share: with both shares backlogged, weight factors 1 and 3 start jobs about 3:1")
    def _():
        jobs = {}
        for index in range(20):
            for share in ("heavy", "light"):
                job = batch.submit_job(jobName=f"{share}-{index}", jobQueue="fair-queue", jobDefinition="fair-definition",
                                       shareIdentifier=share, schedulingPriorityOverride=index % 3)
                jobs[job["jobId"]] = share
        time.sleep(0.5)
        batch.update_compute_environment(computeEnvironment="fair", state="ENABLED")
        details = [wait_job(batch, job_id) for job_id in jobs]
        assert all(d["status"] == "SUCCEEDED" and d["shareIdentifier"] == jobs[d["jobId"]] for d in details), details[0]
        first = sorted(details, key=lambda d: d["startedAt"])[:16]
        heavy = sum(1 for d in first if d["shareIdentifier"] == "heavy")
        assert 3 <= heavy <= 5, f"{heavy} of the first 16 starts were the weight-3 share's: {[d['jobName'] for d in first]}"
        summaries = batch.list_jobs(jobQueue="fair-queue", jobStatus="SUCCEEDED")["jobSummaryList"]
        assert all(s["shareIdentifier"] in ("light", "heavy") for s in summaries), summaries[0]


def pipeline_definition(queue, definition, command):
    lam = lambda name: f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
    branch = lambda name: {"StartAt": name, "States": {name: {"Type": "Task", "Resource": lam("branch"), "End": True}}}
    return {
        "StartAt": "StartStepF",
        "States": {
            "StartStepF": {"Type": "Task", "Resource": lam("map"), "Next": "BatchStep"},
            "BatchStep": {"Type": "Task", "Resource": "arn:aws:states:::batch:submitJob.sync",
                          "Parameters": {"JobName": "TestStep", "JobDefinition": definition, "JobQueue": queue,
                                         "ContainerOverrides": {"Command": command}},
                          "ResultPath": "$.job", "Next": "Parallel"},
            "Parallel": {"Type": "Parallel", "Next": "EndStepF", "Branches": [branch("Branch1"), branch("Branch2")]},
            "EndStepF": {"Type": "Task", "Resource": lam("reduce"), "End": True},
        },
    }


def training_definition(queue, definition, prepare="prepare", reduce="best"):
    """The Map of the hyper-parameter training seed; `prepare` None when the input has the tasks."""
    lam = lambda name: f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
    prepare_state = {"PrepareMapStepF": {"Type": "Task", "Resource": lam(prepare), "Next": "MapStep"}} if prepare else {}
    return {
        "StartAt": "PrepareMapStepF" if prepare else "MapStep",
        "States": {
            **prepare_state,
            "MapStep": {"Type": "Map", "ItemsPath": "$.tasks", "MaxConcurrency": 0, "ResultPath": "$.map_result",
                        "Iterator": {"StartAt": "BatchStep", "States": {"BatchStep": {
                            "Type": "Task", "Resource": "arn:aws:states:::batch:submitJob.sync",
                            "Parameters": {"JobName": "TrainStep", "JobDefinition": definition, "JobQueue": queue,
                                           "ContainerOverrides": {"Command.$": "$.task_command"}},
                            "End": True}}},
                        "Next": "ReduceStepF"},
            "ReduceStepF": {"Type": "Task", "Resource": lam(reduce), "End": True},
        },
    }


def run_execution(sfn, name, definition, payload):
    machine = sfn.create_state_machine(name=name, definition=json.dumps(definition), roleArn=ROLE)["stateMachineArn"]
    arn = sfn.start_execution(stateMachineArn=machine, input=json.dumps(payload))["executionArn"]
    execution = wait_execution(sfn, arn)
    assert execution["status"] == "SUCCEEDED", execution
    return json.loads(execution["output"])


def scenario_cases(server, batch, sfn, backend, workdir):
    queue, definition = environment(batch, f"seed-{backend}", backend, max_vcpus=128)

    @case(f"[{backend}] Lambda -> batch:submitJob.sync -> Parallel -> Lambda; the environment scales from 0 and back")
    def _():
        command = ["sh", "-c", "echo Hello execute"] if backend == "podman" else ["app/exec"]
        output = run_execution(sfn, f"pipeline-{backend}", pipeline_definition(queue, definition, command), {"hello": "world"})
        assert output == ["Hello world", "Hello world"], output
        jobs = batch.list_jobs(jobQueue=queue, jobStatus="SUCCEEDED")["jobSummaryList"]
        assert jobs, "the job is listed"
        stream = batch.describe_jobs(jobs=[jobs[0]["jobId"]])["jobs"][0]["container"]["logStreamName"]
        with open(os.path.join(server.data_dir, "batch-logs", stream.replace("/", "_") + ".log")) as f:
            assert "Hello execute" in f.read()
        if backend != "slurm":
            deadline = time.time() + 10
            while time.time() < deadline:
                resources = batch.describe_compute_environments(computeEnvironments=[f"seed-{backend}"])["computeEnvironments"][0]["computeResources"]
                if resources["desiredvCpus"] == 0:
                    break
                time.sleep(0.1)
            assert resources["desiredvCpus"] == 0, resources

    if backend == "podman":
        @case("[podman] Map over 3 hyper-parameter sets of batch:submitJob.sync with Command.$ in the image, then a reduce Lambda")
        def _():
            tasks = [{"task_command": ["sh", "-c", f"echo training for {epochs} epochs"]} for epochs in (1, 2, 3)]
            output = run_execution(sfn, "training-podman", training_definition(queue, definition, prepare=None, reduce="reduce"), {"tasks": tasks})
            assert [job["Status"] for job in output["map_result"]] == ["SUCCEEDED"] * 3, output
            assert [job["Container"]["Command"][2] for job in output["map_result"]] == [t["task_command"][2] for t in tasks], output
        return

    @case(f"[{backend}] Map over 3 hyper-parameter sets of batch:submitJob.sync with Command.$, then a reduce Lambda")
    def _():
        output = run_execution(sfn, f"training-{backend}", training_definition(queue, definition), {"workdir": workdir})
        assert output == {"input": {"num_of_epochs": 3, "parameter2": "test3"},
                          "output": {"accuracy": 0.8333, "model_path": "tasks_output/task_3.model"}}, output

    if backend == "slurm":
        slurm_array_cases(batch, queue, definition)

    @case(f"[{backend}] stopping the execution terminates its job")
    def _():
        long = pipeline_definition(queue, definition, ["sleep", "60"])
        machine = sfn.create_state_machine(name=f"stopped-{backend}", definition=json.dumps(long), roleArn=ROLE)["stateMachineArn"]
        arn = sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
        deadline, running = time.time() + 20, []
        while not running and time.time() < deadline:
            running = batch.list_jobs(jobQueue=queue, jobStatus="RUNNING")["jobSummaryList"]
            time.sleep(0.05)
        assert running, "the job runs"
        sfn.stop_execution(executionArn=arn, error="Stopped", cause="enough")
        detail = wait_job(batch, running[0]["jobId"], timeout=20)
        assert (detail["status"], detail["isTerminated"]) == ("FAILED", True), detail

    @case(f"[{backend}] a failing job fails the Task state with States.TaskFailed and the job as cause")
    def _():
        failing = pipeline_definition(queue, definition, ["sh", "-c", "exit 4"])
        machine = sfn.create_state_machine(name=f"failing-{backend}", definition=json.dumps(failing), roleArn=ROLE)["stateMachineArn"]
        execution = wait_execution(sfn, sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"])
        assert (execution["status"], execution.get("error")) == ("FAILED", "States.TaskFailed"), execution
        cause = json.loads(execution["cause"])
        assert (cause["Status"], cause["Container"]["ExitCode"]) == ("FAILED", 4), cause


def slurm_array_cases(batch, queue, definition):
    def slurm_children(job_name):
        out = subprocess.run(["squeue", "-h", "-r", "-t", "all", "-n", job_name, "-O", "JobArrayID:64|,State:24|,exit_code:12"],
                             capture_output=True, text=True, check=True).stdout
        return [[field.strip() for field in line.split("|")[:3]] for line in out.splitlines()]

    @case("[slurm] an array job is one sbatch --array: children <jobid>_<index>, their own exit codes, AWS's statusSummary")
    def _():
        name = f"slurm-array-{int(time.time() * 1000)}"
        job = batch.submit_job(jobName=name, jobQueue=queue, jobDefinition=definition, arrayProperties={"size": 4},
                               containerOverrides={"command": ["sh", "-c", 'echo "child $AWS_BATCH_JOB_ID"; exit $((AWS_BATCH_JOB_ARRAY_INDEX == 2 ? 5 : 0))']})
        parent = wait_job(batch, job["jobId"])
        summary = parent["arrayProperties"]["statusSummary"]
        assert parent["status"] == "FAILED" and (summary["SUCCEEDED"], summary["FAILED"]) == (3, 1), parent
        children = batch.describe_jobs(jobs=[f"{job['jobId']}:{index}" for index in range(4)])["jobs"]
        assert [(c["status"], c["container"]["exitCode"]) for c in children] == [("SUCCEEDED", 0), ("SUCCEEDED", 0), ("FAILED", 5), ("SUCCEEDED", 0)], children
        slurm = slurm_children(name)
        assert len({row[0].split("_")[0] for row in slurm}) == 1, f"one Slurm submission: {slurm}"
        assert sorted(row[0].split("_")[1] for row in slurm) == ["0", "1", "2", "3"], slurm

    @case("[slurm] SEQUENTIAL and N_TO_N array dependencies still hold (their children are submitted as they become runnable)")
    def _():
        stamp = int(time.time() * 1000)
        first = batch.submit_job(jobName=f"seq-{stamp}", jobQueue=queue, jobDefinition=definition, arrayProperties={"size": 3},
                                 dependsOn=[{"type": "SEQUENTIAL"}], containerOverrides={"command": ["sleep", "0.2"]})
        second = batch.submit_job(jobName=f"nton-{stamp}", jobQueue=queue, jobDefinition=definition, arrayProperties={"size": 3},
                                  dependsOn=[{"jobId": first["jobId"], "type": "N_TO_N"}], containerOverrides={"command": ["true"]})
        assert wait_job(batch, first["jobId"])["status"] == "SUCCEEDED"
        assert wait_job(batch, second["jobId"])["status"] == "SUCCEEDED"
        children = batch.describe_jobs(jobs=[f"{first['jobId']}:{i}" for i in range(3)] + [f"{second['jobId']}:{i}" for i in range(3)])["jobs"]
        by_id = {c["jobId"]: c for c in children}
        for index in range(3):
            if index:
                assert by_id[f"{first['jobId']}:{index}"]["startedAt"] >= by_id[f"{first['jobId']}:{index - 1}"]["stoppedAt"], children
            assert by_id[f"{second['jobId']}:{index}"]["startedAt"] >= by_id[f"{first['jobId']}:{index}"]["stoppedAt"], children


def durability_case(binary):
    @case("accepted jobs survive kill -9: after a restart every one of them runs to its end")
    def _():
        data_dir, workdir = tempfile.mkdtemp(prefix="batch-crash-"), tempfile.mkdtemp(prefix="batch-crash-work-")
        server = Server(binary, data_dir, workdir).start()
        try:
            batch = client("batch", server.endpoint)
            queue, definition = environment(batch, "crash", "process", max_vcpus=2, instance_types=("c5.large",))
            ids = [batch.submit_job(jobName=f"j{i}", jobQueue=queue, jobDefinition=definition,
                                    containerOverrides={"command": ["sleep", "0.2"]})["jobId"] for i in range(20)]
            server.kill()
            server.start()
            batch = client("batch", server.endpoint)
            statuses = [wait_job(batch, job_id, timeout=60)["status"] for job_id in ids]
            assert statuses == ["SUCCEEDED"] * 20, statuses
        finally:
            server.stop()
            shutil.rmtree(data_dir, ignore_errors=True)
            shutil.rmtree(workdir, ignore_errors=True)


def slurm_reattach_case(binary):
    @case("[slurm] a job running on Slurm during kill -9 is found again by its Slurm id: one attempt, SUCCEEDED")
    def _():
        data_dir, workdir = tempfile.mkdtemp(prefix="batch-reattach-"), tempfile.mkdtemp(prefix="batch-reattach-work-")
        server = Server(binary, data_dir, workdir).start()
        try:
            batch = client("batch", server.endpoint)
            queue, definition = environment(batch, "hpc", "slurm")
            job_id = batch.submit_job(jobName="long", jobQueue=queue, jobDefinition=definition,
                                      containerOverrides={"command": ["sh", "-c", "sleep 3; echo done"]})["jobId"]
            deadline = time.time() + 20
            while batch.describe_jobs(jobs=[job_id])["jobs"][0]["status"] != "RUNNING":
                assert time.time() < deadline, "the job runs"
                time.sleep(0.05)
            server.kill()
            server.start()
            detail = wait_job(client("batch", server.endpoint), job_id, timeout=30)
            assert (detail["status"], len(detail["attempts"])) == ("SUCCEEDED", 1), detail
        finally:
            server.stop()
            shutil.rmtree(data_dir, ignore_errors=True)
            shutil.rmtree(workdir, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--switchyard", required=True)
    parser.add_argument("--backends", default="process", help="comma-separated: process, slurm, podman")
    args = parser.parse_args()
    backends = [b for b in args.backends.split(",") if b]
    data_dir = tempfile.mkdtemp(prefix="batch-clients-")
    workdir = os.path.join(data_dir, "work")
    shutil.copytree(HERE, workdir)
    server = Server(os.path.abspath(args.switchyard), data_dir, workdir).start()
    try:
        batch, sfn = client("batch", server.endpoint), client("stepfunctions", server.endpoint)
        api_cases(server, batch)
        fair_share_cases(server, batch)
        for backend in backends:
            scenario_cases(server, batch, sfn, backend, workdir)
    finally:
        server.stop()
    durability_case(os.path.abspath(args.switchyard))
    if "slurm" in backends:
        slurm_reattach_case(os.path.abspath(args.switchyard))
    print(f"{results['passed']} passed, {results['failed']} failed")
    shutil.rmtree(data_dir, ignore_errors=True)
    sys.exit(1 if results["failed"] else 0)


if __name__ == "__main__":
    main()
