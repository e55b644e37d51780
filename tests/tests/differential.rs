//! The generated code and the plan executor give the same ELBO trace and parameters on every
//! model in `models/` (same data, same seed, same options).

use jensen::bind::Sequences;
use jensen::runtime::{EStepMode, FitOptions, InitStrategy};
use jensen::PlanModel;
use jensen_tests::glue::{column, labels, matrix};
use jensen_tests::models::*;
use jensen_tests::{bind, bind_with, plan, CATALOGUE};

fn options<P>(seed: u64) -> FitOptions<P> {
    FitOptions {
        seed,
        max_iter: 60,
        tol: 1e-10,
        restarts: 2,
        init: InitStrategy::KMeansPlusPlus,
        ..FitOptions::default()
    }
}

macro_rules! differential {
    ($test:ident, $model:literal, $Model:ident, $Data:ident { $($field:ident: $how:ident),* }, $Consts:expr) => {
        differential!($test, $model, $Model, $Data { $($field: $how),* }, $Consts, None);
    };
    ($test:ident, $model:literal, $Model:ident, $Data:ident { $($field:ident: $how:ident),* }, $Consts:expr, $e_step:expr) => {
        #[test]
        fn $test() {
            let (_, file, consts) = CATALOGUE.iter().find(|(m, _, _)| *m == $model).expect("in catalogue");
            let p = plan($model);
            let bound = bind(&p, file, consts);
            let executed = jensen::fit(
                &PlanModel::new(&p, &bound),
                &FitOptions { e_step: $e_step, ..options(11) },
            )
            .expect("executor fit");
            let data = $Data { $($field: $how(&p, &bound, stringify!($field))),* };
            let model = $Model::new(data, $Consts).expect("generated model binds");
            let generated = jensen::fit(&model, &FitOptions { e_step: $e_step, ..options(11) })
                .expect("generated fit");
            jensen_tests::compare_routes($model, &executed, &generated);
        }
    };
}

// The hard E-step's faster forms (every component's scores at once, the statistics of an
// assignment) on both back-ends.
differential!(
    gmm_spherical_hard,
    "gmm_spherical",
    GmmSphericalModel,
    GmmSphericalData { x: matrix },
    GmmSphericalConsts::default(),
    Some(EStepMode::Hard)
);
differential!(
    gmm_diag_hard,
    "gmm_diag",
    GmmDiagModel,
    GmmDiagData { x: matrix },
    GmmDiagConsts::default(),
    Some(EStepMode::Hard)
);
// A block with the assigned form beside one without it (one-hot responsibilities).
differential!(
    mixed_type_mixture_hard,
    "quakes_mixed",
    QuakesMixedModel,
    QuakesMixedData {
        site: matrix,
        stations: column
    },
    QuakesMixedConsts::default(),
    Some(EStepMode::Hard)
);
differential!(
    gaussian_hmm_diagonal_hard,
    "hmm_gaussian_diag",
    HmmGaussianDiagModel,
    HmmGaussianDiagData { x: matrix },
    HmmGaussianDiagConsts::default(),
    Some(EStepMode::Hard)
);

differential!(
    gmm_full,
    "gmm",
    GmmModel,
    GmmData { x: matrix },
    GmmConsts::default()
);
differential!(
    gmm_diag,
    "gmm_diag",
    GmmDiagModel,
    GmmDiagData { x: matrix },
    GmmDiagConsts::default()
);
differential!(
    gmm_spherical,
    "gmm_spherical",
    GmmSphericalModel,
    GmmSphericalData { x: matrix },
    GmmSphericalConsts::default()
);
differential!(
    gmm_tied,
    "gmm_tied",
    GmmTiedModel,
    GmmTiedData { x: matrix },
    GmmTiedConsts::default()
);
differential!(
    poisson_mixture,
    "poisson_mix",
    PoissonMixModel,
    PoissonMixData {
        discoveries: column
    },
    PoissonMixConsts::default()
);
differential!(
    bernoulli_mixture,
    "bernoulli_mix",
    BernoulliMixModel,
    BernoulliMixData { x: matrix },
    BernoulliMixConsts::default()
);
differential!(
    mixed_type_mixture,
    "quakes_mixed",
    QuakesMixedModel,
    QuakesMixedData {
        site: matrix,
        stations: column
    },
    QuakesMixedConsts::default()
);

