//! Health and Prometheus metrics (issue #11 item 4): handshakes, forwarded requests,
//! refusals by reason, upstream errors and the age of the revocation data, served on an
//! optional plain-HTTP listener (`[listen] metrics_address`, meant for the local monitoring
//! agent only: it shows no personal data, only counters and CRL ages).
//!
//! `GET /metrics`: the Prometheus text exposition format (version 0.0.4).
//! `GET /health`: 200 `ok` when every CRL source of every anchor set holds a usable CRL
//! (fetched within its unreachable grace and not past nextUpdate), else 503 with one line per
//! failing source — the same test a login's check applies, so a 503 here means logins are
//! being refused with `revocation_unavailable`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// The gateway's counters (all since start).
#[derive(Debug, Default)]
pub struct Metrics {
    handshakes: AtomicU64,
    handshake_failures: AtomicU64,
    forwarded: AtomicU64,
    upstream_errors: AtomicU64,
    refusals: Mutex<BTreeMap<&'static str, u64>>,
}

/// One CRL source as the metrics show it.
#[derive(Debug, Clone)]
pub struct SourceHealth {
    /// The anchor set (`kmn`, an `[[hpki]]` name).
    pub set: String,
    /// The CRL URL.
    pub source: String,
    /// Seconds since the last successful fetch (200 or 304); `None`: never.
    pub fetched_ago: Option<i64>,
    /// Seconds since the held CRL's thisUpdate; `None`: no CRL held.
    pub crl_age: Option<i64>,
    /// Seconds until the held CRL's nextUpdate (negative: past).
    pub next_update_in: Option<i64>,
    /// Entries of the held CRL.
    pub entries: Option<usize>,
    /// Why this source makes logins fail closed now, if it does.
    pub failing: Option<String>,
}

impl Metrics {
    /// A TLS handshake completed.
    pub fn handshake(&self) {
        self.handshakes.fetch_add(1, Ordering::Relaxed);
    }

    /// A TLS handshake failed or timed out.
    pub fn handshake_failed(&self) {
        self.handshake_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// A request was forwarded and the upstream answered.
    pub fn forwarded(&self) {
        self.forwarded.fetch_add(1, Ordering::Relaxed);
    }

    /// The upstream could not be reached (502).
    pub fn upstream_error(&self) {
        self.upstream_errors.fetch_add(1, Ordering::Relaxed);
    }

    /// A request was refused, by its reason code.
    pub fn refused(&self, reason: &'static str) {
        if let Ok(mut m) = self.refusals.lock() {
            *m.entry(reason).or_default() += 1;
        }
    }

    /// The Prometheus text exposition.
    pub fn render(&self, sources: &[SourceHealth]) -> String {
        let mut out = String::new();
        let mut counter = |name: &str, help: &str, v: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}"
            );
        };
        counter(
            "kmn_gateway_handshakes_total",
            "TLS handshakes completed.",
            self.handshakes.load(Ordering::Relaxed),
        );
        counter(
            "kmn_gateway_handshake_failures_total",
            "TLS handshakes that failed or timed out.",
            self.handshake_failures.load(Ordering::Relaxed),
        );
        counter(
            "kmn_gateway_forwarded_requests_total",
            "Requests forwarded to an upstream that answered.",
            self.forwarded.load(Ordering::Relaxed),
        );
        counter(
            "kmn_gateway_upstream_errors_total",
            "Requests whose upstream could not be reached (502).",
            self.upstream_errors.load(Ordering::Relaxed),
        );
        let _ = writeln!(
            out,
            "# HELP kmn_gateway_refusals_total Requests refused, by reason code (docs/GATEWAY.md).\n# TYPE kmn_gateway_refusals_total counter"
        );
        if let Ok(m) = self.refusals.lock() {
            for (reason, n) in m.iter() {
                let _ = writeln!(out, "kmn_gateway_refusals_total{{reason=\"{reason}\"}} {n}");
            }
        }
        let gauge = |out: &mut String,
                     name: &str,
                     help: &str,
                     f: &dyn Fn(&SourceHealth) -> Option<String>| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
            for s in sources {
                if let Some(v) = f(s) {
                    let _ = writeln!(
                        out,
                        "{name}{{set=\"{}\",source=\"{}\"}} {v}",
                        escape(&s.set),
                        escape(&s.source)
                    );
                }
            }
        };
        gauge(
            &mut out,
            "kmn_gateway_crl_fetched_seconds_ago",
            "Seconds since the CRL source was last fetched successfully (200 or 304).",
            &|s| s.fetched_ago.map(|v| v.to_string()),
        );
        gauge(
            &mut out,
            "kmn_gateway_crl_age_seconds",
            "Seconds since the held CRL's thisUpdate.",
            &|s| s.crl_age.map(|v| v.to_string()),
        );
        gauge(
            &mut out,
            "kmn_gateway_crl_next_update_seconds",
            "Seconds until the held CRL's nextUpdate (negative: past).",
            &|s| s.next_update_in.map(|v| v.to_string()),
        );
        gauge(
            &mut out,
            "kmn_gateway_crl_entries",
            "Revoked entries in the held CRL.",
            &|s| s.entries.map(|v| v.to_string()),
        );
        gauge(
            &mut out,
            "kmn_gateway_crl_usable",
            "1 when the source's CRL is usable for logins now, 0 when logins fail closed.",
            &|s| Some(if s.failing.is_none() { "1" } else { "0" }.to_string()),
        );
        out
    }
}

