//! The worker's free slots, shared by the two places that claim: the worker loop (on a NOTIFY
//! or a poll) and the reporter (refilling, in the completing transaction, the slots its
//! completions free). A claimer takes every free slot before claiming and gives back what it
//! could not fill, so the two never claim the same slot.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::metrics;

#[derive(Debug)]
pub struct Slots {
    free: AtomicUsize,
    draining: AtomicBool,
    /// Backing off: claim nothing for now (tasks could not be started here).
    held: AtomicBool,
}

impl Slots {
    pub fn new(total: usize) -> Slots {
        Slots {
            free: AtomicUsize::new(total),
            draining: AtomicBool::new(false),
            held: AtomicBool::new(false),
        }
    }

    fn closed(&self) -> bool {
        self.draining.load(Ordering::SeqCst) || self.held.load(Ordering::SeqCst)
    }

    /// Stops (true) or resumes (false) claiming while the worker backs off.
    pub fn hold(&self, held: bool) {
        self.held.store(held, Ordering::SeqCst);
    }

    /// Takes every free slot (none once draining or held).
    pub fn take_all(&self) -> usize {
        if self.closed() {
            return 0;
        }
        metrics::free_slots(0);
        self.free.swap(0, Ordering::SeqCst)
    }

    /// For a claimer that just freed `freed` slots itself: those plus every free slot, or none
    /// once draining or held (then the freed ones go back to the pool).
    pub fn refill(&self, freed: usize) -> usize {
        if self.closed() {
            self.give(freed);
            return 0;
        }
        metrics::free_slots(0);
        freed + self.free.swap(0, Ordering::SeqCst)
    }

    pub fn give(&self, n: usize) {
        metrics::free_slots(self.free.fetch_add(n, Ordering::SeqCst) + n);
    }

    /// Shutting down: no more claims.
    pub fn drain(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }
}