differential!(
    bernoulli_and_categorical,
    "digits_labelled",
    DigitsLabelledModel,
    DigitsLabelledData {
        x: matrix,
        label: column
    },
    DigitsLabelledConsts::default()
);
differential!(
    shared_variance_across_statements,
    "shared_variance",
    SharedVarianceModel,
    SharedVarianceData {
        petal_length: column,
        petal_width: column
    },
    SharedVarianceConsts::default()
);

differential!(
    gaussian_hmm,
    "hmm_gaussian",
    HmmGaussianModel,
    HmmGaussianData { x: matrix },
    HmmGaussianConsts::default()
);
differential!(
    gaussian_hmm_diagonal,
    "hmm_gaussian_diag",
    HmmGaussianDiagModel,
    HmmGaussianDiagData { x: matrix },
    HmmGaussianDiagConsts::default()
);
differential!(
    poisson_hmm,
    "hmm_poisson",
    HmmPoissonModel,
    HmmPoissonData {
        discoveries: column
    },
    HmmPoissonConsts::default()
);
differential!(
    categorical_hmm,
    "hmm_categorical",
    HmmCategoricalModel,
    HmmCategoricalData { eruption: column },
    HmmCategoricalConsts::default()
);

differential!(
    factor_analysis,
    "fa_digits",
    FaDigitsModel,
    FaDigitsData { x: matrix },
    FaDigitsConsts::default()
);
differential!(
    probabilistic_pca,
    "ppca_iris",
    PpcaIrisModel,
    PpcaIrisData { x: matrix },
    PpcaIrisConsts::default()
);
differential!(
    exponential_mixture,
    "exponential_mix",
    ExponentialMixModel,
    ExponentialMixData { waiting: column },
    ExponentialMixConsts::default()
);
// Not identified ((D − L)² < D + L): both routes cap the loadings' count the same way.
differential!(
    factor_analysis_capped_count,
    "fa_iris",
    FaIrisModel,
    FaIrisData { x: matrix },
    FaIrisConsts::default()
);
differential!(
    mixture_of_factor_analysers,
    "mfa_iris",
    MfaIrisModel,
    MfaIrisData { x: matrix },
    MfaIrisConsts::default()
);

differential!(
    mixture_of_probabilistic_pca,
    "mppca_digits",
    MppcaDigitsModel,
    MppcaDigitsData { x: matrix },
    MppcaDigitsConsts::default()
);

