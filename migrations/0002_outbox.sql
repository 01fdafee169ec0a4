-- Processing results reported by the worker, and the sweepers' bookkeeping.
ALTER TABLE uploads
    ADD COLUMN output_location text,
    ADD COLUMN processed_at    timestamptz,
    ADD COLUMN last_checked_at timestamptz;

-- Jobs to publish, written in the transaction that confirms the upload, so a confirmed upload
-- always has its job and a crash between commit and publish loses nothing.
CREATE TABLE outbox (
    id                  bigserial   PRIMARY KEY,
    upload_id           uuid        NOT NULL REFERENCES uploads (id),
    -- The Celery task id, also the job's correlation id.
    task_id             uuid        NOT NULL UNIQUE,
    -- When the event or call that confirmed the upload reached us.
    trigger_received_at timestamptz NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    published_at        timestamptz,
    attempts            integer     NOT NULL DEFAULT 0,
    last_error          text,
    -- One processing job per upload, however often it is confirmed.
    UNIQUE (upload_id)
);

-- The relay's work list.
CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL;
