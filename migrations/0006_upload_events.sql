-- Every status change, recorded by the database in the transaction that makes it, so no code
-- path (API, storage event, worker result, sweeper, a replica on an older release) can change
-- a status without it being told: the live stream replays from here and outgoing webhooks are
-- delivered from here.
CREATE TABLE upload_events (
    id          bigserial   PRIMARY KEY,
    -- Stable through retries and replays: receivers deduplicate on it (`webhook-id`).
    event_id    uuid        NOT NULL DEFAULT gen_random_uuid() UNIQUE,
    upload_id   uuid        NOT NULL,
    owner       text        NOT NULL,
    status      text        NOT NULL,
    -- The upload's row right after the change, so a late delivery still shows that moment
    -- (without the per-part checksums: up to 10,000 of them, and no announcement needs them).
    snapshot    jsonb       NOT NULL,
    occurred_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
-- A stream resumes from an owner's last event; the janitor forgets old events by age.
CREATE INDEX upload_events_owner ON upload_events (owner, id);
CREATE INDEX upload_events_occurred ON upload_events (occurred_at);

-- Where events are delivered. The URL names the endpoint; its secret stays in the
-- configuration. A replica enables the endpoints it is given; only an operator disables one
-- (`upload-coordinator webhooks disable`), which parks what it still had pending.
CREATE TABLE webhook_endpoints (
    url        text        PRIMARY KEY,
    enabled    boolean     NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- One delivery per event and endpoint, retried with backoff, parked after its last attempt.
CREATE TABLE webhook_deliveries (
    id              bigserial   PRIMARY KEY,
    event_id        bigint      NOT NULL REFERENCES upload_events (id) ON DELETE CASCADE,
    endpoint        text        NOT NULL REFERENCES webhook_endpoints (url) ON DELETE CASCADE,
    -- Copied from the event: deliveries of one upload go out in order.
    upload_id       uuid        NOT NULL,
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    claimed_until   timestamptz,
    -- Set by each claim: only the claimant's outcome is recorded, even after its lease ran out.
    claim_token     uuid,
    delivered_at    timestamptz,
    parked_at       timestamptz,
    -- The receiver's last HTTP status, or NULL when it never answered.
    last_status     integer,
    last_error      text,
    UNIQUE (event_id, endpoint)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (endpoint, next_attempt_at, id)
    WHERE delivered_at IS NULL AND parked_at IS NULL;
CREATE INDEX webhook_deliveries_upload ON webhook_deliveries (endpoint, upload_id, id)
    WHERE delivered_at IS NULL AND parked_at IS NULL;
CREATE INDEX webhook_deliveries_parked ON webhook_deliveries (endpoint, parked_at)
    WHERE parked_at IS NOT NULL;

CREATE FUNCTION upload_status_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    event bigint;
BEGIN
    INSERT INTO upload_events (upload_id, owner, status, snapshot)
        VALUES (NEW.id, NEW.owner, NEW.status, to_jsonb(NEW) - 'part_checksums')
        RETURNING id INTO event;
    INSERT INTO webhook_deliveries (event_id, endpoint, upload_id)
        SELECT event, url, NEW.id FROM webhook_endpoints WHERE enabled;
    -- Delivered at commit, to every replica's stream and webhook workers.
    PERFORM pg_notify('upload_coordinator_events', event::text);
    RETURN NULL;
END
$$;

CREATE TRIGGER upload_status_changed AFTER UPDATE OF status ON uploads
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION upload_status_changed();