// k-means: known covariance, equal weights, the model's hard E-step, inertia.
differential!(
    kmeans,
    "kmeans",
    KmeansModel,
    KmeansData { x: matrix },
    KmeansConsts::default()
);
differential!(
    poisson_mixture_weighted,
    "poisson_mix_weighted",
    PoissonMixWeightedModel,
    PoissonMixWeightedData {
        discoveries: column,
        years: column
    },
    PoissonMixWeightedConsts::default()
);
differential!(
    semisupervised_gaussian_mixture,
    "gmm_iris_semisupervised",
    GmmIrisSemisupervisedModel,
    GmmIrisSemisupervisedData {
        x: matrix,
        z: labels
    },
    GmmIrisSemisupervisedConsts::default()
);
differential!(
    poisson_mixture_map,
    "poisson_mix_map",
    PoissonMixMapModel,
    PoissonMixMapData {
        discoveries: column
    },
    PoissonMixMapConsts::default()
);
differential!(
    bernoulli_mixture_map,
    "bernoulli_mix_map",
    BernoulliMixMapModel,
    BernoulliMixMapData { x: matrix },
    BernoulliMixMapConsts::default()
);
differential!(
    binomial_mixture,
    "binomial_digits",
    BinomialDigitsModel,
    BinomialDigitsData {
        p20: column,
        p28: column,
        p36: column,
        p43: column
    },
    BinomialDigitsConsts::default()
);
differential!(
    binomial_mixture_map,
    "binomial_digits_map",
    BinomialDigitsMapModel,
    BinomialDigitsMapData {
        p20: column,
        p28: column,
        p36: column,
        p43: column
    },
    BinomialDigitsMapConsts { K: 2 } // as in the catalogue
);
differential!(
    binomial_mixture_vb,
    "binomial_digits_vb",
    BinomialDigitsVbModel,
    BinomialDigitsVbData {
        p20: column,
        p28: column,
        p36: column,
        p43: column
    },
    BinomialDigitsVbConsts::default()
);
differential!(
    binomial_mixture_with_trials_from_a_column,
    "binomial_keywords",
    BinomialKeywordsModel,
    BinomialKeywordsData {
        words: column,
        games: column,
        sound: column,
        graphics: column,
        math: column,
        database: column,
        radio: column
    },
    BinomialKeywordsConsts { K: 3 } // as in the catalogue
);
differential!(
    student_t_mixture,
    "t_mix",
    TMixModel,
    TMixData { x: matrix },
    TMixConsts::default()
);
differential!(
    a_variance_fixed_in_the_model_file,
    "normal_mix_known_variance",
    NormalMixKnownVarianceModel,
    NormalMixKnownVarianceData { eruptions: column },
    NormalMixKnownVarianceConsts::default()
);
differential!(
    mixture_of_regressions,
    "regression_quakes",
    RegressionQuakesModel,
    RegressionQuakesData {
        u: matrix,
        depth: column
    },
    RegressionQuakesConsts::default()
);
differential!(
    mixture_of_regressions_on_one_covariate,
    "regression_quakes_long",
    RegressionQuakesLongModel,
    RegressionQuakesLongData {
        long: column,
        depth: column
    },
    RegressionQuakesLongConsts::default()
);
differential!(
    mixture_of_multivariate_regressions,
    "regression_quakes_mv",
    RegressionQuakesMvModel,
    RegressionQuakesMvData {
        x: matrix,
        u: matrix
    },
    RegressionQuakesMvConsts::default()
);
differential!(
    lognormal_mixture,
    "lognormal_mix",
    LognormalMixModel,
    LognormalMixData { eruptions: column },
    LognormalMixConsts::default()
);
differential!(
    lognormal_mixture_map,
    "lognormal_mix_map",
    LognormalMixMapModel,
    LognormalMixMapData { eruptions: column },
    LognormalMixMapConsts::default()
);
differential!(
    lognormal_mixture_vb,
    "lognormal_mix_vb",
    LognormalMixVbModel,
    LognormalMixVbData { eruptions: column },
    LognormalMixVbConsts::default()
);
differential!(
    multinomial_mixture,
    "multinomial_debian",
    MultinomialDebianModel,
    MultinomialDebianData { x: matrix },
    MultinomialDebianConsts { K: 3 } // as in the catalogue
);
differential!(
    multinomial_mixture_map,
    "multinomial_debian_map",
    MultinomialDebianMapModel,
    MultinomialDebianMapData { x: matrix },
    MultinomialDebianMapConsts { K: 3 }
);
differential!(
    multinomial_mixture_vb,
    "multinomial_debian_vb",
    MultinomialDebianVbModel,
    MultinomialDebianVbData { x: matrix },
    MultinomialDebianVbConsts { K: 3 }
);
differential!(
    geometric_mixture,
    "geometric_mix",
    GeometricMixModel,
    GeometricMixData {
        discoveries: column
    },
    GeometricMixConsts::default()
);
differential!(
    geometric_mixture_map,
    "geometric_mix_map",
    GeometricMixMapModel,
    GeometricMixMapData {
        discoveries: column
    },
    GeometricMixMapConsts { K: 1 } // as in the catalogue
);
differential!(
    geometric_mixture_vb,
    "geometric_mix_vb",
    GeometricMixVbModel,
    GeometricMixVbData {
        discoveries: column
    },
    GeometricMixVbConsts::default()
);
differential!(
    gamma_mixture,
    "gamma_mix",
    GammaMixModel,
    GammaMixData { waiting: column },
    GammaMixConsts::default()
);
differential!(
    gamma_mixture_map,
    "gamma_mix_map",
    GammaMixMapModel,
    GammaMixMapData { waiting: column },
    GammaMixMapConsts::default()
);
differential!(
    gamma_mixture_vb,
    "gamma_mix_vb",
    GammaMixVbModel,
    GammaMixVbData { waiting: column },
    GammaMixVbConsts::default()
);
differential!(
    exponential_mixture_map,
    "exponential_mix_map",
    ExponentialMixMapModel,
    ExponentialMixMapData { waiting: column },
    ExponentialMixMapConsts::default()
);
differential!(
    gaussian_hmm_niw,
    "hmm_gaussian_niw",
    HmmGaussianNiwModel,
    HmmGaussianNiwData { x: matrix },
    HmmGaussianNiwConsts::default()
);
differential!(
    gaussian_hmm_diagonal_nig,
    "hmm_gaussian_diag_nig",
    HmmGaussianDiagNigModel,
    HmmGaussianDiagNigData { x: matrix },
    HmmGaussianDiagNigConsts::default()
);
// Priors whose hyperparameters are summaries of the data: vectors, matrices and numbers
// computed when the data are bound, under MAP-EM and variational Bayes.
differential!(
    bayesian_gmm_with_data_priors,
    "bgmm_defaults",
    BgmmDefaultsModel,
    BgmmDefaultsData { x: matrix },
    BgmmDefaultsConsts::default()
);
differential!(
    diagonal_map_with_data_priors,
    "gmm_diag_data_prior",
    GmmDiagDataPriorModel,
    GmmDiagDataPriorData { x: matrix },
    GmmDiagDataPriorConsts::default()
);
differential!(
    normal_map_with_data_priors,
    "normal_mix_data_prior",
    NormalMixDataPriorModel,
    NormalMixDataPriorData { y: column },
    NormalMixDataPriorConsts::default()
);
// A tied covariance under a normal-inverse-Wishart prior: every component's deviation from
// the prior mean enters the shared update.
differential!(
    tied_map_with_mean_priors,
    "gmm_tied_map",
    GmmTiedMapModel,
    GmmTiedMapData { x: matrix },
    GmmTiedMapConsts::default()
);
differential!(
    bayesian_gmm_tied,
    "bgmm_tied",
    BgmmTiedModel,
    BgmmTiedData { x: matrix },
    BgmmTiedConsts::default()
);
// Loadings under a prior scaled by the noise: a ridge, and the noise's extra terms.
differential!(
    factor_analysis_map,
    "fa_iris_map",
    FaIrisMapModel,
    FaIrisMapData { x: matrix },
    FaIrisMapConsts::default()
);
differential!(
    mixture_of_factor_analysers_map,
    "mfa_iris_map",
    MfaIrisMapModel,
    MfaIrisMapData { x: matrix },
    MfaIrisMapConsts::default()
);
differential!(
    probabilistic_pca_map,
    "ppca_iris_map",
    PpcaIrisMapModel,
    PpcaIrisMapData { x: matrix },
    PpcaIrisMapConsts::default()
);
// Variational Bayes for linear-Gaussian latents: the loadings' spread in the latent's prior,
// the loadings' offsets and KL, the noise's posterior.
differential!(
    factor_analysis_vb,
    "fa_iris_vb",
    FaIrisVbModel,
    FaIrisVbData { x: matrix },
    FaIrisVbConsts::default()
);
differential!(
    mixture_of_factor_analysers_vb,
    "mfa_iris_vb",
    MfaIrisVbModel,
    MfaIrisVbData { x: matrix },
    MfaIrisVbConsts::default()
);
differential!(
    probabilistic_pca_vb,
    "ppca_iris_vb",
    PpcaIrisVbModel,
    PpcaIrisVbData { x: matrix },
    PpcaIrisVbConsts::default()
);
// Variational Bayes: posteriors, effective parameters, offsets and KL terms.
differential!(
    bayesian_gmm,
    "bgmm",
    BgmmModel,
    BgmmData { x: matrix },
    BgmmConsts::default()
);
differential!(
    bayesian_gmm_diagonal,
    "bgmm_diag",
    BgmmDiagModel,
    BgmmDiagData { x: matrix },
    BgmmDiagConsts::default()
);
differential!(
    bayesian_gmm_spherical,
    "bgmm_spherical",
    BgmmSphericalModel,
    BgmmSphericalData { x: matrix },
    BgmmSphericalConsts::default()
);
differential!(
    gmm_spherical_map,
    "gmm_spherical_map",
    GmmSphericalMapModel,
    GmmSphericalMapData { x: matrix },
    GmmSphericalMapConsts::default()
);
differential!(
    gaussian_hmm_vb,
    "hmm_gaussian_vb",
    HmmGaussianVbModel,
    HmmGaussianVbData { x: matrix },
    HmmGaussianVbConsts::default()
);
differential!(
    gaussian_hmm_map,
    "hmm_gaussian_map",
    HmmGaussianMapModel,
    HmmGaussianMapData { x: matrix },
    HmmGaussianMapConsts::default()
);
differential!(
    gaussian_hmm_diagonal_map,
    "hmm_gaussian_diag_map",
    HmmGaussianDiagMapModel,
    HmmGaussianDiagMapData { x: matrix },
    HmmGaussianDiagMapConsts::default()
);
differential!(
    poisson_hmm_map,
    "hmm_poisson_map",
    HmmPoissonMapModel,
    HmmPoissonMapData {
        discoveries: column
    },
    HmmPoissonMapConsts::default()
);
differential!(
    categorical_hmm_map,
    "hmm_categorical_map",
    HmmCategoricalMapModel,
    HmmCategoricalMapData { eruption: column },
    HmmCategoricalMapConsts::default()
);

