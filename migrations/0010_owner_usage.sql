-- What each owner has going, one row per owner, so a create's quota check and its admission
-- are one primary-key lookup however many uploads the owner or the table holds. Triggers on
-- uploads keep the pending counts; the create allowance is a token bucket the admission itself
-- spends (UC_CREATE_RATE_PER_MINUTE creates a minute on average, as many at once).
CREATE TABLE owner_usage (
    owner           text        PRIMARY KEY,
    pending_uploads bigint      NOT NULL DEFAULT 0,
    pending_bytes   bigint      NOT NULL DEFAULT 0,
    -- Creates the owner may make at once as of tokens_at; NULL is a full bucket, whatever the
    -- rate is configured to.
    create_tokens   float8,
    tokens_at       timestamptz NOT NULL DEFAULT now(),
    -- The upload the latest admission let in: how the admitting statement tells an admission
    -- from a refusal in its own RETURNING.
    last_admitted   uuid
);

-- Creates an owner may make right now: the bucket as of `at`, refilled since at `per_minute`,
-- and never more than a minute's worth.
CREATE FUNCTION owner_create_allowance(tokens float8, at timestamptz, per_minute float8)
RETURNS float8 LANGUAGE sql STABLE AS $$
    SELECT least(per_minute,
                 coalesce(tokens, per_minute) + extract(epoch FROM now() - at)::float8 * per_minute / 60)
$$;

CREATE FUNCTION owner_usage_add(who text, uploads bigint, bytes bigint) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO owner_usage AS u (owner, pending_uploads, pending_bytes)
        VALUES (who, uploads, bytes)
    ON CONFLICT (owner) DO UPDATE
        SET pending_uploads = u.pending_uploads + uploads,
            pending_bytes = u.pending_bytes + bytes
$$;

CREATE FUNCTION owner_usage_counted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.status = 'pending' THEN
        PERFORM owner_usage_add(OLD.owner, -1, -OLD.size);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.status = 'pending' THEN
        PERFORM owner_usage_add(NEW.owner, 1, NEW.size);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER owner_usage_insert AFTER INSERT ON uploads
    FOR EACH ROW WHEN (NEW.status = 'pending') EXECUTE FUNCTION owner_usage_counted();
CREATE TRIGGER owner_usage_update AFTER UPDATE OF status, owner, size ON uploads
    FOR EACH ROW WHEN (OLD.status = 'pending' OR NEW.status = 'pending')
    EXECUTE FUNCTION owner_usage_counted();
CREATE TRIGGER owner_usage_delete AFTER DELETE ON uploads
    FOR EACH ROW WHEN (OLD.status = 'pending') EXECUTE FUNCTION owner_usage_counted();

CREATE FUNCTION owner_usage_cleared() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE owner_usage;
    RETURN NULL;
END
$$;
CREATE TRIGGER owner_usage_truncate AFTER TRUNCATE ON uploads
    FOR EACH STATEMENT EXECUTE FUNCTION owner_usage_cleared();

-- The triggers' lock on uploads holds until this migration commits, so no write slips
-- between them and the count.
INSERT INTO owner_usage (owner, pending_uploads, pending_bytes)
    SELECT owner, count(*), sum(size) FROM uploads WHERE status = 'pending' GROUP BY owner;

-- uploads_owner_pending (0009) is no longer read by this version; replicas of the previous one
-- still count with it during a rolling upgrade, so a later migration drops it.
