//! Every model in `models/`, compiled through `#[derive(Model)]`, plus helpers shared by the
//! integration tests in `tests/tests/`.

pub mod glue;
pub mod synth;

use std::path::{Path, PathBuf};

use jensen::bind::{BindOptions, Bound, Sequences};
use jensen::Plan;

/// The models of `models/`, generated at compile time.
pub mod models {
    #[derive(jensen::Model)]
    #[model(file = "../models/gmm.em")]
    pub struct Gmm;

    #[derive(jensen::Model)]
    #[model(file = "../models/gmm_diag.em")]
    pub struct GmmDiag;

    #[derive(jensen::Model)]
    #[model(file = "../models/gmm_spherical.em")]
    pub struct GmmSpherical;

    #[derive(jensen::Model)]
    #[model(file = "../models/gmm_tied.em")]
    pub struct GmmTied;

    #[derive(jensen::Model)]
    #[model(file = "../models/poisson_mix.em")]
    pub struct PoissonMix;

    #[derive(jensen::Model)]
    #[model(file = "../models/bernoulli_mix.em")]
    pub struct BernoulliMix;

    #[derive(jensen::Model)]
    #[model(file = "../models/quakes_mixed.em")]
    pub struct QuakesMixed;

    #[derive(jensen::Model)]
    #[model(file = "../models/digits_labelled.em")]
    pub struct DigitsLabelled;

    #[derive(jensen::Model)]
    #[model(file = "../models/shared_variance.em")]
    pub struct SharedVariance;

    #[derive(jensen::Model)]
    #[model(file = "../models/hmm_gaussian.em")]
    pub struct HmmGaussian;

    #[derive(jensen::Model)]
    #[model(file = "../models/hmm_gaussian_diag.em")]
    pub struct HmmGaussianDiag;

    #[derive(jensen::Model)]
    #[model(file = "../models/hmm_poisson.em")]
    pub struct HmmPoisson;

    #[derive(jensen::Model)]
    #[model(file = "../models/hmm_categorical.em")]
    pub struct HmmCategorical;

    #[derive(jensen::Model)]
    #[model(file = "../models/bernoulli_mix_map.em")]
    pub struct BernoulliMixMap;

    #[derive(jensen::Model)]
    #[model(file = "../models/exponential_mix_map.em")]
    pub struct ExponentialMixMap;

    #[derive(jensen::Model)]
    #[model(file = "../models/hmm_gaussian_niw.em")]
    pub struct HmmGaussianNiw;

    #[derive(jensen::Model)]
    #[model(file = "../models/hmm_gaussian_diag_nig.em")]
    pub struct HmmGaussianDiagNig;

    #[derive(jensen::Model)]
    #[model(file = "../models/hmm_gaussian_map.em")]
    pub struct HmmGaussianMap;

    #[derive(jensen::Model)]
    #[model(file = "../models/hmm_gaussian_diag_map.em")]
    pub struct HmmGaussianDiagMap;

    #[derive(jensen::Model)]
    #[model(file = "../models/poisson_mix_map.em")]
    pub struct PoissonMixMap;

    #[derive(jensen::Model)]
    #[model(file = "../models/hmm_poisson_map.em")]
    pub struct HmmPoissonMap;

    #[derive(jensen::Model)]
    #[model(file = "../models/hmm_categorical_map.em")]
    pub struct HmmCategoricalMap;

    #[derive(jensen::Model)]
    #[model(file = "../models/bgmm.em")]
    pub struct Bgmm;

    /// Priors whose hyperparameters are summaries of the data (`mean(x)`, `cov(x)`, `var(x)`).
    #[derive(jensen::Model)]
    #[model(file = "../models/bgmm_defaults.em")]
    pub struct BgmmDefaults;

    #[derive(jensen::Model)]
    #[model(file = "../models/gmm_diag_data_prior.em")]
    pub struct GmmDiagDataPrior;

    #[derive(jensen::Model)]
    #[model(file = "../models/normal_mix_data_prior.em")]
    pub struct NormalMixDataPrior;

