"""Lambda handlers of the Batch scenarios (the shapes of ../shared/examples/batch-pipeline and
hyperparameter-training; results go through files in the jobs' working directory instead of S3)."""
import json
import os

HYPERPARAMETERS = [
    {"num_of_epochs": 1, "parameter2": "test1"},
    {"num_of_epochs": 2, "parameter2": "test2"},
    {"num_of_epochs": 3, "parameter2": "test3"},
]


def handler_map(event, context):
    return event


def handler_branch(event, context):
    return "Hello world"


def handler_reduce(event, context):
    return event


def prepare_training(event, context):
    """One training command per hyper-parameter set."""
    workdir = event["workdir"]
    event["tasks"] = []
    for index, params in enumerate(HYPERPARAMETERS, start=1):
        key_in, key_out = f"tasks_input/task_{index}.json", f"tasks_output/task_{index}.json"
        os.makedirs(os.path.join(workdir, "tasks_input"), exist_ok=True)
        with open(os.path.join(workdir, key_in), "w") as f:
            json.dump(params, f)
        event["tasks"].append({"task_command": ["python3", "app/train.py", key_in, key_out], "task_output": key_out})
    return event


def pick_best(event, context):
    """Reads every training result and returns the most accurate one."""
    results = []
    for task in event["tasks"]:
        with open(os.path.join(event["workdir"], task["task_output"])) as f:
            results.append(json.load(f))
    return max(results, key=lambda result: result["output"]["accuracy"])
