//! Who holds which audience (protocol-spec/access.md §7): the grants and
//! ungrants learnt from control messages signed by audiences' owners, the
//! latest of each standing, checked against the clock for expiry. Access
//! rules name audiences (`audience:OWNER/NAME`); this answers whether a key
//! is in one.

use std::collections::HashMap;
use std::sync::RwLock;

use crate::clock::Clock;
use crate::proto::audience::{Audience, Scope};
use crate::store::commit::Granted;
use crate::store::schema::GrantRecord;

pub struct Grants {
    /// By audience, then grantee: a check borrows the audience it is for.
    records: RwLock<HashMap<Audience, HashMap<[u8; 32], GrantRecord>>>,
    clock: Clock,
}

impl Grants {
    /// From the stored records.
    pub fn new(clock: Clock, stored: impl IntoIterator<Item = Granted>) -> Grants {
        let grants = Grants {
            records: RwLock::new(HashMap::new()),
            clock,
        };
        for granted in stored {
            grants.learn(granted);
        }
        grants
    }

    /// Keeps a record the store committed, if it is still the latest.
    pub fn learn(&self, (audience, grantee, record): Granted) {
        let mut records = self.records.write().unwrap_or_else(|e| e.into_inner());
        let known = records.entry(audience).or_default().entry(grantee);
        match known {
            std::collections::hash_map::Entry::Occupied(mut known) => {
                if record.wins_over(known.get()) {
                    known.insert(record);
                }
            }
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(record);
            }
        }
    }

    fn now_secs(&self) -> u64 {
        self.clock.now_micros() / 1_000_000
    }

    fn valid(&self, record: &GrantRecord, wanted: Scope) -> bool {
        record.scope.is_some_and(|s| s.allows(wanted))
            && record.expires.is_none_or(|at| self.now_secs() < at)
    }

    /// Whether `key` may do `wanted` with `audience`'s posts now: it owns
    /// the audience, or holds an unexpired grant of that scope or wider.
    pub fn holds(&self, key: &[u8; 32], audience: &Audience, wanted: Scope) -> bool {
        if *key == audience.owner {
            return true;
        }
        let records = self.records.read().unwrap_or_else(|e| e.into_inner());
        records
            .get(audience)
            .and_then(|grantees| grantees.get(key))
            .is_some_and(|record| self.valid(record, wanted))
    }

    /// Whether `key` holds any audience now: standing enough to log in
    /// with it (XAUTHKEY), as a reader of what it was granted.
    pub fn holds_any(&self, key: &[u8; 32]) -> bool {
        let records = self.records.read().unwrap_or_else(|e| e.into_inner());
        records
            .values()
            .filter_map(|grantees| grantees.get(key))
            .any(|record| self.valid(record, Scope::Read))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn audience() -> Audience {
        Audience {
            owner: [1; 32],
            name: "friends".into(),
        }
    }

    fn record(date: u64, scope: Option<Scope>, expires: Option<u64>) -> GrantRecord {
        GrantRecord {
            date,
            control: format!("<c{date}@x>").into_bytes(),
            scope,
            expires,
        }
    }

    #[test]
    fn owner_scope_expiry_and_latest() {
        let clock = Clock::manual(1_000 * 1_000_000);
        let grants = Grants::new(clock.clone(), []);
        let a = audience();
        assert!(grants.holds(&[1; 32], &a, Scope::Cache), "the owner");
        assert!(!grants.holds(&[2; 32], &a, Scope::Read));

        grants.learn((
            a.clone(),
            [2; 32],
            record(10, Some(Scope::Read), Some(2_000)),
        ));
        assert!(grants.holds(&[2; 32], &a, Scope::Read));
        assert!(
            !grants.holds(&[2; 32], &a, Scope::Cache),
            "read is not cache"
        );
        assert!(grants.holds_any(&[2; 32]));

        clock.advance(Duration::from_secs(1_000));
        assert!(!grants.holds(&[2; 32], &a, Scope::Read), "expired");
        assert!(!grants.holds_any(&[2; 32]));

        // The later-dated record stands whatever order they come in.
        grants.learn((a.clone(), [3; 32], record(20, None, None)));
        grants.learn((a.clone(), [3; 32], record(15, Some(Scope::Cache), None)));
        assert!(!grants.holds(&[3; 32], &a, Scope::Read), "ungranted at 20");
        grants.learn((a.clone(), [3; 32], record(30, Some(Scope::Cache), None)));
        assert!(
            grants.holds(&[3; 32], &a, Scope::Cache),
            "granted again at 30"
        );
    }
}