/// Several sequences: both back-ends split the rows the same way.
#[test]
fn gaussian_hmm_with_several_sequences() {
    let lengths = [100, 99, 100];
    let p = plan("hmm_gaussian");
    let bound = bind_with(&p, "geyser.csv", &[], Sequences::Lengths(lengths.to_vec()));
    assert_eq!(bound.sequences, vec![0..100, 100..199, 199..299]);
    let executed = jensen::fit(&PlanModel::new(&p, &bound), &options(5)).expect("executor fit");
    let data = HmmGaussianData {
        x: matrix(&p, &bound, "x"),
    };
    let model = HmmGaussianModel::new(data, HmmGaussianConsts::default())
        .and_then(|m| m.with_lengths(&lengths))
        .expect("generated model binds");
    let generated = jensen::fit(&model, &options(5)).expect("generated fit");
    jensen_tests::compare_routes("hmm_gaussian (3 sequences)", &executed, &generated);
    // Splitting changes the model: the sequences are independent.
    let whole = jensen::fit(
        &HmmGaussianModel::new(
            HmmGaussianData {
                x: matrix(&p, &bound, "x"),
            },
            HmmGaussianConsts::default(),
        )
        .unwrap(),
        &options(5),
    )
    .unwrap();
    assert_ne!(whole.elbo_trace[0], generated.elbo_trace[0]);
}

