//! Compile-time behaviour of the attributes: what compiles (and runs), and the exact errors of
//! every misuse, under `tests/ui/<attribute>/{pass,fail}/<situation>.rs`.
//!
//! After changing a message, regenerate the expected output with
//! `TRYBUILD=overwrite cargo test -p portico-macros --test ui` and review every `.stderr` diff.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/*/pass/*.rs");
    cases.compile_fail("tests/ui/*/fail/*.rs");
}