    /// Per-component means under a prior scaled by the covariance they share.
    #[derive(jensen::Model)]
    #[model(file = "../models/gmm_tied_map.em")]
    pub struct GmmTiedMap;

    #[derive(jensen::Model)]
    #[model(file = "../models/bgmm_tied.em")]
    pub struct BgmmTied;

    /// A conjugate prior on the loadings, scaled by the noise.
    #[derive(jensen::Model)]
    #[model(file = "../models/fa_iris_map.em")]
    pub struct FaIrisMap;

    #[derive(jensen::Model)]
    #[model(file = "../models/mfa_iris_map.em")]
    pub struct MfaIrisMap;

    #[derive(jensen::Model)]
    #[model(file = "../models/ppca_iris_map.em")]
    pub struct PpcaIrisMap;

    /// Variational Bayes for linear-Gaussian latents: normal-inverse-Gamma posteriors on the
    /// loadings and the noise.
    #[derive(jensen::Model)]
    #[model(file = "../models/fa_iris_vb.em")]
    pub struct FaIrisVb;

    #[derive(jensen::Model)]
    #[model(file = "../models/mfa_iris_vb.em")]
    pub struct MfaIrisVb;

    #[derive(jensen::Model)]
    #[model(file = "../models/ppca_iris_vb.em")]
    pub struct PpcaIrisVb;

    /// The MAP model of factor analysis fitted by variational Bayes: the method chosen in the
    /// attribute.
    #[derive(jensen::Model)]
    #[model(file = "../models/fa_iris_map.em", method = "vb")]
    pub struct FaIrisMapVb;

    /// The MAP model fitted by variational Bayes: the method chosen in the attribute.
    #[derive(jensen::Model)]
    #[model(file = "../models/poisson_mix_map.em", method = "vb")]
    pub struct PoissonMixVb;

    #[derive(jensen::Model)]
    #[model(file = "../models/bgmm_diag.em")]
    pub struct BgmmDiag;

    #[derive(jensen::Model)]
    #[model(file = "../models/bgmm_spherical.em")]
    pub struct BgmmSpherical;

    #[derive(jensen::Model)]
    #[model(file = "../models/gmm_spherical_map.em")]
    pub struct GmmSphericalMap;

    #[derive(jensen::Model)]
    #[model(file = "../models/hmm_gaussian_vb.em")]
    pub struct HmmGaussianVb;

    #[derive(jensen::Model)]
    #[model(file = "../models/fa_digits.em")]
    pub struct FaDigits;

    #[derive(jensen::Model)]
    #[model(file = "../models/ppca_iris.em")]
    pub struct PpcaIris;

    #[derive(jensen::Model)]
    #[model(file = "../models/fa_iris.em")]
    pub struct FaIris;

    #[derive(jensen::Model)]
    #[model(file = "../models/exponential_mix.em")]
    pub struct ExponentialMix;

    #[derive(jensen::Model)]
    #[model(file = "../models/gamma_mix.em")]
    pub struct GammaMix;

    #[derive(jensen::Model)]
    #[model(file = "../models/geometric_mix.em")]
    pub struct GeometricMix;

    #[derive(jensen::Model)]
    #[model(file = "../models/lognormal_mix.em")]
    pub struct LognormalMix;

    #[derive(jensen::Model)]
    #[model(file = "../models/lognormal_mix_map.em")]
    pub struct LognormalMixMap;

    #[derive(jensen::Model)]
    #[model(file = "../models/lognormal_mix_vb.em")]
    pub struct LognormalMixVb;

    #[derive(jensen::Model)]
    #[model(file = "../models/multinomial_debian.em")]
    pub struct MultinomialDebian;

    #[derive(jensen::Model)]
    #[model(file = "../models/multinomial_debian_map.em")]
    pub struct MultinomialDebianMap;

    #[derive(jensen::Model)]
    #[model(file = "../models/multinomial_debian_vb.em")]
    pub struct MultinomialDebianVb;

    #[derive(jensen::Model)]
    #[model(file = "../models/binomial_digits.em")]
    pub struct BinomialDigits;

    #[derive(jensen::Model)]
    #[model(file = "../models/binomial_digits_map.em")]
    pub struct BinomialDigitsMap;

