//! What this replica last saw of each owner's quota usage, so that a create whose owner had
//! ample room a moment ago skips the read that precedes storage's CreateMultipartUpload. A
//! hint only: the insert that records the intent checks the quotas exactly, and a create it
//! refuses has its multipart upload aborted, as when two creates race past the read. What can
//! shrink an owner's room behind the hint's back (creates on other replicas, creates here still
//! running, a recount) costs at most such an aborted multipart upload; completes and the
//! refilling allowance only add room; and the first refusal puts the exact usage back.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::quota;
use crate::config::OwnerQuotas;
use crate::db::quotas::Usage;

/// How long a sighting counts: long enough for a burst of creates (a user dropping a folder
/// of files onto Uppy), short enough that an owner's counters are read again now and then.
const FRESH_FOR: Duration = Duration::from_secs(10);

/// Creates beyond the one at hand the sighting must leave room for: what other replicas may
/// have spent since without any create here being refused.
const SPARE_CREATES: i64 = 8;

/// Owners remembered at most (a hostile flood of owners costs at most this many entries).
const MAX_OWNERS: usize = 10_000;

#[derive(Clone, Debug, Default)]
pub struct UsageHints {
    seen: Arc<Mutex<Seen>>,
}

#[derive(Debug, Default)]
struct Seen {
    owners: HashMap<String, (Instant, Usage)>,
    /// When stale sightings were last dropped: at most once per `FRESH_FOR`, so a full map
    /// does not make every new owner's create walk it.
    swept: Option<Instant>,
}

impl UsageHints {
    /// Whether `owner`, as seen here under [`FRESH_FOR`] ago, had room for this create of
    /// `size` bytes and [`SPARE_CREATES`] more of the same size.
    pub fn has_room(&self, owner: &str, quotas: &OwnerQuotas, size: i64) -> bool {
        let seen = self.seen.lock().expect("hints lock");
        let Some((at, usage)) = seen.owners.get(owner) else {
            return false;
        };
        if at.elapsed() >= FRESH_FOR {
            return false;
        }
        // This create fits in what is left after SPARE_CREATES more.
        let spare = Usage {
            pending_uploads: usage.pending_uploads.saturating_add(SPARE_CREATES),
            pending_bytes: usage
                .pending_bytes
                .saturating_add(size.saturating_mul(SPARE_CREATES)),
            create_allowance: usage.create_allowance - SPARE_CREATES as f64,
        };
        quota::check(quotas, &spare, size).is_ok()
    }

    /// `owner`'s usage as just read (or as an admission left it).
    pub fn saw(&self, owner: &str, usage: Usage) {
        let mut seen = self.seen.lock().expect("hints lock");
        if seen.owners.len() >= MAX_OWNERS && !seen.owners.contains_key(owner) {
            if seen.swept.is_some_and(|at| at.elapsed() < FRESH_FOR) {
                return;
            }
            seen.swept = Some(Instant::now());
            seen.owners.retain(|_, (at, _)| at.elapsed() < FRESH_FOR);
            if seen.owners.len() >= MAX_OWNERS {
                return;
            }
        }
        seen.owners
            .insert(owner.to_owned(), (Instant::now(), usage));
    }

    /// What `usage` becomes once one more upload of `size` bytes is admitted.
    pub fn after_admitting(usage: Usage, size: i64) -> Usage {
        Usage {
            pending_uploads: usage.pending_uploads.saturating_add(1),
            pending_bytes: usage.pending_bytes.saturating_add(size),
            create_allowance: usage.create_allowance - 1.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUOTAS: OwnerQuotas = OwnerQuotas {
        max_pending_uploads: 100,
        max_pending_bytes: 1000,
        creates_per_minute: 60,
    };

    fn usage(pending_uploads: i64, pending_bytes: i64, create_allowance: f64) -> Usage {
        Usage {
            pending_uploads,
            pending_bytes,
            create_allowance,
        }
    }

    #[test]
    fn only_a_fresh_sighting_with_room_to_spare_skips_the_read() {
        let hints = UsageHints::default();
        assert!(!hints.has_room("ana", &QUOTAS, 10), "never seen");
        hints.saw("ana", usage(0, 0, 60.0));
        assert!(hints.has_room("ana", &QUOTAS, 10));
        assert!(!hints.has_room("bob", &QUOTAS, 10));
        // Room for this create, not for eight more: read again.
        for near in [usage(92, 0, 60.0), usage(0, 911, 60.0), usage(0, 0, 8.5)] {
            hints.saw("ana", near);
            assert!(!hints.has_room("ana", &QUOTAS, 10), "{near:?}");
        }
        for ample in [usage(91, 0, 60.0), usage(0, 910, 60.0), usage(0, 0, 9.0)] {
            hints.saw("ana", ample);
            assert!(hints.has_room("ana", &QUOTAS, 10), "{ample:?}");
        }
        // Bigger uploads need more room: nine of 100 bytes do not fit in 1000 - 900.
        hints.saw("ana", usage(0, 900, 60.0));
        assert!(!hints.has_room("ana", &QUOTAS, 100));
        assert!(hints.has_room("ana", &QUOTAS, 11));
    }

    #[test]
    fn a_sighting_goes_stale() {
        let hints = UsageHints::default();
        hints.saw("ana", usage(0, 0, 60.0));
        let stale = Instant::now() - FRESH_FOR;
        hints.seen.lock().unwrap().owners.get_mut("ana").unwrap().0 = stale;
        assert!(!hints.has_room("ana", &QUOTAS, 10));
    }

    #[test]
    fn a_flood_of_owners_is_bounded() {
        let hints = UsageHints::default();
        for n in 0..MAX_OWNERS + 50 {
            hints.saw(&format!("owner-{n}"), usage(0, 0, 60.0));
        }
        assert_eq!(hints.seen.lock().unwrap().owners.len(), MAX_OWNERS);
        assert!(!hints.has_room(&format!("owner-{MAX_OWNERS}"), &QUOTAS, 10));
        // A known owner is still updated.
        hints.saw("owner-0", usage(99, 0, 60.0));
        assert!(!hints.has_room("owner-0", &QUOTAS, 10));
        hints.saw("owner-0", usage(0, 0, 60.0));
        assert!(hints.has_room("owner-0", &QUOTAS, 10));
        // Once the sightings are stale (and the last sweep too), a new owner takes a place.
        {
            let mut seen = hints.seen.lock().unwrap();
            let stale = Instant::now() - FRESH_FOR;
            seen.owners.values_mut().for_each(|(at, _)| *at = stale);
            seen.swept = Some(stale);
        }
        hints.saw("newcomer", usage(0, 0, 60.0));
        assert!(hints.has_room("newcomer", &QUOTAS, 10));
        assert_eq!(hints.seen.lock().unwrap().owners.len(), 1);
    }

    #[test]
    fn an_admission_spends_what_it_admits() {
        assert_eq!(
            UsageHints::after_admitting(usage(1, 10, 5.5), 7),
            usage(2, 17, 4.5)
        );
    }
}
