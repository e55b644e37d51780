//! Compile-fail tests of `#[derive(Model)]` (trybuild): every misuse is a compile error
//! with a message saying what to write, never a panic of the macro. The expected messages
//! are the `.stderr` files beside the cases in `tests/ui/`; regenerate them with
//! `TRYBUILD=overwrite cargo test -p jensen --test compile_fail` and review the diff.
//!
//! (They live here, not in `jensen-tests`, because trybuild checks every dependency and
//! dev-dependency of the crate it runs in: this crate's are the few a user of the derive has.)

#[test]
fn misuses_of_the_derive_are_compile_errors() {
    // The cases name model files relative to this directory (trybuild compiles them
    // elsewhere, so the crate's manifest is not where they are).
    std::env::set_var(
        "JENSEN_MODEL_DIR",
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests"),
    );
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
