-- Jobs are claimed with a lease, not a lock held while the broker confirms; a job that fails
-- waits with a growing backoff, and after its last attempt it is parked for an operator.
ALTER TABLE outbox
    ADD COLUMN next_attempt_at timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN claimed_until   timestamptz,
    ADD COLUMN parked_at       timestamptz;
-- outbox_unpublished stays: the backlog gauges count unpublished jobs with it.
CREATE INDEX outbox_due ON outbox (next_attempt_at, id)
    WHERE published_at IS NULL AND parked_at IS NULL;
CREATE INDEX outbox_parked ON outbox (parked_at) WHERE parked_at IS NOT NULL;

-- Terminal uploads (aborted, expired, rejected) keep a storage cleanup due until storage holds
-- nothing of them, retried with backoff; replicas share it.
ALTER TABLE uploads
    ADD COLUMN cleanup_due_at   timestamptz,
    ADD COLUMN cleanup_attempts integer NOT NULL DEFAULT 0,
    ADD COLUMN cleaned_at       timestamptz,
    -- Storage showed another object under a confirmed upload's key.
    ADD COLUMN replaced_etag    text;
CREATE INDEX uploads_cleanup_due ON uploads (cleanup_due_at) WHERE cleanup_due_at IS NOT NULL;
UPDATE uploads SET cleanup_due_at = now()
    WHERE status IN ('aborted', 'expired', 'rejected');