    #[derive(jensen::Model)]
    #[model(file = "../models/binomial_keywords.em")]
    pub struct BinomialKeywords;

    #[derive(jensen::Model)]
    #[model(file = "../models/regression_quakes.em")]
    pub struct RegressionQuakes;

    #[derive(jensen::Model)]
    #[model(file = "../models/normal_mix_known_variance.em")]
    pub struct NormalMixKnownVariance;

    #[derive(jensen::Model)]
    #[model(file = "../models/t_mix.em")]
    pub struct TMix;

    #[derive(jensen::Model)]
    #[model(file = "../models/regression_quakes_long.em")]
    pub struct RegressionQuakesLong;

    #[derive(jensen::Model)]
    #[model(file = "../models/regression_quakes_mv.em")]
    pub struct RegressionQuakesMv;

    #[derive(jensen::Model)]
    #[model(file = "../models/binomial_digits_vb.em")]
    pub struct BinomialDigitsVb;

    #[derive(jensen::Model)]
    #[model(file = "../models/geometric_mix_map.em")]
    pub struct GeometricMixMap;

    #[derive(jensen::Model)]
    #[model(file = "../models/geometric_mix_vb.em")]
    pub struct GeometricMixVb;

    #[derive(jensen::Model)]
    #[model(file = "../models/gamma_mix_map.em")]
    pub struct GammaMixMap;

    #[derive(jensen::Model)]
    #[model(file = "../models/gamma_mix_vb.em")]
    pub struct GammaMixVb;

    #[derive(jensen::Model)]
    #[model(file = "../models/mfa_iris.em")]
    pub struct MfaIris;

    #[derive(jensen::Model)]
    #[model(file = "../models/mppca_digits.em")]
    pub struct MppcaDigits;

    #[derive(jensen::Model)]
    #[model(file = "../models/kmeans.em")]
    pub struct Kmeans;

    #[derive(jensen::Model)]
    #[model(file = "../models/poisson_mix_weighted.em")]
    pub struct PoissonMixWeighted;

    #[derive(jensen::Model)]
    #[model(file = "../models/gmm_iris_semisupervised.em")]
    pub struct GmmIrisSemisupervised;

    /// Models of `models/` with a weight per row added (`tests/models/`), for the
    /// differential test of weights.
    pub mod weighted {
        #[derive(jensen::Model)]
        #[model(file = "models/gmm_weighted.em")]
        pub struct GmmWeighted;

        #[derive(jensen::Model)]
        #[model(file = "models/hmm_gaussian_weighted.em")]
        pub struct HmmGaussianWeighted;

        #[derive(jensen::Model)]
        #[model(file = "models/fa_iris_weighted.em")]
        pub struct FaIrisWeighted;

        #[derive(jensen::Model)]
        #[model(file = "models/bgmm_defaults_weighted.em")]
        pub struct BgmmDefaultsWeighted;

        #[derive(jensen::Model)]
        #[model(file = "models/poisson_hmm_weighted.em")]
        pub struct PoissonHmmWeighted;
    }
}

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the repository")
        .to_path_buf()
}

/// Compiles `models/NAME.em`.
pub fn plan(name: &str) -> Plan {
    let path = root().join("models").join(format!("{name}.em"));
    let source = std::fs::read_to_string(&path).expect("model file");
    jensen::compile(&source)
        .unwrap_or_else(|d| panic!("{name}: {d:?}"))
        .0
}

/// Reads `data/FILE` and binds it to `plan` with the given constant overrides.
pub fn bind(plan: &Plan, file: &str, consts: &[(&str, usize)]) -> Bound {
    bind_with(plan, file, consts, Sequences::Whole)
}

/// [`bind`], with the rows split into sequences.
pub fn bind_with(plan: &Plan, file: &str, consts: &[(&str, usize)], sequences: Sequences) -> Bound {
    let table = jensen::csv::read(root().join("data").join(file).to_str().expect("utf-8 path"))
        .expect("csv");
    let opts = BindOptions {
        consts: consts.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        sequences,
        ..Default::default()
    };
    jensen::bind(plan, &table, &opts).expect("bind")
}

