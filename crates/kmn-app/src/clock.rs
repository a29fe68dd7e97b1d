//! The clock, injected everywhere (STYLE: fake clock in tests to cross 24-hour CRL
//! cycles and multi-year validity in milliseconds).

use std::sync::Mutex;

use time::OffsetDateTime;

/// A source of the current time.
pub trait Clock: Send + Sync {
    /// Now, in UTC, truncated to whole seconds (X.509 times have no fractions).
    fn now(&self) -> OffsetDateTime;
}

/// The system clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        let n = OffsetDateTime::now_utc();
        n.replace_nanosecond(0).unwrap_or(n)
    }
}

/// A clock that stands still until moved (tests).
#[derive(Debug)]
pub struct FixedClock(Mutex<OffsetDateTime>);

impl FixedClock {
    /// A clock at `t`.
    pub fn new(t: OffsetDateTime) -> Self {
        Self(Mutex::new(t.replace_nanosecond(0).unwrap_or(t)))
    }

    /// Moves the clock forward.
    pub fn advance(&self, d: time::Duration) {
        let mut g = self.0.lock().expect("clock lock");
        *g += d;
    }

    /// Sets the clock.
    pub fn set(&self, t: OffsetDateTime) {
        *self.0.lock().expect("clock lock") = t;
    }
}

impl Clock for FixedClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().expect("clock lock")
    }
}
