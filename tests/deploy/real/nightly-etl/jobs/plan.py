import os


def handler(event, context):
    return {"date": event["date"], "bucket": os.environ["DATA_BUCKET"], "partitions": [f"{event['date']}/eu", f"{event['date']}/na"]}
