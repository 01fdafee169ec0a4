-- `Idempotency-Key` on create: a retry with the same key and body gets the same upload. A key
-- is claimed before anything is created and names its upload in the transaction that records
-- it; keys are forgotten after a day.
CREATE TABLE idempotency_keys (
    owner       text        NOT NULL,
    key         text        NOT NULL,
    -- SHA-256 of the declaration: the same key with another body is refused.
    fingerprint bytea       NOT NULL,
    -- NULL while the first request is still creating it.
    upload_id   uuid        REFERENCES uploads (id),
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (owner, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