#[test]
fn every_model_file_is_covered() {
    let mut files: Vec<String> = std::fs::read_dir(jensen_tests::root().join("models"))
        .unwrap()
        .map(|e| {
            e.unwrap()
                .path()
                .file_stem()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    files.sort();
    let mut covered: Vec<String> = CATALOGUE.iter().map(|(m, _, _)| m.to_string()).collect();
    covered.sort();
    assert_eq!(
        files, covered,
        "add new models to CATALOGUE and to the differential tests"
    );
}

#[test]
fn a_log_joint_that_says_it_writes_overwrites_whatever_its_buffer_held() {
    // `MixtureModel::log_joint_writes` lets the E-step skip zeroing the buffer: the block must
    // then come out the same, bit for bit, from a buffer of NaN as from one of zeros.
    use jensen::runtime::{MixtureModel, Workspace};
    use ndarray::ShapeBuilder;
    let mut writers = 0;
    for (name, file, consts) in CATALOGUE {
        let p = plan(name);
        let bound = bind(&p, file, consts);
        let model = PlanModel::new(&p, &bound);
        if !model.log_joint_writes() {
            continue;
        }
        writers += 1;
        let fitted = jensen::fit(
            &model,
            &FitOptions {
                max_iter: 2,
                restarts: 1,
                ..options(3)
            },
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        let cache = model.prepare(&fitted.params).expect("prepared");
        let (m, k) = (model.n_rows().min(64), model.n_components());
        let block = |fill: f64| {
            let mut out = ndarray::Array2::from_elem((m, k).f(), fill);
            model.log_joint(&cache, 0..m, out.view_mut(), &mut Workspace::default());
            out
        };
        let (from_zeros, from_nan) = (block(0.0), block(f64::NAN));
        assert!(
            from_zeros
                .iter()
                .zip(&from_nan)
                .all(|(a, b)| a.to_bits() == b.to_bits()),
            "{name}: the log-joint kept some of its buffer"
        );
    }
    // (Every mixture with a prior of `z` says so; the chains do not.)
    assert!(writers > 20, "{writers} models write their log-joint");
}
