-- Each claim of outbox jobs names itself, so a relay whose lease ran out (a stall past the
-- confirm timeout and its margin) cannot record its failure or give the jobs back over the
-- claim of the relay that took them next: that would clear the newer lease and let a third
-- relay publish them while the second still waits for its confirm.
ALTER TABLE outbox ADD COLUMN claim_token uuid;
