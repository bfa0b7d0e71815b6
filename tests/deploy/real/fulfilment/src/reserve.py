def handler(event, context):
    return {"sku": event["sku"], "quantity": event["quantity"], "weight": event["weight"], "reserved": True}
