import os


def handler(event, context):
    weight = sum(line["weight"] * line["quantity"] for line in event["reserved"])
    return "freight" if weight >= int(os.environ["HEAVY_THRESHOLD"]) else "parcel"
