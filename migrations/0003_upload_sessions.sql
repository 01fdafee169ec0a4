-- Uppy upload sessions: the token in a Companion endpoint's path names one of these rows, so a
-- session can be revoked (on every replica at once) and can cap the uploads made through it.
CREATE TABLE upload_sessions (
    id          uuid        PRIMARY KEY,
    owner       text        NOT NULL,
    -- The browser origin allowed to use the session; NULL allows any.
    origin      text,
    max_uploads integer     CHECK (max_uploads > 0),
    uploads     integer     NOT NULL DEFAULT 0 CHECK (uploads >= 0),
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    revoked_at  timestamptz
);

-- The sweeper forgets sessions a while after they expire.
CREATE INDEX upload_sessions_expiry ON upload_sessions (expires_at);
-- An owner's active sessions are capped.
CREATE INDEX upload_sessions_owner ON upload_sessions (owner, expires_at);
