"""A stand-in training job: reads hyper-parameters, writes an accuracy that grows with epochs."""
import json
import os
import sys

key_in, key_out = sys.argv[1], sys.argv[2]
with open(key_in) as f:
    params = json.load(f)
accuracy = round(1 - 1 / (params["num_of_epochs"] * 2), 4)
os.makedirs(os.path.dirname(key_out), exist_ok=True)
with open(key_out, "w") as f:
    json.dump({"input": params, "output": {"accuracy": accuracy, "model_path": key_out.replace(".json", ".model")}}, f)
print(f"trained {params} -> {accuracy}")
