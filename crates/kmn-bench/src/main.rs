//! `kmn-bench`: the foundation benchmark and its single-figure subcommands (see the
//! library docs and docs/PERFORMANCE.md).
#![forbid(unsafe_code)]

fn main() -> anyhow::Result<()> {
    let exe = std::env::current_exe()?;
    kmn_bench::main_with(&exe, std::env::args().skip(1).collect())
}
