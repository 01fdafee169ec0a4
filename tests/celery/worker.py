"""A stand-in for the platform's Celery worker: the same task name, queue topology and settings
(JSON, late acks, prefetch 1). Each call is appended to WORKER_RECORD (with the confirmed ETag
the message carries in its `upload_etag` header) and reported back to the coordinator's internal
endpoint as processed."""

import json
import os
import urllib.request

from celery import Celery
from kombu import Exchange, Queue

QUEUE = os.environ["UC_JOB_QUEUE"]

app = Celery("worker", broker=os.environ["CELERY_BROKER_URL"])
app.conf.update(
    task_serializer="json",
    accept_content=["json"],
    task_acks_late=True,
    worker_prefetch_multiplier=1,
    broker_connection_retry_on_startup=True,
    task_queues=[
        Queue(
            QUEUE,
            Exchange(os.environ["UC_JOB_EXCHANGE"], type="direct"),
            routing_key=os.environ["UC_JOB_ROUTING_KEY"],
            queue_arguments={"x-dead-letter-exchange": os.environ["UC_JOB_DEAD_LETTER_EXCHANGE"]},
        )
    ],
    task_default_queue=QUEUE,
)


@app.task(name="tasks.process_video.run", bind=True)
def run(self, video_id, input_path, correlation_id):
    etag = getattr(self.request, "upload_etag", None)
    with open(os.environ["WORKER_RECORD"], "a", encoding="utf-8") as record:
        record.write(json.dumps([video_id, input_path, correlation_id, etag]) + "\n")
    report = json.dumps({"status": "processed", "output_location": input_path + ".processed.mp4"})
    request = urllib.request.Request(
        f"{os.environ['COORDINATOR_URL']}/api/internal/uploads/{video_id}/result",
        data=report.encode(),
        method="POST",
        headers={
            "Content-Type": "application/json",
            "Authorization": f"Bearer {os.environ['INTERNAL_TOKEN']}",
        },
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()
