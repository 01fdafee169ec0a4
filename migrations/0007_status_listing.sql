-- "What do I have in flight": an owner's uploads of some statuses, newest first, as an index
-- range however many uploads the owner has in other statuses.
CREATE INDEX uploads_owner_status_created ON uploads (owner, status, created_at DESC, id DESC);
