//! Request rate limits (issue 9 item 4): a token bucket per client address on what needs
//! no client certificate, per client certificate (that is, per account) on what does —
//! hospitals reach the center through one NAT address, so one desk must not use up the
//! others' share. A request over its limit is answered `429` with `Retry-After` and the
//! documented error body, before any handler (and any database work) runs.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use kmn_app::config::ListenConfig;
use sha2::Digest;

use crate::api::auth::PeerCert;
use crate::api::error::ProtocolError;

/// How many clients one bucket table tracks; beyond that, buckets that have filled up
/// again are forgotten, and when none has, a new client is let through untracked (the
/// connection cap still bounds it) rather than the memory growing without bound.
const MAX_TRACKED: usize = 100_000;

/// A token bucket per key.
struct Buckets<K> {
    /// Tokens added per second.
    rate: f64,
    /// The most tokens a bucket holds.
    burst: f64,
    table: Mutex<Table<K>>,
}

struct Table<K> {
    map: HashMap<K, (f64, Instant)>,
    last_prune: Option<Instant>,
}

impl<K: Hash + Eq + Clone> Buckets<K> {
    fn new(per_minute: u32, burst: u32) -> Self {
        Buckets {
            rate: f64::from(per_minute.max(1)) / 60.0,
            burst: f64::from(burst.max(1)),
            table: Mutex::new(Table {
                map: HashMap::new(),
                last_prune: None,
            }),
        }
    }

    /// Takes a token for `key`, or says how long until one is there.
    fn take(&self, key: &K, now: Instant) -> Result<(), Duration> {
        let mut t = self.table.lock().unwrap_or_else(|e| e.into_inner());
        if !t.map.contains_key(key) && t.map.len() >= MAX_TRACKED {
            let recent = t
                .last_prune
                .is_some_and(|p| now.duration_since(p) < Duration::from_secs(1));
            if !recent {
                let (rate, burst) = (self.rate, self.burst);
                t.map.retain(|_, (tokens, at)| {
                    *tokens + now.duration_since(*at).as_secs_f64() * rate < burst
                });
                t.last_prune = Some(now);
            }
            if t.map.len() >= MAX_TRACKED {
                return Ok(());
            }
        }
        let (tokens, at) = t.map.entry(key.clone()).or_insert((self.burst, now));
        let filled = (*tokens + now.duration_since(*at).as_secs_f64() * self.rate).min(self.burst);
        *at = now;
        if filled >= 1.0 {
            *tokens = filled - 1.0;
            Ok(())
        } else {
            *tokens = filled;
            Err(Duration::from_secs_f64((1.0 - filled) / self.rate))
        }
    }
}

/// The rate limits of both listeners (one table per kind of key, shared by both).
pub struct RateLimits {
    public: Buckets<IpAddr>,
    account: Buckets<[u8; 32]>,
    /// `/ocsp` per address, apart from the other public routes (issue 10).
    ocsp: Buckets<IpAddr>,
}

impl RateLimits {
    /// The limits `[listen]` sets.
    pub fn new(c: &ListenConfig) -> Arc<Self> {
        Arc::new(RateLimits {
            public: Buckets::new(c.public_requests_per_minute, c.public_burst),
            account: Buckets::new(c.account_requests_per_minute, c.account_burst),
            ocsp: Buckets::new(c.ocsp_requests_per_minute, c.ocsp_burst),
        })
    }

    /// Takes a token for one request: by its client certificate when it has one, else
    /// by its address — in the OCSP table for `/ocsp`, in the public one otherwise.
    fn take(
        &self,
        path: &str,
        cert: Option<&[u8]>,
        addr: Option<IpAddr>,
        now: Instant,
    ) -> Result<(), Duration> {
        match (cert, addr) {
            (Some(der), _) => {
                let fp: [u8; 32] = sha2::Sha256::digest(der).into();
                self.account.take(&fp, now)
            }
            (None, Some(ip)) if path == "/ocsp" || path.starts_with("/ocsp/") => {
                self.ocsp.take(&address_key(ip), now)
            }
            (None, Some(ip)) => self.public.take(&address_key(ip), now),
            // Not from a listener (a test calling the router directly): nothing to count.
            (None, None) => Ok(()),
        }
    }
}

/// The client address a limit counts against: IPv6 by its /64 (one site, one
/// subscriber), IPv4 as it is.
fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

/// Middleware: a request with a client certificate counts against that certificate's
/// bucket, any other against its address's; over the limit, `429`.
pub async fn rate_limit(
    State(limits): State<Arc<RateLimits>>,
    req: Request,
    next: Next,
) -> Response {
    let verdict = limits.take(
        req.uri().path(),
        req.extensions()
            .get::<PeerCert>()
            .map(|PeerCert(der)| der.as_slice()),
        req.extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(a)| a.ip()),
        Instant::now(),
    );
    match verdict {
        Ok(()) => next.run(req).await,
        Err(wait) => {
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            ProtocolError::rate_limited(secs.max(1)).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue9_a_bucket_allows_its_burst_then_its_rate() {
        let b = Buckets::<u8>::new(60, 3);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(b.take(&1, t0).is_ok());
        }
        let wait = b.take(&1, t0).unwrap_err();
        assert!(wait > Duration::from_millis(900) && wait <= Duration::from_secs(1));
        // Another key has its own bucket.
        assert!(b.take(&2, t0).is_ok());
        // One token a second comes back.
        assert!(b.take(&1, t0 + Duration::from_millis(1100)).is_ok());
        assert!(b.take(&1, t0 + Duration::from_millis(1200)).is_err());
        // Never more than the burst.
        let later = t0 + Duration::from_secs(3600);
        for _ in 0..3 {
            assert!(b.take(&1, later).is_ok());
        }
        assert!(b.take(&1, later).is_err());
    }

    /// Issue 10: OCSP has a limit of its own — a relying party's gateway asking for every
    /// login from one address does not use up, nor get stopped by, the address's share
    /// of the repository and health routes.
    #[test]
    fn issue10_ocsp_requests_count_against_their_own_limit() {
        let c = ListenConfig {
            public_requests_per_minute: 1,
            public_burst: 2,
            ocsp_requests_per_minute: 1,
            ocsp_burst: 5,
            ..ListenConfig::default()
        };
        let l = RateLimits::new(&c);
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        let t0 = Instant::now();
        for _ in 0..2 {
            assert!(
                l.take("/repo/kmn-issuing-g1.crl", None, Some(ip), t0)
                    .is_ok()
            );
        }
        assert!(l.take("/health", None, Some(ip), t0).is_err());
        for _ in 0..5 {
            assert!(l.take("/ocsp", None, Some(ip), t0).is_ok());
        }
        assert!(l.take("/ocsp/MEIwQDA", None, Some(ip), t0).is_err());
        // A path that only begins like it is a public route.
        assert!(l.take("/ocspx", None, Some(ip), t0).is_err());
        let defaults = ListenConfig::default();
        assert!(defaults.ocsp_requests_per_minute >= 100 * defaults.public_requests_per_minute);
    }

    #[test]
    fn issue9_ipv6_clients_are_counted_by_their_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(address_key(a), address_key(b));
        assert_ne!(address_key(a), address_key(c));
        let m: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(address_key(m), "192.0.2.1".parse::<IpAddr>().unwrap());
    }
}