/// `(model, data file, constant overrides)`.
pub type Entry = (&'static str, &'static str, &'static [(&'static str, usize)]);

/// The model files in `models/` with the data file each is fitted on and its constants.
pub const CATALOGUE: &[Entry] = &[
    ("gmm", "faithful.csv", &[]),
    ("gmm_diag", "faithful.csv", &[]),
    ("gmm_spherical", "faithful.csv", &[]),
    ("gmm_tied", "faithful.csv", &[]),
    ("poisson_mix", "discoveries.csv", &[]),
    ("bernoulli_mix", "digits_binary.csv", &[]),
    ("quakes_mixed", "quakes.csv", &[]),
    ("digits_labelled", "digits_binary.csv", &[]),
    ("shared_variance", "iris.csv", &[]),
    ("hmm_gaussian", "geyser.csv", &[]),
    ("hmm_gaussian_diag", "geyser.csv", &[]),
    ("hmm_poisson", "discoveries.csv", &[]),
    ("hmm_categorical", "geyser_classes.csv", &[]),
    ("fa_digits", "digits.csv", &[]),
    ("ppca_iris", "iris.csv", &[]),
    ("fa_iris", "iris.csv", &[]),
    ("exponential_mix", "faithful.csv", &[]),
    ("gamma_mix", "faithful.csv", &[]),
    ("geometric_mix", "discoveries.csv", &[]),
    ("binomial_digits", "digits.csv", &[]),
    // Two components, for speed: tests/properties.rs runs this model to its iteration cap
    // (the CLI fits the file's K = 3).
    ("binomial_digits_map", "digits.csv", &[("K", 2)]),
    ("binomial_digits_vb", "digits.csv", &[]),
    // Three components, for speed (the CLI fits the file's K = 6).
    ("binomial_keywords", "debian_keywords.csv", &[("K", 3)]),
    ("regression_quakes", "quakes.csv", &[]),
    ("normal_mix_known_variance", "faithful.csv", &[]),
    ("t_mix", "faithful_outliers.csv", &[]),
    ("regression_quakes_long", "quakes.csv", &[]),
    ("regression_quakes_mv", "quakes.csv", &[]),
    ("lognormal_mix", "faithful.csv", &[]),
    ("lognormal_mix_map", "faithful.csv", &[]),
    ("lognormal_mix_vb", "faithful.csv", &[]),
    // Three components, for speed (the CLI fits the files' K = 6).
    ("multinomial_debian", "debian_descriptions.csv", &[("K", 3)]),
    (
        "multinomial_debian_map",
        "debian_descriptions.csv",
        &[("K", 3)],
    ),
    (
        "multinomial_debian_vb",
        "debian_descriptions.csv",
        &[("K", 3)],
    ),
    // One component: the discoveries support one geometric component; at K = 2 the MAP
    // point merges the two (p₀ = p₁), which EM approaches sublinearly, too slowly for the
    // fixed-point gradient check of tests/properties.rs. (The CLI fits the file's K = 2.)
    ("geometric_mix_map", "discoveries.csv", &[("K", 1)]),
    ("geometric_mix_vb", "discoveries.csv", &[]),
    ("gamma_mix_map", "faithful.csv", &[]),
    ("gamma_mix_vb", "faithful.csv", &[]),
    ("mfa_iris", "iris.csv", &[]),
    ("mppca_digits", "digits.csv", &[]),
    ("kmeans", "faithful.csv", &[]),
    ("poisson_mix_map", "discoveries.csv", &[]),
    ("bernoulli_mix_map", "digits_binary.csv", &[]),
    ("exponential_mix_map", "faithful.csv", &[]),
    ("hmm_gaussian_map", "geyser.csv", &[]),
    ("hmm_gaussian_niw", "geyser.csv", &[]),
    ("hmm_gaussian_diag_nig", "geyser.csv", &[]),
    ("hmm_gaussian_diag_map", "geyser.csv", &[]),
    ("hmm_poisson_map", "discoveries.csv", &[]),
    ("hmm_categorical_map", "geyser_classes.csv", &[]),
    ("bgmm", "faithful.csv", &[]),
    ("bgmm_diag", "faithful.csv", &[]),
    ("bgmm_spherical", "faithful.csv", &[]),
    ("gmm_spherical_map", "faithful.csv", &[]),
    ("hmm_gaussian_vb", "geyser.csv", &[]),
    ("bgmm_defaults", "faithful.csv", &[]),
    ("gmm_diag_data_prior", "iris.csv", &[]),
    ("normal_mix_data_prior", "faithful.csv", &[]),
    ("gmm_tied_map", "faithful.csv", &[]),
    ("bgmm_tied", "faithful.csv", &[]),
    ("fa_iris_map", "iris.csv", &[]),
    ("mfa_iris_map", "iris.csv", &[]),
    ("ppca_iris_map", "iris.csv", &[]),
    ("fa_iris_vb", "iris.csv", &[]),
    ("mfa_iris_vb", "iris.csv", &[]),
    ("ppca_iris_vb", "iris.csv", &[]),
    ("poisson_mix_weighted", "discoveries_counts.csv", &[]),
    (
        "gmm_iris_semisupervised",
        "iris_partially_labelled.csv",
        &[],
    ),
];

