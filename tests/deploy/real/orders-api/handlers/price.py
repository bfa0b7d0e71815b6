import os


def handler(event, context):
    total = sum(item["quantity"] * item["unitPrice"] for item in event["items"])
    return {"orderId": event["orderId"], "total": total, "currency": os.environ["CURRENCY"], "table": event["table"]}
