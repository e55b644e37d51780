//! Compile-fail tests of `#[derive(Model)]` (trybuild): every misuse is a compile error
//! with a message saying what to write, never a panic of the macro. The expected messages
//! are the `.stderr` files beside the cases in `tests/ui/`; regenerate them with
//! `TRYBUILD=overwrite cargo test -p jensen-tests --test compile_fail` and review the diff.

#[test]
fn misuses_of_the_derive_are_compile_errors() {
    // The cases name model files relative to this crate (trybuild compiles them elsewhere).
    std::env::set_var("JENSEN_MODEL_DIR", env!("CARGO_MANIFEST_DIR"));
    let t = trybuild::TestCases::new();
    t.compile_fail("ui/*.rs");
}