/// The generated code's fit agrees with the executor's: the same ELBO trace (≤ 1e-10
/// relative), parameters (through their common JSON form), assignments, free-parameter
/// count, BIC and AIC.
pub fn compare_routes<P: serde::Serialize>(
    name: &str,
    executed: &jensen::FitResult<jensen::DynParams>,
    generated: &jensen::FitResult<P>,
) {
    assert_eq!(
        executed.elbo_trace.len(),
        generated.elbo_trace.len(),
        "{name}: trace lengths differ"
    );
    for (i, (a, b)) in executed
        .elbo_trace
        .iter()
        .zip(&generated.elbo_trace)
        .enumerate()
    {
        let rel = (a - b).abs() / a.abs().max(1.0);
        assert!(
            rel <= 1e-10,
            "{name}: iteration {i}: executor {a} vs generated {b} (relative {rel:e})"
        );
    }
    // The parameters agree too: compare through their common JSON form.
    let gen_json = serde_json::to_value(&generated.params).unwrap();
    let exec_json = serde_json::to_value(&executed.params).unwrap();
    let gen_params: jensen::DynParams = serde_json::from_value(gen_json).unwrap();
    let exec_params: jensen::DynParams = serde_json::from_value(exec_json).unwrap();
    for (pname, value) in exec_params.iter() {
        let other = gen_params
            .get(pname)
            .unwrap_or_else(|| panic!("{name}: generated lacks `{pname}`"));
        assert_eq!(
            value.shape(),
            other.shape(),
            "{name}: `{pname}` shapes differ"
        );
        for (a, b) in value.iter().zip(other.iter()) {
            assert!(
                (a - b).abs() <= 1e-10 * a.abs().max(1.0),
                "{name}: `{pname}` differs: {a} vs {b}"
            );
        }
    }
    assert_eq!(
        executed.assignments, generated.assignments,
        "{name}: assignments differ"
    );
    assert_eq!(
        executed.free_parameters, generated.free_parameters,
        "{name}: free parameter counts differ"
    );
    assert_eq!(
        executed.e_step, generated.e_step,
        "{name}: E-step modes differ"
    );
    for (what, a, b) in [
        (
            "complete-data log-likelihood",
            executed.complete_log_likelihood,
            generated.complete_log_likelihood,
        ),
        ("inertia", executed.inertia, generated.inertia),
    ] {
        match (a, b) {
            (Some(a), Some(b)) => assert!(
                (a - b).abs() <= 1e-10 * a.abs().max(1.0),
                "{name}: {what} differs: {a} vs {b}"
            ),
            (None, None) => {}
            _ => panic!("{name}: {what} reported by one route only: {a:?} vs {b:?}"),
        }
    }
    for (what, a, b) in [
        ("BIC", executed.bic, generated.bic),
        ("AIC", executed.aic, generated.aic),
    ] {
        assert!(
            (a - b).abs() <= 1e-9 * a.abs().max(1.0),
            "{name}: {what} differs: {a} vs {b}"
        );
    }
}
