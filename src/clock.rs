//! Wall-clock time as a parameter. Everything that stamps, expires or ages
//! something by the calendar (history and arrival times, outbox and pending
//! expiry, claim expiry) reads a [`Clock`], so tests move time forward
//! instead of sleeping. Timers and timeouts use tokio's clock, which tests
//! pause.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[derive(Clone, Debug, Default)]
pub struct Clock {
    /// None: the system clock; Some: a manual clock at these micros.
    manual: Option<Arc<AtomicU64>>,
}

impl Clock {
    pub fn system() -> Clock {
        Clock { manual: None }
    }

    /// A clock that stands still at `micros` until advanced.
    pub fn manual(micros: u64) -> Clock {
        Clock {
            manual: Some(Arc::new(AtomicU64::new(micros))),
        }
    }

    /// A manual clock starting at the current system time.
    pub fn manual_from_now() -> Clock {
        Clock::manual(Clock::system().now_micros())
    }

    /// Moves a manual clock forward (every copy sees it); a system clock
    /// is not moved.
    pub fn advance(&self, by: Duration) {
        if let Some(micros) = &self.manual {
            micros.fetch_add(by.as_micros() as u64, Ordering::SeqCst);
        }
    }

    /// Microseconds since the Unix epoch.
    pub fn now_micros(&self) -> u64 {
        match &self.manual {
            Some(micros) => micros.load(Ordering::SeqCst),
            None => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_micros() as u64),
        }
    }

    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        let micros = self.now_micros();
        chrono::DateTime::from_timestamp_micros(micros as i64).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told_and_copies_share_it() {
        let clock = Clock::manual(1_000_000);
        let copy = clock.clone();
        assert_eq!(copy.now_micros(), 1_000_000);
        clock.advance(Duration::from_secs(2));
        assert_eq!(copy.now_micros(), 3_000_000);
        assert_eq!(copy.now().timestamp(), 3);
    }

    #[test]
    fn the_system_clock_is_near_now() {
        let year_2020 = 1_577_836_800_000_000;
        assert!(Clock::system().now_micros() > year_2020);
    }
}
