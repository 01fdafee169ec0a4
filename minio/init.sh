#!/bin/sh
# One-shot setup of MinIO for the compose stack, run by the `minio-init` service (minio/mc
# image) once MinIO is healthy. Idempotent: every `docker compose up` runs it again.
set -eu

: "${MINIO_ENDPOINT:=http://minio:9000}"
: "${BUCKET:=videos}"
# The AMQP target configured in minio/minio.env under the id PRIMARY.
: "${EVENTS_ARN:=arn:minio:sqs::PRIMARY:amqp}"

mc alias set local "$MINIO_ENDPOINT" "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD"
mc mb --ignore-existing "local/$BUCKET"

# `--event put` is every s3:ObjectCreated:* event (PUT, POST, copy, CompleteMultipartUpload).
# mc refuses to add a rule that overlaps an existing one, even with --ignore-existing, so a
# rerun looks for the rule first (a shell `case`: the mc image has no grep).
rules=$(mc --json event ls "local/$BUCKET" "$EVENTS_ARN")
case $rules in
  *'s3:ObjectCreated:*'*) echo "object-created events of $BUCKET already go to $EVENTS_ARN" ;;
  *) mc event add --event put "local/$BUCKET" "$EVENTS_ARN" ;;
esac
mc event ls "local/$BUCKET"
