//! The user's tests: a fit of the shipped data, and snapshots of the derived math and the
//! generated code, so a change in any derived update shows up in review.

use user_crate::{fit_file, Error, Eruption};

#[test]
fn fits_old_faithful() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/faithful.csv");
    let fit = fit_file(path).expect("a fit");
    // The short and the long eruptions.
    let mut m = fit.params.m.to_vec();
    m.sort_by(f64::total_cmp);
    assert!(
        (m[0] - 2.04).abs() < 0.05 && (m[1] - 4.29).abs() < 0.05,
        "{m:?}"
    );
    assert!(fit.log_likelihood.is_finite());
}

#[test]
fn derived_math() {
    insta::assert_snapshot!(Eruption::explain());
}

#[test]
fn generated_code() {
    insta::assert_snapshot!(Eruption::generated_source());
}

#[test]
fn a_row_that_does_not_parse_is_reported_with_its_number() {
    let path = std::env::temp_dir().join("user-crate-bad-eruptions.csv");
    std::fs::write(&path, "eruptions,waiting\n3.6,79\n1.8,fifty-four\n").unwrap();
    match fit_file(path.to_str().unwrap()) {
        Err(Error::Rows(jensen::RowsError::Record { row: 1, .. })) => {}
        other => panic!("expected the second record's error, got {other:?}"),
    }
}
