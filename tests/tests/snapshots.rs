//! Snapshots: the generated Rust and the derived math of every model in `models/`, and the
//! rendered diagnostics of every wrong model in `tests/err/`. Run with `INSTA_UPDATE=no` in
//! CI, so a change to any derived update fails until it is reviewed.

use jensen_tests::root;

#[test]
fn generated_rust_and_math_of_every_model() {
    insta::glob!("../../models", "*.em", |path| {
        let source = std::fs::read_to_string(path).unwrap();
        let (plan, warnings) =
            jensen::compile(&source).unwrap_or_else(|d| panic!("{}: {d:?}", path.display()));
        assert!(warnings.is_empty(), "{}: {warnings:?}", path.display());
        let name = jensen_codegen::camel_case(&plan.model.name);
        let code = jensen_codegen::generate_module(&plan, &name).unwrap();
        insta::assert_snapshot!("rust", code);
        insta::assert_snapshot!("math", jensen_codegen::explain(&plan));
    });
}

#[test]
fn generated_code_is_deterministic() {
    let source = std::fs::read_to_string(root().join("models/quakes_mixed.em")).unwrap();
    let (plan, _) = jensen::compile(&source).unwrap();
    let a = jensen_codegen::generate_module(&plan, "Q").unwrap();
    let b = jensen_codegen::generate_module(&jensen::compile(&source).unwrap().0, "Q").unwrap();
    assert_eq!(a, b);
}

#[test]
fn diagnostics_of_every_wrong_model() {
    insta::glob!("../err", "*.em", |path| {
        let source = std::fs::read_to_string(path).unwrap();
        let diags = match jensen::compile(&source) {
            Ok(_) => panic!("{} compiled but is in err/", path.display()),
            Err(d) => d,
        };
        assert!(diags.iter().any(|d| d.is_error()));
        for d in &diags {
            assert!(
                !d.hint.is_empty(),
                "{}: diagnostic without a hint: {d:?}",
                path.display()
            );
        }
        let name = format!("err/{}", path.file_name().unwrap().to_string_lossy());
        insta::assert_snapshot!(jensen_cli::render::render(&name, &source, &diags, false));
    });
}

/// A chain with `estep hard`: the math describes the Viterbi E-step and no posterior entropy,
/// and the generated code says which E-step the model uses.
#[test]
fn hard_chain_math_and_code() {
    let source = std::fs::read_to_string(root().join("models/hmm_gaussian.em"))
        .unwrap()
        .replacen("model hmm_gaussian", "model hmm_hard\nestep hard", 1);
    let (plan, _) = jensen::compile(&source).unwrap();
    let math = jensen_codegen::explain(&plan);
    insta::assert_snapshot!("math_hard_chain", math);
    assert!(math.contains("Viterbi path"), "{math}");
    assert!(!math.contains("entropy of the chain posterior"), "{math}");
    let code = jensen_codegen::generate_module(&plan, "HmmHard").unwrap();
    assert!(code.contains("EStepMode::Hard"), "{code}");
}
