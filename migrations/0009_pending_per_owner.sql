-- An owner's pending uploads and their bytes, as the quota check on every create counts them:
-- an index-only range of that owner's pending uploads alone (at most UC_MAX_PENDING_UPLOADS).
-- Small as it is, the planner picks it even while its statistics still say nothing is pending,
-- where it would otherwise scan every owner's pending uploads (uploads_status_expiry).
CREATE INDEX uploads_owner_pending ON uploads (owner) INCLUDE (size) WHERE status = 'pending';
