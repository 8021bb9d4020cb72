"""From detections to events: tracking, zones and lines, snapshots, the live preview, Home Assistant.

The layer attaches to the pipeline at the publish stage, per camera, after decode (`EventLayer.on_result`,
layer.py) and publishes through the same durable publisher as the detections. Formats: messages.py and
edge_sdk/schemas/event.schema.json. Consumers: `EventSubscriber` (subscriber.py).
"""
