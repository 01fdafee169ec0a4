-- Checksums a client declared so storage refuses other bytes: the algorithm, each part's
-- base64 digest (element n-1 is part n; NULL until given), and optionally the whole file's
-- SHA-256. The job carries them to the worker.
ALTER TABLE uploads
    ADD COLUMN checksum_algorithm text CHECK (checksum_algorithm IN ('sha256', 'crc32', 'crc32c', 'md5')),
    ADD COLUMN part_checksums     text[],
    ADD COLUMN sha256             text;
