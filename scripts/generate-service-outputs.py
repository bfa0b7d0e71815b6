#!/usr/bin/env python3
"""Writes crates/asl/data/service_outputs.json: the output shapes of the AWS services whose results
TestState mocks are validated against, taken from botocore's service models (Apache-2.0).

    pip install botocore && python3 scripts/generate-service-outputs.py

Only what validation reads is kept (types, members, required members, enums, length and value
bounds), and only the shapes reachable from an operation's output, so the file stays small enough
to embed in the binary.
"""
import gzip
import json
import os

import botocore

# Step Functions' optimized integrations, plus the services pipelines call most through aws-sdk.
SERVICES = ["lambda", "stepfunctions", "dynamodb", "events", "sns", "sqs", "ecs", "batch", "s3", "kms", "athena", "secretsmanager"]
KEPT_BOUNDS = ("min", "max")


def load(service):
    directory = os.path.join(os.path.dirname(botocore.__file__), "data", service)
    version = sorted(os.listdir(directory))[-1]
    path = os.path.join(directory, version, "service-2.json")
    if os.path.exists(path + ".gz"):
        with gzip.open(path + ".gz") as model:
            return json.load(model)
    with open(path) as model:
        return json.load(model)


def outputs(model):
    shapes, kept = model["shapes"], {}

    def keep(name):
        if name in kept:
            return
        shape = shapes[name]
        compact = {"type": shape["type"]}
        kept[name] = compact
        if shape["type"] == "structure":
            compact["members"] = {member: spec["shape"] for member, spec in shape.get("members", {}).items()}
            if shape.get("required"):
                compact["required"] = shape["required"]
            referenced = list(compact["members"].values())
        elif shape["type"] == "list":
            compact["member"] = shape["member"]["shape"]
            referenced = [compact["member"]]
        elif shape["type"] == "map":
            compact["value"] = shape["value"]["shape"]
            referenced = [compact["value"]]
        else:
            referenced = []
        compact.update({bound: shape[bound] for bound in KEPT_BOUNDS if bound in shape})
        if "enum" in shape:
            compact["enum"] = shape["enum"]
        for reference in referenced:
            keep(reference)

    operations = {}
    for name, operation in model["operations"].items():
        if "output" in operation:
            operations[name] = operation["output"]["shape"]
            keep(operations[name])
    return {"operations": operations, "shapes": kept}


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    target = os.path.join(root, "crates", "asl", "data", "service_outputs.json")
    with open(target, "w") as out:
        json.dump({service: outputs(load(service)) for service in SERVICES}, out, separators=(",", ":"), sort_keys=True)
        out.write("\n")
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
