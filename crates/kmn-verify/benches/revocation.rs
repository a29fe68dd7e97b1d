//! Issue #11, "revocation live": what one check costs with a revocation index built once per
//! CRL, against the existing per-check CRL path (`verify` with the CRL's DER), in the same
//! run, on a CRL of 1M entries (ECDSA P-256 certificates and CRLs made here).
//!
//! `cargo bench -p kmn-verify --bench revocation [-- ENTRIES RUNS]` (defaults 1000000 5).
//! Prints per-run figures and a summary of medians; docs/PERFORMANCE.md has the figures.

#![forbid(unsafe_code)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

#[path = "../tests/support/mod.rs"]
mod support;

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kmn_verify::{
    RevocationConfig, RevocationIndex, RevocationStore, VerifyOptions, verify, verify_with_index,
};
use support::*;
use time::macros::datetime;

const ROOT: &str = "KMN Bench Root";
const G1: &str = "KMN Bench Issuing G1";

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// Peak RSS (VmHWM) in MiB.
fn peak_rss_mib() -> f64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        s.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    };
    field("VmHWM:")
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let entries: u64 = args
        .first()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let runs: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(5);
    let at = datetime!(2030-06-01 00:00 UTC);

    let root_key = Key::new();
    let root = Tbs::ca(ROOT).sign(&root_key, None);
    let g1_key = Key::new();
    let g1 = Tbs::ca(G1).sign(&g1_key, Some((ROOT, &root_key)));
    let leaf =
        Tbs::leaf("Dr. Bench", &["1.3.6.1.5.5.7.3.2"], &[]).sign(&Key::new(), Some((G1, &g1_key)));
    let issuers = vec![root.clone(), g1.clone()];
    let anchors = vec![root.clone()];
    let inters = vec![g1.clone()];

    // Revoked serials 0x4000_0000.. (the leaf's serial is small: it is not revoked, so
    // every check searches the whole index or walks the whole CRL).
    let serials: Vec<u64> = (0..entries).map(|i| 0x4000_0000 + i * 7).collect();
    let t = Instant::now();
    let big = crl(G1, &g1_key, Some(1), &[], &serials);
    let arl = crl(ROOT, &root_key, Some(1), &[], &[]);
    println!(
        "CRL of {entries} entries: {:.1} MB DER, made in {:.0} ms",
        big.len() as f64 / 1e6,
        ms(t.elapsed())
    );
    drop(serials);

    let mut build = Vec::new();
    let mut index = None;
    for _ in 0..runs {
        drop(index.take());
        let t = Instant::now();
        let ix = RevocationIndex::build(&big, &issuers).unwrap();
        build.push(ms(t.elapsed()));
        index = Some(ix);
    }
    let index = index.unwrap();
    assert_eq!(index.len() as u64, entries);
    println!("index build (parse + signature + sort), ms per run: {build:.1?}");

    // A lookup alone: serials not listed (the common case: a login that is not revoked),
    // then listed ones (the answer carries the formatted revocation date).
    let encode = |s: u64| {
        let b = s.to_be_bytes();
        let first = b.iter().position(|x| *x != 0).unwrap_or(7);
        let mut v = b[first..].to_vec();
        if v[0] & 0x80 != 0 {
            v.insert(0, 0);
        }
        v
    };
    let absent: Vec<Vec<u8>> = (0..1000u64)
        .map(|i| encode(0x4000_0001 + i * 7 * 997))
        .collect();
    let present: Vec<Vec<u8>> = (0..1000u64)
        .map(|i| encode(0x4000_0000 + (i * 7919 % entries) * 7))
        .collect();
    let now = at.unix_timestamp();
    let time_lookups = |probes: &[Vec<u8>]| {
        let mut out = Vec::new();
        for _ in 0..runs {
            let n = 1_000_000;
            let t = Instant::now();
            for i in 0..n {
                black_box(index.check(black_box(&probes[i % probes.len()]), now));
            }
            out.push(t.elapsed().as_secs_f64() * 1e9 / n as f64);
        }
        out
    };
    let lookup = time_lookups(&absent);
    let lookup_hit = time_lookups(&present);
    println!("index lookup alone, not listed, ns per check: {lookup:.1?}");
    println!("index lookup alone, listed, ns per check: {lookup_hit:.1?}");

    let store = Arc::new(RevocationStore::new(RevocationConfig::default()));
    store
        .install(
            "arl",
            RevocationIndex::build(&arl, &issuers).unwrap(),
            None,
            now,
        )
        .unwrap();
    store.install("g1", index, None, now).unwrap();
    let opts = VerifyOptions::new(at);

    // A login with the index: path validation (2 signatures) + revocation from the index.
    let mut with_index = Vec::new();
    for _ in 0..runs {
        let n = 2000;
        let t = Instant::now();
        for _ in 0..n {
            let snap = store.snapshot();
            verify_with_index(&leaf, &anchors, &inters, &snap, &opts).unwrap();
        }
        with_index.push(t.elapsed().as_secs_f64() * 1e6 / n as f64);
    }
    println!("verify_with_index (path + index), µs per login: {with_index:.1?}");

    // A login without revocation (the path validation alone).
    let mut path_only = Vec::new();
    for _ in 0..runs {
        let n = 2000;
        let t = Instant::now();
        for _ in 0..n {
            verify(&leaf, &anchors, &inters, &[], &opts).unwrap();
        }
        path_only.push(t.elapsed().as_secs_f64() * 1e6 / n as f64);
    }
    println!("verify without revocation, µs per login: {path_only:.1?}");

    // The baseline: the existing per-check path, the CRLs' DER given to every verify.
    let crls = vec![arl.clone(), big.clone()];
    let mut o = opts.clone();
    o.check_revocation = true;
    let mut baseline = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        verify(&leaf, &anchors, &inters, &crls, &o).unwrap();
        baseline.push(ms(t.elapsed()) * 1e3);
    }
    println!(
        "baseline verify with CRL DER (parse + signature + scan), µs per login: {baseline:.0?}"
    );

    // Logins while another thread keeps one core busy building indexes without installing
    // them: the control for the measurement below (the machine has 2 shared cores).
    let logins_while = |install: bool| {
        let writer = {
            let store = Arc::clone(&store);
            let big = big.clone();
            let issuers = issuers.clone();
            std::thread::spawn(move || {
                let t = Instant::now();
                for _ in 0..runs {
                    let ix = RevocationIndex::build(&big, &issuers).unwrap();
                    if install {
                        store.install("g1", ix, None, now).unwrap();
                    }
                }
                t.elapsed()
            })
        };
        let mut during = Vec::new();
        while !writer.is_finished() {
            let t = Instant::now();
            let snap = store.snapshot();
            verify_with_index(&leaf, &anchors, &inters, &snap, &opts).unwrap();
            drop(snap);
            during.push(t.elapsed().as_secs_f64() * 1e6);
        }
        let took = writer.join().unwrap();
        during.sort_by(|a, b| a.partial_cmp(b).unwrap());
        (during, took)
    };
    let (control, _) = logins_while(false);

    // Reloading a 1M-entry CRL while logins go on: the longest login seen.
    let (during, reload_time) = logins_while(true);
    let installs = runs;
    let pct = |v: &[f64], q: f64| v[((v.len() as f64 - 1.0) * q) as usize];
    let hwm = peak_rss_mib();

    let base = median(baseline.clone());
    let wi = median(with_index.clone());
    println!();
    println!("summary (medians of {runs} runs, {entries} entries, P-256):");
    println!("| figure | value |");
    println!("|---|---|");
    println!("| CRL DER size | {:.1} MB |", big.len() as f64 / 1e6);
    println!("| index build (once per CRL) | {:.0} ms |", median(build));
    println!(
        "| index memory (heap_bytes) | {:.1} MiB |",
        store.snapshot().sources()[1]
            .index
            .as_ref()
            .unwrap()
            .heap_bytes() as f64
            / 1048576.0
    );
    println!(
        "| peak RSS of the benchmark (CRL DER copies, two indexes during reloads) | {hwm:.0} MiB |"
    );
    println!(
        "| index lookup alone, serial not listed | {:.0} ns |",
        median(lookup)
    );
    println!(
        "| index lookup alone, serial listed | {:.0} ns |",
        median(lookup_hit)
    );
    println!(
        "| login: path validation, no revocation | {:.1} µs |",
        median(path_only)
    );
    println!("| login: verify_with_index | {wi:.1} µs |");
    println!(
        "| login: baseline verify with CRL DER | {:.1} ms |",
        base / 1e3
    );
    println!("| baseline / index | {:.0}× |", base / wi);
    println!(
        "| logins while another thread rebuilds and installs the index {installs} times ({:.1} s): n, median, p99, max | {}, {:.1} µs, {:.1} µs, {:.1} ms |",
        reload_time.as_secs_f64(),
        during.len(),
        pct(&during, 0.5),
        pct(&during, 0.99),
        during.last().copied().unwrap_or(0.0) / 1e3
    );
    println!(
        "| control: the same while the other thread only builds (no install): n, median, p99, max | {}, {:.1} µs, {:.1} µs, {:.1} ms |",
        control.len(),
        pct(&control, 0.5),
        pct(&control, 0.99),
        control.last().copied().unwrap_or(0.0) / 1e3
    );
}
