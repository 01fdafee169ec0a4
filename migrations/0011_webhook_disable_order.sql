-- A status change takes a share lock on the enabled endpoints it writes deliveries for, so
-- disabling an endpoint (an update of its row) waits for the status changes already writing
-- to it to commit, and one that comes later finds it disabled. Without the lock a change
-- committing while the disable ran could leave a delivery for a disabled endpoint neither
-- delivered nor parked.
CREATE OR REPLACE FUNCTION upload_status_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    event bigint;
BEGIN
    INSERT INTO upload_events (upload_id, owner, status, snapshot)
        VALUES (NEW.id, NEW.owner, NEW.status, to_jsonb(NEW) - 'part_checksums')
        RETURNING id INTO event;
    INSERT INTO webhook_deliveries (event_id, endpoint, upload_id)
        SELECT event, enabled.url, NEW.id
        FROM (SELECT url FROM webhook_endpoints WHERE enabled FOR SHARE) AS enabled;
    -- Delivered at commit, to every replica's stream and webhook workers.
    PERFORM pg_notify('upload_coordinator_events', event::text);
    RETURN NULL;
END
$$;