/// Label values: backslash, double quote and newline escaped (the exposition format).
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The health answer: `(200, "ok\n")` or `(503, one line per failing source)`.
pub fn health(sources: &[SourceHealth]) -> (u16, String) {
    let failing: Vec<String> = sources
        .iter()
        .filter_map(|s| {
            s.failing
                .as_ref()
                .map(|why| format!("[{}] {}: {why}", s.set, s.source))
        })
        .collect();
    if failing.is_empty() {
        (200, "ok\n".to_string())
    } else {
        (503, format!("{}\n", failing.join("\n")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(failing: Option<&str>) -> SourceHealth {
        SourceHealth {
            set: "kmn".into(),
            source: "http://repo/x\"y.crl".into(),
            fetched_ago: Some(3),
            crl_age: Some(40),
            next_update_in: Some(-5),
            entries: Some(2),
            failing: failing.map(str::to_string),
        }
    }

    #[test]
    fn issue11_metrics_count_refusals_by_reason_and_show_crl_age() {
        let m = Metrics::default();
        m.handshake();
        m.handshake();
        m.refused("revoked");
        m.refused("revoked");
        m.refused("facility_mismatch");
        m.forwarded();
        let text = m.render(&[src(None)]);
        assert!(text.contains("kmn_gateway_handshakes_total 2\n"), "{text}");
        assert!(text.contains("kmn_gateway_refusals_total{reason=\"revoked\"} 2\n"));
        assert!(text.contains("kmn_gateway_refusals_total{reason=\"facility_mismatch\"} 1\n"));
        assert!(text.contains("kmn_gateway_forwarded_requests_total 1\n"));
        assert!(text.contains(
            "kmn_gateway_crl_age_seconds{set=\"kmn\",source=\"http://repo/x\\\"y.crl\"} 40\n"
        ));
        assert!(text.contains("kmn_gateway_crl_next_update_seconds{set=\"kmn\",source=\"http://repo/x\\\"y.crl\"} -5\n"));
        assert!(
            text.contains(
                "kmn_gateway_crl_usable{set=\"kmn\",source=\"http://repo/x\\\"y.crl\"} 1\n"
            )
        );
    }

    #[test]
    fn issue11_health_fails_when_a_crl_source_fails_closed() {
        assert_eq!(health(&[src(None)]), (200, "ok\n".to_string()));
        let (code, body) = health(&[src(None), src(Some("past nextUpdate"))]);
        assert_eq!(code, 503);
        assert!(body.contains("past nextUpdate"), "{body}");
    }
}
