-- One row per declared upload: the intent, its storage coordinates and where it is in its life.
CREATE TABLE uploads (
    id                uuid PRIMARY KEY,
    owner             text        NOT NULL,
    title             text        NOT NULL,
    filename          text        NOT NULL,
    content_type      text        NOT NULL,
    size              bigint      NOT NULL CHECK (size > 0),
    bucket            text        NOT NULL,
    key               text        NOT NULL,
    storage_upload_id text,
    multipart         boolean     NOT NULL,
    part_size         bigint      NOT NULL CHECK (part_size > 0),
    part_count        integer     NOT NULL CHECK (part_count BETWEEN 1 AND 10000),
    status            text        NOT NULL DEFAULT 'pending' CHECK (status IN
                          ('pending', 'uploaded', 'processing', 'processed', 'failed',
                           'aborted', 'expired', 'rejected')),
    reason            text,
    etag              text,
    metadata          jsonb       NOT NULL DEFAULT '{}'::jsonb,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    expires_at        timestamptz NOT NULL,
    confirmed_at      timestamptz,
    CHECK (multipart = (storage_upload_id IS NOT NULL))
);

-- Events name objects by bucket and key.
CREATE UNIQUE INDEX uploads_bucket_key ON uploads (bucket, key);
-- A user's uploads, newest first, with keyset pagination.
CREATE INDEX uploads_owner_created ON uploads (owner, created_at DESC, id DESC);
-- Sweepers look for pending intents by expiry.
CREATE INDEX uploads_status_expiry ON uploads (status, expires_at);
