//! Timing, statistics, memory and CPU readings, a small PRNG, and the `RESULT` lines
//! child processes print for their parent.

use std::collections::BTreeMap;
use std::time::Instant;

/// Median and spread of a set of samples.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Stats {
    /// Median.
    pub median: f64,
    /// Smallest sample.
    pub min: f64,
    /// Largest sample.
    pub max: f64,
    /// Number of samples.
    pub n: usize,
}

impl Stats {
    /// Statistics of `samples` (the median of an even count is the mean of the middle two).
    pub fn of(samples: &[f64]) -> Stats {
        if samples.is_empty() {
            return Stats::default();
        }
        let mut v = samples.to_vec();
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        Stats {
            median,
            min: v[0],
            max: v[n - 1],
            n,
        }
    }

    /// `median (min–max, n=…)` with a unit, `prec` decimals.
    pub fn show(&self, prec: usize, unit: &str) -> String {
        format!(
            "{:.p$} {unit} (min {:.p$}, max {:.p$}, n={})",
            self.median,
            self.min,
            self.max,
            self.n,
            p = prec
        )
    }
}

/// Runs `f` `iters` times per sample, `samples` times; returns µs per call.
pub fn per_op_us(samples: usize, iters: usize, mut f: impl FnMut()) -> Stats {
    // One warm-up sample.
    for _ in 0..iters.min(50) {
        f();
    }
    let v: Vec<f64> = (0..samples)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..iters {
                f();
            }
            t.elapsed().as_secs_f64() * 1e6 / iters as f64
        })
        .collect();
    Stats::of(&v)
}

/// A field of `/proc/self/status` in kB (`VmHWM`, `VmRSS`).
pub fn proc_status_kb(field: &str) -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Peak resident set size of this process so far, MB (10^6 bytes).
pub fn vm_hwm_mb() -> f64 {
    proc_status_kb("VmHWM").unwrap_or(0) as f64 * 1024.0 / 1e6
}

/// CPU seconds (user + system) used by this process so far, all threads, from
/// `/proc/self/stat` (clock ticks of 1/100 s, the Linux default `CLK_TCK`).
pub fn cpu_seconds() -> f64 {
    let Ok(s) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let Some(rest) = s.rsplit_once(')').map(|(_, r)| r) else {
        return 0.0;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // rest starts at field 3 (state), so field n is f[n - 3].
    (tick(14 - 3) + tick(15 - 3)) / 100.0
}

/// Bytes this process has caused to be written to storage so far (`write_bytes` of
/// `/proc/self/io`: the database files and their WAL, for SQLite).
pub fn io_write_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/io")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("write_bytes:"))
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(0)
}

/// xorshift64*: fast, deterministic filler for serials (not for keys).
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// Seeded from the clock and the process id.
    pub fn from_time() -> Rng {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1);
        Rng::new(t ^ (u64::from(std::process::id()) << 32))
    }

    /// Fixed seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }

    /// Next 64 bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A 16-byte serial with a non-zero first byte (as `ca::new_serial` draws them:
    /// fixed width, so ordering by (length, bytes) is plain byte order).
    pub fn serial16(&mut self) -> [u8; 16] {
        loop {
            let mut b = [0u8; 16];
            b[..8].copy_from_slice(&self.next_u64().to_be_bytes());
            b[8..].copy_from_slice(&self.next_u64().to_be_bytes());
            if b[0] != 0 {
                return b;
            }
        }
    }
}

/// `RESULT k=v k=v …`: the one line a child process prints on stdout for its parent.
pub fn result_line(pairs: &[(&str, String)]) -> String {
    let mut s = String::from("RESULT");
    for (k, v) in pairs {
        s.push(' ');
        s.push_str(k);
        s.push('=');
        s.push_str(v);
    }
    s
}

/// Parses the last `RESULT` line of a child's output.
pub fn parse_result(stdout: &str) -> Option<BTreeMap<String, String>> {
    let line = stdout.lines().rev().find(|l| l.starts_with("RESULT"))?;
    Some(
        line.split_whitespace()
            .skip(1)
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

/// Samples as a comma-separated list (for `RESULT` lines).
pub fn join(v: &[f64]) -> String {
    v.iter()
        .map(|x| format!("{x:.4}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Inverse of [`join`].
pub fn split(s: &str) -> Vec<f64> {
    s.split(',').filter_map(|x| x.parse().ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_odd_and_even() {
        assert_eq!(Stats::of(&[3.0, 1.0, 2.0]).median, 2.0);
        assert_eq!(Stats::of(&[4.0, 1.0, 2.0, 3.0]).median, 2.5);
    }

    #[test]
    fn result_round_trip() {
        let l = result_line(&[("a", "1".into()), ("b", join(&[1.5, 2.0]))]);
        let m = parse_result(&format!("noise\n{l}\n")).unwrap();
        assert_eq!(m["a"], "1");
        assert_eq!(split(&m["b"]), vec![1.5, 2.0]);
    }

    #[test]
    fn proc_readings_work_here() {
        assert!(vm_hwm_mb() > 0.0);
        assert!(cpu_seconds() >= 0.0);
    }
}
