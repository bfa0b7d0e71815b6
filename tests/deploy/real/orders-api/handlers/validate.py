import os


def handler(event, context):
    items = event.get("items") or []
    if not items:
        raise ValueError("an order needs items")
    return {"orderId": event["orderId"], "items": items, "table": os.environ["TABLE_NAME"], "stage": os.environ["STAGE"]}
