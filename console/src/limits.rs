//! Failed sign-ins, counted per role and per client address over the last minute. Each
//! attempt counts as a failure from the moment it starts and is forgiven only when it
//! succeeds, so a burst of concurrent guesses is limited like a sequence of them.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const WINDOW: Duration = Duration::from_secs(60);

pub struct FailureLimit {
    max: usize,
    seen: Mutex<HashMap<String, VecDeque<Instant>>>,
}

/// One sign-in under way, counted against `keys` until `forgive`.
pub struct Attempt<'a> {
    limit: &'a FailureLimit,
    keys: Vec<String>,
    at: Instant,
}

/// Why an attempt may not start: the keys over the limit, and when none will be.
pub struct Limited {
    pub key: String,
    pub retry_after: Duration,
}

/// An IPv6 client can change the low 64 bits of its address at will, so those count as one.
pub fn client_key(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => format!("client address {v4}"),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!(
                "client network {:x}:{:x}:{:x}:{:x}::/64",
                s[0], s[1], s[2], s[3]
            )
        }
    }
}

pub fn role_key(role: &str) -> String {
    format!("role \"{role}\"")
}

impl FailureLimit {
    pub fn new(max: usize) -> FailureLimit {
        FailureLimit {
            max,
            seen: Mutex::new(HashMap::new()),
        }
    }

    pub fn max(&self) -> usize {
        self.max
    }

    pub fn begin(&self, keys: Vec<String>) -> Result<Attempt<'_>, Limited> {
        let now = Instant::now();
        let mut seen = self.seen.lock().expect("limit lock");
        Self::over(&mut seen, &keys, now, self.max)?;
        for k in &keys {
            seen.entry(k.clone()).or_default().push_back(now);
        }
        Ok(Attempt {
            limit: self,
            keys,
            at: now,
        })
    }

    /// Whether `keys` are under the limit, counting nothing: for requests that are not
    /// guesses while they run (an API token is not guessable), only their refusals count.
    pub fn check(&self, keys: &[String]) -> Result<(), Limited> {
        let mut seen = self.seen.lock().expect("limit lock");
        Self::over(&mut seen, keys, Instant::now(), self.max)
    }

    /// Counts one refusal against `keys`.
    pub fn record(&self, keys: &[String]) {
        let now = Instant::now();
        let mut seen = self.seen.lock().expect("limit lock");
        for k in keys {
            seen.entry(k.clone()).or_default().push_back(now);
        }
    }

    fn over(
        seen: &mut HashMap<String, VecDeque<Instant>>,
        keys: &[String],
        now: Instant,
        max: usize,
    ) -> Result<(), Limited> {
        // Forget what fell out of the window everywhere, so the map only holds the last
        // minute's failures (which the limit itself bounds per address).
        seen.retain(|_, times| {
            while times
                .front()
                .is_some_and(|t| now.duration_since(*t) >= WINDOW)
            {
                times.pop_front();
            }
            !times.is_empty()
        });
        let over: Vec<(&String, Duration)> = keys
            .iter()
            .filter_map(|k| {
                let times = seen.get(k)?;
                (times.len() >= max).then(|| {
                    // The attempt that must age out before this key is under the limit again.
                    let oldest = times[times.len() - max];
                    (k, WINDOW.saturating_sub(now.duration_since(oldest)))
                })
            })
            .collect();
        match over.iter().map(|(_, w)| *w).max() {
            Some(wait) => Err(Limited {
                key: over
                    .iter()
                    .map(|(k, _)| k.as_str())
                    .collect::<Vec<_>>()
                    .join(" and "),
                retry_after: wait,
            }),
            None => Ok(()),
        }
    }
}

impl Attempt<'_> {
    /// The attempt succeeded, or failed for a reason that says nothing about the password
    /// (PostgreSQL unreachable, a session limit): it no longer counts.
    pub fn forgive(self) {
        let mut seen = self.limit.seen.lock().expect("limit lock");
        for k in &self.keys {
            if let Some(times) = seen.get_mut(k)
                && let Some(i) = times.iter().position(|t| *t == self.at)
            {
                times.remove(i);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sixth_failure_in_a_minute_waits_and_successes_do_not_count() {
        let limit = FailureLimit::new(5);
        let keys = || vec![role_key("alice"), client_key("10.0.0.1".parse().unwrap())];
        limit.begin(keys()).ok().unwrap().forgive();
        for _ in 0..5 {
            let _failed = limit.begin(keys()).ok().unwrap();
        }
        let limited = limit.begin(keys()).err().unwrap();
        assert!(limited.retry_after > Duration::from_secs(55));
        // Another role from another address is not held back by alice's failures.
        assert!(
            limit
                .begin(vec![
                    role_key("bob"),
                    client_key("10.0.0.2".parse().unwrap())
                ])
                .is_ok()
        );
        // An address's failures hold back every role from it.
        let from_first = limit.begin(vec![
            role_key("carol"),
            client_key("10.0.0.1".parse().unwrap()),
        ]);
        assert_eq!(from_first.err().unwrap().key, "client address 10.0.0.1");
    }

    #[test]
    fn ipv6_clients_count_by_their_64_bit_network() {
        assert_eq!(
            client_key("2001:db8:1:2:aaaa::1".parse().unwrap()),
            client_key("2001:db8:1:2:bbbb::9".parse().unwrap())
        );
        assert_eq!(
            client_key("::ffff:10.1.2.3".parse().unwrap()),
            "client address 10.1.2.3"
        );
    }
}
