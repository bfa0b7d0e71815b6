import os


def handler(event, context):
    skus = [line["sku"] for line in event["reserved"]]
    return {
        "orderId": event["orderId"],
        "carrier": event["carrier"],
        "skus": skus,
        "label": f"s3://{os.environ['LABELS_BUCKET']}/{event['orderId']}.pdf",
        "labelsDomain": os.environ["LABELS_DOMAIN"],
    }
