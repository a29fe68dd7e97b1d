//! `cargo bench -p kmn-bench`: the whole foundation benchmark (same as `kmn-bench all`).
//! Options after `--`, e.g. `cargo bench -p kmn-bench -- --quick --no-pg`.
#![forbid(unsafe_code)]

fn main() -> anyhow::Result<()> {
    let exe = std::path::Path::new(env!("CARGO_BIN_EXE_kmn-bench"));
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    if !args.iter().any(|a| !a.starts_with("--")) {
        args.insert(0, "all".into());
    }
    kmn_bench::main_with(exe, args)
}
