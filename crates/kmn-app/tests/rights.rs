//! Issue 9 item 1, "rights as types": code without the right cannot call the use case
//! that needs it, and no code outside kmn-app can make the right. Each file in
//! `compile-fail/` must fail to compile with the error in its `.stderr` beside it
//! (regenerate with `TRYBUILD=overwrite cargo test --workspace --test rights` after a
//! deliberate change, and read the diff).
//!
//! Part of the ordinary suite: trybuild checks kmn-app and every dependency again in its
//! own target directory (`target/tests/trybuild`), `cargo check` only — about 2.5 minutes
//! cold on two cores, 3.6 minutes for the whole test (2026-12-07). The same cases also run
//! as `compile_fail` doctests of `kmn_app::rights`.

#[test]
fn issue9_a_use_case_cannot_be_called_without_its_capability() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/compile-fail/*.rs");
}
