//! Time for local runs: waits are scaled (`--time-scale`), yet the clock the execution sees moves
//! by the full wait, so history timestamps stay consistent with the definition.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub struct VirtualClock {
    started: Instant,
    start_millis: i64,
    skipped_millis: i64,
    scale: f64,
}

impl VirtualClock {
    pub fn new(scale: f64) -> VirtualClock {
        let start_millis = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |since| since.as_millis() as i64);
        VirtualClock { started: Instant::now(), start_millis, skipped_millis: 0, scale: scale.max(0.0) }
    }

    /// Milliseconds since the Unix epoch, as the execution sees them.
    pub fn now(&self) -> i64 {
        self.start_millis + self.started.elapsed().as_millis() as i64 + self.skipped_millis
    }

    /// How long to really wait for the clock to reach `at`.
    pub fn real_wait_until(&self, at: i64) -> Duration {
        let virtual_wait = (at - self.now()).max(0) as f64;
        Duration::from_secs_f64(virtual_wait * self.scale / 1000.0)
    }

    /// After a scaled wait for `at` has elapsed, moves the clock the rest of the way.
    pub fn arrive_at(&mut self, at: i64) {
        let behind = at - self.now();
        if behind > 0 {
            self.skipped_millis += behind;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_zero_scale_skips_waits_but_moves_the_clock() {
        let mut clock = VirtualClock::new(0.0);
        let target = clock.now() + 60_000;
        assert_eq!(clock.real_wait_until(target), Duration::ZERO);
        clock.arrive_at(target);
        assert!(clock.now() >= target);
    }

    #[test]
    fn a_scale_shortens_the_real_wait() {
        let clock = VirtualClock::new(0.001);
        let wait = clock.real_wait_until(clock.now() + 10_000);
        assert!(wait <= Duration::from_millis(10));
    }
}
