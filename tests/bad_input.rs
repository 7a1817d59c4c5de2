//! Every public entry point of the four library crates, given bad input on purpose, returns the
//! expected variant of its crate's error enum, never panics, and never returns NaN or infinity.
//!
//! The test is a table: each row names the entry point, the bad input and the expected variant,
//! and checks that the one-line message names the offending argument (or the reported number:
//! λ_min, t, residual). A second table feeds extreme but valid inputs and checks that whatever
//! comes back is finite. Run with `--nocapture` to print the table that docs/reliability.md
//! quotes.

use faer::{Mat, MatRef, Par};
use ntk_lab::bounds::{self, digits::Digits};
use ntk_lab::dynamics::{self, test_models::LinearModel};
use ntk_lab::kernels::analytic::{Get, kernel, kernel_diagonal, kernel_layerwise};
use ntk_lab::kernels::mercer::{
    MercerConfig, Parity, fit_decay_exponent, gegenbauer, mercer_eigenvalues, multiplicity,
};
use ntk_lab::kernels::regression::{
    Cholesky, Eigen, EnsembleTestSet, GradientDescentMse, MseConfig, NtkGp, TestSet, gp_inference,
    kernel_ridge, least_norm_interpolator,
};
use ntk_lab::kernels::{self, Activation, Architecture, Layer, Parameterization};
use ntk_lab::nets::hessian::{LossHessian, hessian_norm, jacobian_norm, lazy_ratio, norm_suprema};
use ntk_lab::nets::lanczos::{LanczosConfig, lanczos};
use ntk_lab::nets::monte_carlo::monte_carlo_kernel;
use ntk_lab::nets::{self, Mlp, MlpSpec, Model, Scaling, SecondLayer, TwoLayer, TwoLayerSpec};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::panic::{AssertUnwindSafe, catch_unwind};

type Check<'a> = Box<dyn Fn() -> Result<String, String> + 'a>;

/// One row of the table.
struct Case<'a> {
    entry: &'static str,
    input: &'static str,
    expected: &'static str,
    run: Check<'a>,
}

/// `case!(cases, "entry", "input", call, Variant pattern, "text the message must contain")`.
macro_rules! case {
    ($cases:ident, $entry:expr, $input:expr, $call:expr, $pat:pat $(if $guard:expr)?, $needle:expr) => {
        $cases.push(Case {
            entry: $entry,
            input: $input,
            expected: stringify!($pat $(if $guard)?),
            run: Box::new(|| match $call {
                Ok(_) => Err("returned Ok".to_string()),
                Err(error) => {
                    let message = error.to_string();
                    if !matches!(error, $pat $(if $guard)?) {
                        Err(format!("wrong variant: {error:?}"))
                    } else if !message.contains($needle) {
                        Err(format!(
                            "message {message:?} does not contain {:?}",
                            $needle
                        ))
                    } else if message.contains('\n') {
                        Err(format!("message is not one line: {message:?}"))
                    } else {
                        Ok(message)
                    }
                }
            }),
        })
    };
}

fn mat(rows: &[&[f64]]) -> Mat<f64> {
    Mat::from_fn(rows.len(), rows[0].len(), |i, j| rows[i][j])
}

fn with_entry(x: &Mat<f64>, i: usize, j: usize, value: f64) -> Mat<f64> {
    let mut out = x.clone();
    out[(i, j)] = value;
    out
}

/// Runs every case, each under `catch_unwind`; returns the failures and prints the table.
fn run_table(title: &str, cases: &[Case<'_>]) -> Vec<String> {
    let mut failures = Vec::new();
    println!("\n### {title}\n\n| entry point | bad input | error |\n|---|---|---|");
    for case in cases {
        match catch_unwind(AssertUnwindSafe(|| (case.run)())) {
            Ok(Ok(message)) => println!(
                "| `{}` | {} | `{}`: {} |",
                case.entry,
                case.input,
                case.expected.split(['{', '(']).next().unwrap_or("").trim(),
                message.replace('|', "\\|")
            ),
            Ok(Err(why)) => failures.push(format!("{} / {}: {why}", case.entry, case.input)),
            Err(_) => failures.push(format!("{} / {}: PANICKED", case.entry, case.input)),
        }
    }
    failures
}

// ---------------------------------------------------------------------------------------------
// ntk-kernels
// ---------------------------------------------------------------------------------------------

#[test]
fn kernels_bad_input_table() {
    use kernels::Error as E;
    use kernels::random_features::{RandomFeatures, random_feature_kernels};
    use kernels::two_layer::{bietti_mairal_ntk, du_gram_entry, two_layer_ntk};
    let sqrt2 = std::f64::consts::SQRT_2;
    let arch = Architecture::mlp(
        2,
        16,
        Activation::Relu,
        sqrt2,
        Some(0.1),
        Parameterization::Ntk,
    )
    .unwrap();
    let x = mat(&[
        &[1.0, 0.0, 0.0],
        &[0.6, 0.8, 0.0],
        &[0.0, 0.6, 0.8],
        &[0.5, 0.5, 0.7],
    ]);
    let x_dim2 = Mat::<f64>::from_fn(2, 2, |i, j| (i + j) as f64 + 1.0);
    let empty = Mat::<f64>::zeros(0, 3);
    let x_nan = with_entry(&x, 1, 2, f64::NAN);
    let x_inf = with_entry(&x, 2, 0, f64::INFINITY);
    // Gram of the ReLU NTK on x with the first point duplicated: exactly singular.
    let x_dup = mat(&[&[1.0, 0.0, 0.0], &[1.0, 0.0, 0.0], &[0.0, 0.6, 0.8]]);
    let k_dup = kernel(&arch, x_dup.as_ref(), None, Get::BOTH)
        .unwrap()
        .ntk
        .unwrap();
    let k_good = kernel(&arch, x.as_ref(), None, Get::BOTH)
        .unwrap()
        .ntk
        .unwrap();
    let k_cross = Mat::<f64>::from_fn(2, 4, |i, j| k_good[(i, j)]);
    let indefinite = mat(&[&[1.0, 2.0], &[2.0, 1.0]]); // eigenvalues 3 and −1
    let y4 = Mat::<f64>::from_fn(4, 1, |i, _| i as f64 - 1.5);
    let y3 = Mat::<f64>::from_fn(3, 1, |i, _| i as f64);
    let y_nan = with_entry(&y4, 0, 0, f64::NAN);
    let rf = RandomFeatures::from_seed(32, 3, 5).unwrap();
    let mut c: Vec<Case<'_>> = Vec::new();

    // Architecture
    case!(
        c,
        "Architecture::new",
        "no layers",
        Architecture::new(vec![], Parameterization::Ntk),
        E::Empty { .. },
        "layers"
    );
    case!(
        c,
        "Architecture::mlp",
        "width 0",
        Architecture::mlp(1, 0, Activation::Relu, 1.0, None, Parameterization::Ntk),
        E::InvalidParameter { .. },
        "width"
    );
    case!(
        c,
        "Architecture::mlp",
        "w_std = NaN",
        Architecture::mlp(
            1,
            4,
            Activation::Relu,
            f64::NAN,
            None,
            Parameterization::Ntk
        ),
        E::InvalidParameter { .. },
        "w_std"
    );
    case!(
        c,
        "Architecture::mlp",
        "w_std = −1",
        Architecture::mlp(1, 4, Activation::Relu, -1.0, None, Parameterization::Ntk),
        E::InvalidParameter { .. },
        "w_std"
    );
    case!(
        c,
        "Architecture::mlp",
        "b_std = −0.1",
        Architecture::mlp(
            1,
            4,
            Activation::Relu,
            1.0,
            Some(-0.1),
            Parameterization::Ntk
        ),
        E::InvalidParameter { .. },
        "b_std"
    );
    case!(
        c,
        "Architecture::mlp",
        "b_std = ∞",
        Architecture::mlp(
            1,
            4,
            Activation::Relu,
            1.0,
            Some(f64::INFINITY),
            Parameterization::Ntk
        ),
        E::InvalidParameter { .. },
        "b_std"
    );
    case!(
        c,
        "Architecture::mlp",
        "LeakyReLU α = NaN",
        Architecture::mlp(
            1,
            4,
            Activation::LeakyRelu { alpha: f64::NAN },
            1.0,
            None,
            Parameterization::Ntk
        ),
        E::InvalidParameter { .. },
        "activation"
    );
    case!(
        c,
        "Architecture::new",
        "last layer not Dense",
        Architecture::new(
            vec![
                Layer::Dense {
                    width: 3,
                    w_std: 1.0,
                    b_std: None
                },
                Layer::Activation(Activation::Relu)
            ],
            Parameterization::Ntk
        ),
        E::InvalidParameter { .. },
        "layers"
    );

    // analytic kernels
    case!(
        c,
        "analytic::kernel",
        "x1 empty (0 rows)",
        kernel(&arch, empty.as_ref(), None, Get::BOTH),
        E::Empty { .. },
        "x1"
    );
    case!(
        c,
        "analytic::kernel",
        "x1 with 0 columns",
        kernel(&arch, Mat::<f64>::zeros(3, 0).as_ref(), None, Get::BOTH),
        E::Empty { .. },
        "x1"
    );
    case!(
        c,
        "analytic::kernel",
        "x2 empty",
        kernel(&arch, x.as_ref(), Some(empty.as_ref()), Get::BOTH),
        E::Empty { .. },
        "x2"
    );
    case!(
        c,
        "analytic::kernel",
        "x1 d=3, x2 d=2",
        kernel(&arch, x.as_ref(), Some(x_dim2.as_ref()), Get::BOTH),
        E::ShapeMismatch { .. },
        "x2"
    );
    case!(
        c,
        "analytic::kernel",
        "NaN in x1",
        kernel(&arch, x_nan.as_ref(), None, Get::BOTH),
        E::NonFinite { .. },
        "x1"
    );
    case!(
        c,
        "analytic::kernel",
        "∞ in x2",
        kernel(&arch, x.as_ref(), Some(x_inf.as_ref()), Get::BOTH),
        E::NonFinite { .. },
        "x2"
    );
    case!(
        c,
        "analytic::kernel_diagonal",
        "NaN in x",
        kernel_diagonal(&arch, x_nan.as_ref()),
        E::NonFinite { .. },
        "x1"
    );
    case!(
        c,
        "analytic::kernel_diagonal",
        "x empty",
        kernel_diagonal(&arch, empty.as_ref()),
        E::Empty { .. },
        "x1"
    );
    case!(
        c,
        "analytic::kernel_layerwise",
        "x1 d=3, x2 d=2",
        kernel_layerwise(&arch, x.as_ref(), Some(x_dim2.as_ref())),
        E::ShapeMismatch { .. },
        "x2"
    );

    // two-layer closed forms on the sphere
    case!(
        c,
        "two_layer::two_layer_ntk",
        "x = 0 (no direction)",
        two_layer_ntk(&[0.0, 0.0], &[1.0, 0.0]),
        E::ZeroNorm { .. },
        "x"
    );
    case!(
        c,
        "two_layer::du_gram_entry",
        "y = 0 (no direction)",
        du_gram_entry(&[1.0, 0.0], &[0.0, 0.0]),
        E::ZeroNorm { .. },
        "y"
    );
    case!(
        c,
        "two_layer::bietti_mairal_ntk",
        "len(x)=2, len(y)=3",
        bietti_mairal_ntk(&[1.0, 0.0], &[1.0, 0.0, 0.0], 2),
        E::ShapeMismatch { .. },
        "y"
    );
    case!(
        c,
        "two_layer::two_layer_ntk",
        "x empty",
        two_layer_ntk(&[], &[]),
        E::Empty { .. },
        "x"
    );
    case!(
        c,
        "two_layer::du_gram_entry",
        "NaN in x",
        du_gram_entry(&[f64::NAN, 1.0], &[1.0, 0.0]),
        E::NonFinite { .. },
        "x"
    );

    // random features
    case!(
        c,
        "random_feature_kernels",
        "x1 empty",
        random_feature_kernels(&Activation::Relu, empty.as_ref(), x.as_ref(), Par::Seq),
        E::Empty { .. },
        "x1"
    );
    case!(
        c,
        "random_feature_kernels",
        "x1 d=3, x2 d=2",
        random_feature_kernels(&Activation::Relu, x.as_ref(), x_dim2.as_ref(), Par::Seq),
        E::ShapeMismatch { .. },
        "x2"
    );
    case!(
        c,
        "random_feature_kernels",
        "NaN in x1",
        random_feature_kernels(&Activation::Erf, x_nan.as_ref(), x.as_ref(), Par::Seq),
        E::NonFinite { .. },
        "x1"
    );
    case!(
        c,
        "random_feature_kernels",
        "AbReLU a = ∞",
        random_feature_kernels(
            &Activation::AbRelu {
                a: f64::INFINITY,
                b: 1.0
            },
            x.as_ref(),
            x.as_ref(),
            Par::Seq
        ),
        E::InvalidParameter { .. },
        "activation"
    );
    case!(
        c,
        "RandomFeatures::from_seed",
        "N = 0 features",
        RandomFeatures::from_seed(0, 3, 1),
        E::InvalidParameter { .. },
        "n_features"
    );
    case!(
        c,
        "RandomFeatures::from_seed",
        "d = 0",
        RandomFeatures::from_seed(8, 0, 1),
        E::InvalidParameter { .. },
        "dim"
    );
    case!(
        c,
        "RandomFeatures::from_weights",
        "NaN weight",
        RandomFeatures::from_weights(x_nan.as_ref()),
        E::NonFinite { .. },
        "weights"
    );
    case!(
        c,
        "RandomFeatures::rf_features",
        "x has d=2, W has d=3",
        rf.rf_features(&Activation::Relu, x_dim2.as_ref(), Par::Seq),
        E::ShapeMismatch { .. },
        "x"
    );
    case!(
        c,
        "RandomFeatures::nt_features",
        "NaN in x",
        rf.nt_features(&Activation::Relu, x_nan.as_ref(), Par::Seq),
        E::NonFinite { .. },
        "x"
    );
    case!(
        c,
        "RandomFeatures::kernels",
        "x2 empty",
        rf.kernels(&Activation::Relu, x.as_ref(), empty.as_ref(), Par::Seq),
        E::Empty { .. },
        "x2"
    );

    // regression
    case!(
        c,
        "kernel_ridge",
        "duplicate points, ridge 0 (singular Gram)",
        kernel_ridge(k_dup.as_ref(), k_dup.as_ref(), y3.as_ref(), 0.0, Par::Seq),
        E::NotPositiveDefinite { .. },
        "lambda_min"
    );
    case!(
        c,
        "least_norm_interpolator",
        "duplicate points (singular Gram)",
        least_norm_interpolator(k_dup.as_ref(), k_dup.as_ref(), y3.as_ref(), Par::Seq),
        E::NotPositiveDefinite { .. },
        "lambda_min"
    );
    case!(c, "least_norm_interpolator", "indefinite K (λ = 3, −1)", least_norm_interpolator(indefinite.as_ref(), indefinite.as_ref(), Mat::<f64>::zeros(2, 1).as_ref(), Par::Seq), E::NotPositiveDefinite { lambda_min } if lambda_min < 0.0, "lambda_min = -1");
    case!(
        c,
        "kernel_ridge",
        "ridge = −1",
        kernel_ridge(
            k_good.as_ref(),
            k_cross.as_ref(),
            y4.as_ref(),
            -1.0,
            Par::Seq
        ),
        E::InvalidParameter { .. },
        "ridge"
    );
    case!(
        c,
        "kernel_ridge",
        "ridge = NaN",
        kernel_ridge(
            k_good.as_ref(),
            k_cross.as_ref(),
            y4.as_ref(),
            f64::NAN,
            Par::Seq
        ),
        E::InvalidParameter { .. },
        "ridge"
    );
    case!(
        c,
        "kernel_ridge",
        "y has 3 rows, K is 4×4",
        kernel_ridge(
            k_good.as_ref(),
            k_cross.as_ref(),
            y3.as_ref(),
            0.0,
            Par::Seq
        ),
        E::ShapeMismatch { .. },
        "y"
    );
    case!(
        c,
        "kernel_ridge",
        "K_test_train has 3 columns, K is 4×4",
        kernel_ridge(k_good.as_ref(), k_dup.as_ref(), y4.as_ref(), 0.0, Par::Seq),
        E::ShapeMismatch { .. },
        "k_test_train"
    );
    case!(
        c,
        "kernel_ridge",
        "NaN in y",
        kernel_ridge(
            k_good.as_ref(),
            k_cross.as_ref(),
            y_nan.as_ref(),
            0.0,
            Par::Seq
        ),
        E::NonFinite { .. },
        "y"
    );
    case!(
        c,
        "kernel_ridge",
        "K not square (2×4)",
        kernel_ridge(
            k_cross.as_ref(),
            indefinite.as_ref(),
            Mat::<f64>::zeros(2, 1).as_ref(),
            0.0,
            Par::Seq
        ),
        E::ShapeMismatch { .. },
        "k_train_train"
    );
    case!(
        c,
        "gp_inference",
        "noise variance −1",
        gp_inference(
            k_good.as_ref(),
            k_cross.as_ref(),
            None,
            y4.as_ref(),
            -1.0,
            Par::Seq
        ),
        E::InvalidParameter { .. },
        "noise_variance"
    );
    case!(
        c,
        "gp_inference",
        "K_test_test 3×3 for 2 test points",
        gp_inference(
            k_good.as_ref(),
            k_cross.as_ref(),
            Some(k_dup.as_ref()),
            y4.as_ref(),
            0.1,
            Par::Seq
        ),
        E::ShapeMismatch { .. },
        "k_test_test"
    );
    case!(
        c,
        "Cholesky::new",
        "NaN in K",
        Cholesky::new(with_entry(&k_good, 0, 0, f64::NAN).as_ref(), 0.0, Par::Seq),
        E::NonFinite { .. },
        "k"
    );
    case!(c, "Cholesky::new", "indefinite K", Cholesky::new(indefinite.as_ref(), 0.0, Par::Seq), E::NotPositiveDefinite { lambda_min } if lambda_min < 0.0, "lambda_min");
    case!(
        c,
        "Eigen::new",
        "singular K",
        Eigen::new(k_dup.as_ref(), 0.0, Par::Seq),
        E::NotPositiveDefinite { .. },
        "lambda_min"
    );
    case!(
        c,
        "GradientDescentMse::new",
        "learning rate 0",
        GradientDescentMse::new(
            k_good.as_ref(),
            y4.as_ref(),
            MseConfig {
                learning_rate: 0.0,
                ..MseConfig::default()
            },
            Par::Seq
        ),
        E::InvalidParameter { .. },
        "learning_rate"
    );
    case!(
        c,
        "GradientDescentMse::new",
        "diag_reg −1",
        GradientDescentMse::new(
            k_good.as_ref(),
            y4.as_ref(),
            MseConfig {
                diag_reg: -1.0,
                ..MseConfig::default()
            },
            Par::Seq
        ),
        E::InvalidParameter { .. },
        "diag_reg"
    );
    case!(
        c,
        "GradientDescentMse::new",
        "y has 3 rows",
        GradientDescentMse::new(k_good.as_ref(), y3.as_ref(), MseConfig::default(), Par::Seq),
        E::ShapeMismatch { .. },
        "y"
    );
    case!(
        c,
        "GradientDescentMse::predict",
        "t = −1",
        GradientDescentMse::new(k_good.as_ref(), y4.as_ref(), MseConfig::default(), Par::Seq)
            .and_then(|g| g.predict(&[-1.0], Mat::<f64>::zeros(4, 1).as_ref(), None)),
        E::InvalidParameter { .. },
        "times"
    );
    case!(
        c,
        "GradientDescentMse::predict",
        "t = NaN",
        GradientDescentMse::new(k_good.as_ref(), y4.as_ref(), MseConfig::default(), Par::Seq)
            .and_then(|g| g.predict(&[f64::NAN], Mat::<f64>::zeros(4, 1).as_ref(), None)),
        E::InvalidParameter { .. },
        "times"
    );
    case!(
        c,
        "GradientDescentMse::predict",
        "no times",
        GradientDescentMse::new(k_good.as_ref(), y4.as_ref(), MseConfig::default(), Par::Seq)
            .and_then(|g| g.predict(&[], Mat::<f64>::zeros(4, 1).as_ref(), None)),
        E::Empty { .. },
        "times"
    );
    case!(
        c,
        "GradientDescentMse::predict",
        "f₀(X) has 3 rows",
        GradientDescentMse::new(k_good.as_ref(), y4.as_ref(), MseConfig::default(), Par::Seq)
            .and_then(|g| g.predict(&[1.0], Mat::<f64>::zeros(3, 1).as_ref(), None)),
        E::ShapeMismatch { .. },
        "fx_train_0"
    );
    case!(
        c,
        "GradientDescentMse::predict",
        "t = ∞ with singular Θ",
        GradientDescentMse::new(k_dup.as_ref(), y3.as_ref(), MseConfig::default(), Par::Seq)
            .and_then(|g| {
                g.predict(
                    &[f64::INFINITY],
                    Mat::<f64>::zeros(3, 1).as_ref(),
                    Some(TestSet {
                        k_test_train: k_dup.as_ref(),
                        fx_test_0: Mat::<f64>::zeros(3, 1).as_ref(),
                    }),
                )
            }),
        E::NotPositiveDefinite { .. },
        "lambda_min"
    );
    case!(
        c,
        "NtkGp::new",
        "NNGP 3×3, NTK 4×4",
        NtkGp::new(
            k_good.as_ref(),
            k_dup.as_ref(),
            y4.as_ref(),
            MseConfig::default(),
            Par::Seq
        ),
        E::ShapeMismatch { .. },
        "nngp_train_train"
    );
    case!(
        c,
        "NtkGp::predict",
        "NNGP test-train has 3 columns",
        NtkGp::new(
            k_good.as_ref(),
            k_good.as_ref(),
            y4.as_ref(),
            MseConfig::default(),
            Par::Seq
        )
        .and_then(|g| g.predict(
            &[1.0],
            EnsembleTestSet {
                ntk_test_train: k_cross.as_ref(),
                nngp_test_train: k_dup.as_ref(),
                nngp_test_test: None
            }
        )),
        E::ShapeMismatch { .. },
        "test_train"
    );

    // Mercer spectra
    case!(
        c,
        "mercer_eigenvalues",
        "sphere_dim p = 1",
        mercer_eigenvalues(|t| t, MercerConfig::new(1, 4)),
        E::InvalidParameter { .. },
        "sphere_dim"
    );
    case!(
        c,
        "mercer_eigenvalues",
        "quadrature_nodes ≤ max_degree",
        mercer_eigenvalues(
            |t| t,
            MercerConfig {
                quadrature_nodes: 3,
                ..MercerConfig::new(3, 4)
            }
        ),
        E::InvalidParameter { .. },
        "quadrature_nodes"
    );
    case!(
        c,
        "mercer_eigenvalues",
        "κ returns NaN",
        mercer_eigenvalues(|t| (t - 2.0).sqrt(), MercerConfig::new(3, 4)),
        E::NonFinite { .. },
        "kappa"
    );
    case!(
        c,
        "mercer::gegenbauer",
        "p = 1",
        gegenbauer(1, 0.5, &mut [0.0; 4]),
        E::InvalidParameter { .. },
        "sphere_dim"
    );
    case!(
        c,
        "mercer::gegenbauer",
        "t = NaN",
        gegenbauer(3, f64::NAN, &mut [0.0; 4]),
        E::NonFinite { .. } | E::InvalidParameter { .. },
        "t"
    );
    case!(
        c,
        "mercer::multiplicity",
        "p = 1",
        multiplicity(1, 3),
        E::InvalidParameter { .. },
        "sphere_dim"
    );
    case!(
        c,
        "fit_decay_exponent",
        "one usable degree",
        fit_decay_exponent(&[1.0, 0.5, 0.25], 2..=2, Parity::All),
        E::InvalidParameter { .. },
        "degrees"
    );
    case!(
        c,
        "fit_decay_exponent",
        "negative eigenvalue",
        fit_decay_exponent(&[1.0, 0.5, -0.25, 0.1], 1..=3, Parity::All),
        E::InvalidParameter { .. },
        "eigenvalues"
    );

    // Monte Carlo
    case!(
        c,
        "monte_carlo_dual",
        "1 sample",
        kernels::monte_carlo::monte_carlo_dual(&Activation::Relu, 1.0, 1.0, 0.5, 1, 0),
        E::InvalidParameter { .. },
        "n_samples"
    );
    case!(
        c,
        "monte_carlo_dual",
        "q1 = −1",
        kernels::monte_carlo::monte_carlo_dual(&Activation::Relu, -1.0, 1.0, 0.5, 100, 0),
        E::InvalidParameter { .. },
        "q1"
    );
    case!(
        c,
        "monte_carlo_dual",
        "|c| > √(q1 q2)",
        kernels::monte_carlo::monte_carlo_dual(&Activation::Relu, 1.0, 1.0, 2.0, 100, 0),
        E::InvalidParameter { .. },
        "c"
    );
    case!(
        c,
        "monte_carlo_nngp",
        "0 networks",
        kernels::monte_carlo::monte_carlo_nngp(&arch, x.as_ref(), x.as_ref(), 0, 0),
        E::InvalidParameter { .. },
        "n_networks"
    );
    case!(
        c,
        "monte_carlo_nngp",
        "x1 empty",
        kernels::monte_carlo::monte_carlo_nngp(&arch, empty.as_ref(), x.as_ref(), 4, 0),
        E::Empty { .. },
        "x1"
    );
    case!(
        c,
        "monte_carlo_nngp",
        "x1 d=3, x2 d=2",
        kernels::monte_carlo::monte_carlo_nngp(&arch, x.as_ref(), x_dim2.as_ref(), 4, 0),
        E::ShapeMismatch { .. },
        "x2"
    );

    let failures = run_table("ntk-kernels", &c);
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// ntk-nets
// ---------------------------------------------------------------------------------------------

fn small_mlp() -> Mlp {
    Mlp::new(&MlpSpec::uniform(
        3,
        2,
        6,
        Activation::Tanh,
        1.0,
        Some(0.1),
        Parameterization::Ntk,
    ))
    .unwrap()
}

fn two_layer_spec() -> TwoLayerSpec {
    TwoLayerSpec {
        input_dim: 3,
        width: 8,
        activation: Activation::Tanh,
        scaling: Scaling::Lazy,
        alpha: 1.0,
        w_init_std: 1.0,
        second_layer: SecondLayer::Trained,
    }
}

/// The same bad-input rows for any `Model`.
fn model_cases<'a, M: Model>(
    c: &mut Vec<Case<'a>>,
    name: &'static str,
    model: &'a M,
    data: &'a ModelData,
) {
    use nets::Error as E;
    let p = model.n_params();
    let t = &data.theta;
    let _ = p;
    macro_rules! entry {
        ($method:literal) => {
            match name {
                "Mlp" => concat!("Mlp::", $method),
                _ => concat!("TwoLayer::", $method),
            }
        };
    }
    case!(
        c,
        entry!("forward"),
        "θ one entry short",
        model.forward(&t[1..], data.x.as_ref()),
        E::ShapeMismatch { .. },
        "theta"
    );
    case!(
        c,
        entry!("forward"),
        "NaN in θ",
        model.forward(&data.theta_nan, data.x.as_ref()),
        E::NonFinite { .. },
        "theta"
    );
    case!(
        c,
        entry!("forward"),
        "x has d=2, model d=3",
        model.forward(t, data.x_dim2.as_ref()),
        E::ShapeMismatch { .. },
        "x"
    );
    case!(
        c,
        entry!("forward"),
        "x empty",
        model.forward(t, data.empty.as_ref()),
        E::Empty { .. },
        "x"
    );
    case!(
        c,
        entry!("forward"),
        "∞ in x",
        model.forward(t, data.x_inf.as_ref()),
        E::NonFinite { .. },
        "x"
    );
    case!(
        c,
        entry!("loss_and_grad"),
        "y length 3 for 4 points",
        model.loss_and_grad(t, data.x.as_ref(), &data.y[..3], &mut vec![0.0; t.len()]),
        E::ShapeMismatch { .. },
        "y"
    );
    case!(
        c,
        entry!("loss_and_grad"),
        "NaN in y",
        model.loss_and_grad(t, data.x.as_ref(), &data.y_nan, &mut vec![0.0; t.len()]),
        E::NonFinite { .. },
        "y"
    );
    case!(
        c,
        entry!("loss_and_grad"),
        "grad buffer too short",
        model.loss_and_grad(t, data.x.as_ref(), &data.y, &mut vec![0.0; t.len() - 1]),
        E::ShapeMismatch { .. },
        "grad"
    );
    case!(
        c,
        entry!("jacobian"),
        "NaN in x",
        model.jacobian(t, data.x_nan.as_ref()),
        E::NonFinite { .. },
        "x"
    );
    case!(
        c,
        entry!("vjp"),
        "r length 3 for 4 points",
        model.vjp(t, data.x.as_ref(), &data.y[..3]),
        E::ShapeMismatch { .. },
        "r"
    );
    case!(
        c,
        entry!("jvp"),
        "v one entry short",
        model.jvp(t, data.x.as_ref(), &t[1..]),
        E::ShapeMismatch { .. },
        "v"
    );
    case!(
        c,
        entry!("jvp"),
        "NaN in v",
        model.jvp(t, data.x.as_ref(), &data.theta_nan),
        E::NonFinite { .. },
        "v"
    );
    case!(
        c,
        entry!("empirical_ntk"),
        "x1 d=3, x2 d=2",
        model.empirical_ntk(t, data.x.as_ref(), data.x_dim2.as_ref()),
        E::ShapeMismatch { .. },
        "x2"
    );
    case!(
        c,
        entry!("empirical_ntk"),
        "x2 empty",
        model.empirical_ntk(t, data.x.as_ref(), data.empty.as_ref()),
        E::Empty { .. },
        "x2"
    );
    case!(
        c,
        entry!("hvp"),
        "c length 3 for 4 points",
        model.hvp(t, data.x.as_ref(), &data.y[..3], t),
        E::ShapeMismatch { .. },
        "c"
    );
    case!(
        c,
        entry!("hvp"),
        "v one entry short",
        model.hvp(t, data.x.as_ref(), &data.y, &t[1..]),
        E::ShapeMismatch { .. },
        "v"
    );
}

struct ModelData {
    theta: Vec<f64>,
    theta_nan: Vec<f64>,
    x: Mat<f64>,
    x_dim2: Mat<f64>,
    x_nan: Mat<f64>,
    x_inf: Mat<f64>,
    empty: Mat<f64>,
    y: Vec<f64>,
    y_nan: Vec<f64>,
}

fn model_data<M: Model>(model: &M, init: Vec<f64>) -> ModelData {
    let x = Mat::from_fn(4, 3, |i, j| ((i * 3 + j) as f64 * 0.7).sin());
    let mut theta_nan = init.clone();
    let mid = theta_nan.len() / 2;
    theta_nan[mid] = f64::NAN;
    let _ = model;
    ModelData {
        theta: init,
        theta_nan,
        x_nan: with_entry(&x, 3, 1, f64::NAN),
        x_inf: with_entry(&x, 0, 0, f64::NEG_INFINITY),
        x,
        x_dim2: Mat::from_fn(4, 2, |i, j| (i + j) as f64),
        empty: Mat::zeros(0, 3),
        y: vec![0.5, -0.5, 1.0, 0.0],
        y_nan: vec![0.5, f64::NAN, 1.0, 0.0],
    }
}

#[test]
fn nets_bad_input_table() {
    use nets::Error as E;
    let mlp = small_mlp();
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let mlp_data = model_data(&mlp, mlp.init_params(&mut rng));
    let two = TwoLayer::new(two_layer_spec(), &mut rng).unwrap();
    let two_data = model_data(&two, two.init_params(&mut rng));
    let arch = Architecture::mlp(1, 4, Activation::Relu, 1.0, None, Parameterization::Ntk).unwrap();
    let lanczos_cfg = LanczosConfig::default();
    let t = &mlp_data.theta;
    let x = mlp_data.x.as_ref();
    let two_spec = |f: &dyn Fn(&mut TwoLayerSpec)| {
        let mut s = two_layer_spec();
        f(&mut s);
        TwoLayer::new(s, &mut ChaCha8Rng::seed_from_u64(0))
    };
    let spec = |f: &dyn Fn(&mut MlpSpec)| {
        let mut s = MlpSpec::uniform(
            3,
            2,
            6,
            Activation::Tanh,
            1.0,
            Some(0.1),
            Parameterization::Ntk,
        );
        f(&mut s);
        s
    };
    let mut c: Vec<Case<'_>> = Vec::new();
    case!(
        c,
        "Mlp::new",
        "depth 0",
        Mlp::new(&spec(&|s| s.hidden_widths.clear())),
        E::InvalidParameter { .. },
        "depth"
    );
    case!(
        c,
        "Mlp::new",
        "a hidden width 0",
        Mlp::new(&spec(&|s| s.hidden_widths[1] = 0)),
        E::InvalidParameter { .. },
        "hidden_widths"
    );
    case!(
        c,
        "Mlp::new",
        "input_dim 0",
        Mlp::new(&spec(&|s| s.input_dim = 0)),
        E::InvalidParameter { .. },
        "input_dim"
    );
    case!(
        c,
        "Mlp::new",
        "w_std = NaN",
        Mlp::new(&spec(&|s| s.w_std = f64::NAN)),
        E::InvalidParameter { .. },
        "w_std"
    );
    case!(
        c,
        "Mlp::new",
        "b_std = −1",
        Mlp::new(&spec(&|s| s.b_std = Some(-1.0))),
        E::InvalidParameter { .. },
        "b_std"
    );
    case!(
        c,
        "Mlp::new",
        "LeakyReLU α = ∞",
        Mlp::new(&spec(&|s| s.activation = Activation::LeakyRelu {
            alpha: f64::INFINITY
        })),
        E::InvalidParameter { .. },
        "activation"
    );
    case!(
        c,
        "Mlp::from_architecture",
        "input_dim 0",
        Mlp::from_architecture(&arch, 0),
        E::InvalidParameter { .. },
        "input_dim"
    );
    case!(
        c,
        "TwoLayer::new",
        "width 0",
        two_spec(&|s| s.width = 0),
        E::InvalidParameter { .. },
        "width"
    );
    case!(
        c,
        "TwoLayer::new",
        "input_dim 0",
        two_spec(&|s| s.input_dim = 0),
        E::InvalidParameter { .. },
        "input_dim"
    );
    case!(
        c,
        "TwoLayer::new",
        "α = 0",
        two_spec(&|s| s.alpha = 0.0),
        E::InvalidParameter { .. },
        "alpha"
    );
    case!(
        c,
        "TwoLayer::new",
        "α = NaN",
        two_spec(&|s| s.alpha = f64::NAN),
        E::InvalidParameter { .. },
        "alpha"
    );
    case!(
        c,
        "TwoLayer::new",
        "w_init_std = −1",
        two_spec(&|s| s.w_init_std = -1.0),
        E::InvalidParameter { .. },
        "w_init_std"
    );
    case!(
        c,
        "TwoLayer::centred",
        "θ⁰ one entry short",
        TwoLayer::new(two_layer_spec(), &mut ChaCha8Rng::seed_from_u64(0))
            .and_then(|t| t.centred(vec![0.0; 3])),
        E::ShapeMismatch { .. },
        "theta"
    );

    model_cases(&mut c, "Mlp", &mlp, &mlp_data);
    model_cases(&mut c, "TwoLayer", &two, &two_data);

    case!(
        c,
        "Mlp::empirical_nngp",
        "x1 d=3, x2 d=2",
        mlp.empirical_nngp(t, x, mlp_data.x_dim2.as_ref()),
        E::ShapeMismatch { .. },
        "x2"
    );
    case!(
        c,
        "hessian::hessian_norm",
        "x of length 2 for d=3",
        hessian_norm(&mlp, t, &[1.0, 0.0], &lanczos_cfg),
        E::ShapeMismatch { .. },
        "x"
    );
    case!(
        c,
        "hessian::hessian_norm",
        "NaN in x",
        hessian_norm(&mlp, t, &[1.0, f64::NAN, 0.0], &lanczos_cfg),
        E::NonFinite { .. },
        "x"
    );
    case!(
        c,
        "hessian::hessian_norm",
        "Lanczos tol = 0",
        hessian_norm(
            &mlp,
            t,
            &[1.0, 0.0, 0.0],
            &LanczosConfig {
                tol: 0.0,
                ..lanczos_cfg
            }
        ),
        E::InvalidParameter { .. },
        "tol"
    );
    case!(
        c,
        "hessian::hessian_norm",
        "NaN in θ",
        hessian_norm(&mlp, &mlp_data.theta_nan, &[1.0, 0.0, 0.0], &lanczos_cfg),
        E::NonFinite { .. },
        "theta"
    );
    case!(
        c,
        "hessian::jacobian_norm",
        "θ one entry short",
        jacobian_norm(&mlp, &t[1..], &[1.0, 0.0, 0.0]),
        E::ShapeMismatch { .. },
        "theta"
    );
    case!(
        c,
        "hessian::norm_suprema",
        "no probes",
        norm_suprema(&mlp, t, mlp_data.empty.as_ref(), &lanczos_cfg),
        E::Empty { .. },
        "probes"
    );
    case!(
        c,
        "hessian::lazy_ratio",
        "y length 3 for 4 points",
        lazy_ratio(&mlp, t, x, &mlp_data.y[..3], &lanczos_cfg),
        E::ShapeMismatch { .. },
        "y"
    );
    case!(
        c,
        "hessian::lazy_ratio",
        "NaN in y",
        lazy_ratio(&mlp, t, x, &mlp_data.y_nan, &lanczos_cfg),
        E::NonFinite { .. },
        "y"
    );
    case!(
        c,
        "LossHessian::new",
        "x has d=2",
        LossHessian::new(&mlp, t, mlp_data.x_dim2.as_ref(), &mlp_data.y),
        E::ShapeMismatch { .. },
        "x"
    );
    case!(
        c,
        "LossHessian::matvec",
        "v one entry short",
        LossHessian::new(&mlp, t, x, &mlp_data.y).and_then(|h| h.matvec(&t[1..])),
        E::ShapeMismatch { .. },
        "v"
    );
    case!(
        c,
        "lanczos::lanczos",
        "dim 0",
        lanczos(0, |_, _| Ok(()), &lanczos_cfg),
        E::Empty { .. },
        "dim"
    );
    case!(
        c,
        "lanczos::lanczos",
        "tol = NaN",
        lanczos(
            4,
            |v, out| {
                out.copy_from_slice(v);
                Ok(())
            },
            &LanczosConfig {
                tol: f64::NAN,
                ..lanczos_cfg
            }
        ),
        E::InvalidParameter { .. },
        "tol"
    );
    case!(
        c,
        "lanczos::lanczos",
        "max_iter 0",
        lanczos(
            4,
            |v, out| {
                out.copy_from_slice(v);
                Ok(())
            },
            &LanczosConfig {
                max_iter: 0,
                ..lanczos_cfg
            }
        ),
        E::InvalidParameter { .. },
        "max_iter"
    );
    case!(
        c,
        "lanczos::lanczos",
        "n_eigenvalues 0",
        lanczos(
            4,
            |v, out| {
                out.copy_from_slice(v);
                Ok(())
            },
            &LanczosConfig {
                n_eigenvalues: 0,
                ..lanczos_cfg
            }
        ),
        E::InvalidParameter { .. },
        "n_eigenvalues"
    );
    // diag(1..=60): the top Ritz value cannot reach tol 1e-14 within 3 steps (it needs ~20).
    case!(c, "lanczos::lanczos", "iteration limit (3 steps, tol 1e-14)", lanczos(60, |v, out| { for (i, (o, a)) in out.iter_mut().zip(v).enumerate() { *o = (i + 1) as f64 * a; } Ok(()) }, &LanczosConfig { max_iter: 3, tol: 1e-14, ..lanczos_cfg }), E::NotConverged { residual, .. } if residual > 0.0, "residual");
    case!(
        c,
        "lanczos::lanczos",
        "operator returns NaN",
        lanczos(
            4,
            |_, out| {
                out.fill(f64::NAN);
                Ok(())
            },
            &lanczos_cfg
        ),
        E::NonFinite { .. },
        "operator output"
    );
    case!(
        c,
        "monte_carlo_kernel",
        "1 sample",
        monte_carlo_kernel(&mlp, x, x, 1, 0),
        E::InvalidParameter { .. },
        "n_samples"
    );
    case!(
        c,
        "monte_carlo_kernel",
        "x1 d=2",
        monte_carlo_kernel(&mlp, mlp_data.x_dim2.as_ref(), x, 4, 0),
        E::ShapeMismatch { .. },
        "x1"
    );

    let failures = run_table("ntk-nets", &c);
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// ntk-dynamics
// ---------------------------------------------------------------------------------------------

#[test]
fn dynamics_bad_input_table() {
    use dynamics::ode::{FnSystem, integrate, solve};
    use dynamics::{
        AlphaScaled, EtaSweepConfig, FlowConfig, GdConfig, LinearizedFlow, NgdConfig,
        ObserverOptions, PhaseCriteria, SgdConfig, TrajectoryObserver, catapult_gd,
        catapult_recursion, classify, find_eta_max, find_eta_max_toy, gradient_descent,
        gradient_flow, gradient_flow_states, lazy_training_sweep, natural_gradient_descent,
        stochastic_gradient_descent, top_ntk_eigenvalue,
    };
    use dynamics::{Error as E, FlowConfig as Fc};
    let mlp = small_mlp();
    let data = model_data(&mlp, mlp.init_params(&mut ChaCha8Rng::seed_from_u64(3)));
    let (x, y, t0) = (data.x.as_ref(), &data.y[..], &data.theta[..]);
    let cfg = FlowConfig::new(1.0);
    let flow_cfg = |f: &dyn Fn(&mut Fc)| {
        let mut c = FlowConfig::new(1.0);
        f(&mut c);
        c
    };
    let none = |_: f64, _: &[f64]| Ok(());
    let none_gd = |_: usize, _: &[f64], _: f64| Ok(());
    // Linear model with P = 2 parameters and n = 4 points: JJᵀ = XXᵀ has rank 2 (singular).
    let linear = LinearModel { input_dim: 2 };
    let x_lin = mat(&[&[1.0, 0.0], &[0.0, 1.0], &[1.0, 1.0], &[1.0, -1.0]]);
    let y_lin = [1.0, 0.0, -1.0, 0.5];
    let mut c: Vec<Case<'_>> = Vec::new();

    // FlowConfig fields (checked by every integrator entry point)
    let fields: [(&'static str, &'static str, Fc); 9] = [
        ("rtol = 0", "rtol", flow_cfg(&|c| c.rtol = 0.0)),
        ("atol = −1e-10", "atol", flow_cfg(&|c| c.atol = -1e-10)),
        ("t_end = 0", "t_end", flow_cfg(&|c| c.t_end = 0.0)),
        ("t_end = NaN", "t_end", flow_cfg(&|c| c.t_end = f64::NAN)),
        ("max_steps = 0", "max_steps", flow_cfg(&|c| c.max_steps = 0)),
        ("h0 = −0.1", "h0", flow_cfg(&|c| c.h0 = Some(-0.1))),
        ("h_max = 0", "h_max", flow_cfg(&|c| c.h_max = 0.0)),
        ("h_min = −1", "h_min", flow_cfg(&|c| c.h_min = -1.0)),
        (
            "divergence_factor = 1",
            "divergence_factor",
            flow_cfg(&|c| c.divergence_factor = 1.0),
        ),
    ];
    for (input, arg, config) in fields {
        c.push(Case {
            entry: "gradient_flow (FlowConfig)",
            input,
            expected: "E::InvalidParameter { .. }",
            run: Box::new(move || {
                match gradient_flow(
                    &small_mlp(),
                    Mat::from_fn(2, 3, |i, j| (i + j) as f64).as_ref(),
                    &[0.0, 1.0],
                    &vec![0.1; small_mlp().n_params()],
                    &[0.5],
                    &config,
                    |_, _| Ok(()),
                ) {
                    Err(e @ E::InvalidParameter { .. }) if e.to_string().contains(arg) => {
                        Ok(e.to_string())
                    }
                    other => Err(format!("{other:?}")),
                }
            }),
        });
    }
    case!(
        c,
        "gradient_flow",
        "x empty",
        gradient_flow(&mlp, data.empty.as_ref(), &[], t0, &[0.5], &cfg, none),
        E::Empty { .. },
        "x"
    );
    case!(
        c,
        "gradient_flow",
        "y length 3 for 4 points",
        gradient_flow(&mlp, x, &y[..3], t0, &[0.5], &cfg, none),
        E::ShapeMismatch { .. },
        "y"
    );
    case!(
        c,
        "gradient_flow",
        "x has d=2",
        gradient_flow(&mlp, data.x_dim2.as_ref(), y, t0, &[0.5], &cfg, none),
        E::ShapeMismatch { .. },
        "x"
    );
    case!(
        c,
        "gradient_flow",
        "θ one entry short",
        gradient_flow(&mlp, x, y, &t0[1..], &[0.5], &cfg, none),
        E::ShapeMismatch { .. },
        "theta"
    );
    case!(
        c,
        "gradient_flow",
        "NaN in θ",
        gradient_flow(&mlp, x, y, &data.theta_nan, &[0.5], &cfg, none),
        E::NonFinite { .. },
        "theta"
    );
    case!(
        c,
        "gradient_flow",
        "NaN in y",
        gradient_flow(&mlp, x, &data.y_nan, t0, &[0.5], &cfg, none),
        E::NonFinite { .. },
        "y"
    );
    case!(
        c,
        "gradient_flow",
        "∞ in x",
        gradient_flow(&mlp, data.x_inf.as_ref(), y, t0, &[0.5], &cfg, none),
        E::NonFinite { .. },
        "x"
    );
    case!(
        c,
        "gradient_flow_states",
        "times decreasing",
        gradient_flow_states(&mlp, x, y, t0, &[0.5, 0.2], &cfg),
        E::InvalidParameter { .. },
        "times"
    );
    case!(
        c,
        "gradient_flow_states",
        "time beyond t_end",
        gradient_flow_states(&mlp, x, y, t0, &[2.0], &cfg),
        E::InvalidParameter { .. },
        "times"
    );
    case!(
        c,
        "gradient_flow_states",
        "time NaN",
        gradient_flow_states(&mlp, x, y, t0, &[f64::NAN], &cfg),
        E::InvalidParameter { .. },
        "times"
    );
    // y' = y², y(0) = 1 blows up at t = 1: the step collapses before t_end = 2.
    case!(c, "ode::integrate", "finite-time blow-up y' = y² (t_end = 2)", integrate(&mut FnSystem(|_t: f64, y: &[f64], dy: &mut [f64]| { dy[0] = y[0] * y[0]; Ok(()) }), &[1.0], &[2.0], &FlowConfig::new(2.0), none), E::StepSizeTooSmall { t, .. } | E::NonFiniteState { t, .. } if (t - 1.0).abs() < 1e-6, "t = ");
    // Stiff y' = −10⁶ (y − cos t) with explicit steps: needs ~10⁶ steps, budget 50.
    case!(
        c,
        "ode::solve",
        "step budget 50 on a stiff problem",
        solve(
            &mut FnSystem(|t: f64, y: &[f64], dy: &mut [f64]| {
                dy[0] = -1e6 * (y[0] - t.cos());
                Ok(())
            }),
            &[0.0],
            &[1.0],
            &flow_cfg(&|c| c.max_steps = 50)
        ),
        E::MaxStepsReached { max_steps: 50, .. },
        "t = "
    );
    case!(
        c,
        "ode::integrate",
        "y₀ = NaN",
        integrate(
            &mut FnSystem(|_t: f64, y: &[f64], dy: &mut [f64]| {
                dy[0] = -y[0];
                Ok(())
            }),
            &[f64::NAN],
            &[0.5],
            &cfg,
            none
        ),
        E::NonFinite { .. },
        "y0"
    );
    case!(
        c,
        "ode::integrate",
        "y₀ empty",
        integrate(
            &mut FnSystem(|_t: f64, _y: &[f64], _dy: &mut [f64]| Ok(())),
            &[],
            &[0.5],
            &cfg,
            none
        ),
        E::Empty { .. },
        "y0"
    );
    case!(
        c,
        "ode::integrate",
        "RHS returns NaN",
        integrate(
            &mut FnSystem(|_t: f64, _y: &[f64], dy: &mut [f64]| {
                dy[0] = f64::NAN;
                Ok(())
            }),
            &[1.0],
            &[0.5],
            &cfg,
            none
        ),
        E::NonFiniteState { .. } | E::NonFinite { .. },
        "t = "
    );

    // GD / SGD / NGD
    case!(
        c,
        "gradient_descent",
        "learning rate 0",
        gradient_descent(&mlp, x, y, t0, &GdConfig::new(0.0, 5), none_gd),
        E::InvalidParameter { .. },
        "learning_rate"
    );
    case!(
        c,
        "gradient_descent",
        "learning rate NaN",
        gradient_descent(&mlp, x, y, t0, &GdConfig::new(f64::NAN, 5), none_gd),
        E::InvalidParameter { .. },
        "learning_rate"
    );
    case!(
        c,
        "gradient_descent",
        "divergence_factor 0.5",
        gradient_descent(
            &mlp,
            x,
            y,
            t0,
            &GdConfig {
                divergence_factor: 0.5,
                ..GdConfig::new(0.1, 5)
            },
            none_gd
        ),
        E::InvalidParameter { .. },
        "divergence_factor"
    );
    case!(
        c,
        "gradient_descent",
        "y length 3",
        gradient_descent(&mlp, x, &y[..3], t0, &GdConfig::new(0.1, 5), none_gd),
        E::ShapeMismatch { .. },
        "y"
    );
    // Linear model: GD on L = |Xθ − y|²/(2n) diverges for η > 2n/λ_max(XᵀX) = 2·4/6.
    case!(c, "gradient_descent", "η = 10 ≫ 2/λ_max (divergence)", gradient_descent(&linear, x_lin.as_ref(), &y_lin, &[0.0, 0.0], &GdConfig::new(10.0, 200), none_gd), E::Diverged { step, .. } if step > 0, "step");
    case!(
        c,
        "stochastic_gradient_descent",
        "batch size 0",
        stochastic_gradient_descent(&mlp, x, y, t0, &SgdConfig::new(0.1, 0, 5, 0), none_gd),
        E::InvalidParameter { .. },
        "batch_size"
    );
    case!(
        c,
        "stochastic_gradient_descent",
        "batch size 5 > n = 4",
        stochastic_gradient_descent(&mlp, x, y, t0, &SgdConfig::new(0.1, 5, 5, 0), none_gd),
        E::InvalidParameter { .. },
        "batch_size"
    );
    case!(
        c,
        "stochastic_gradient_descent",
        "learning rate −0.1",
        stochastic_gradient_descent(&mlp, x, y, t0, &SgdConfig::new(-0.1, 2, 5, 0), none_gd),
        E::InvalidParameter { .. },
        "learning_rate"
    );
    case!(
        c,
        "natural_gradient_descent",
        "damping −1",
        natural_gradient_descent(&mlp, x, y, t0, &NgdConfig::new(0.5, -1.0, 5), none_gd),
        E::InvalidParameter { .. },
        "damping"
    );
    case!(
        c,
        "natural_gradient_descent",
        "n = 4 > P = 2, damping 0 (singular JJᵀ)",
        natural_gradient_descent(
            &linear,
            x_lin.as_ref(),
            &y_lin,
            &[0.1, 0.2],
            &NgdConfig::new(0.5, 0.0, 5),
            none_gd
        ),
        E::NotPositiveDefinite { .. },
        "lambda_min"
    );

    // linearized model
    case!(
        c,
        "LinearizedFlow::new",
        "θ one entry short",
        LinearizedFlow::new(&mlp, x, y, &t0[1..]),
        E::ShapeMismatch { .. },
        "theta"
    );
    case!(
        c,
        "LinearizedFlow::new",
        "x empty",
        LinearizedFlow::new(&mlp, data.empty.as_ref(), &[], t0),
        E::Empty { .. },
        "x"
    );
    case!(
        c,
        "LinearizedFlow::outputs",
        "t = −1",
        LinearizedFlow::new(&mlp, x, y, t0).and_then(|l| l.outputs(-1.0)),
        E::InvalidParameter { .. },
        "t"
    );
    case!(
        c,
        "LinearizedFlow::params",
        "t = NaN",
        LinearizedFlow::new(&mlp, x, y, t0).and_then(|l| l.params(f64::NAN)),
        E::InvalidParameter { .. },
        "t"
    );
    case!(
        c,
        "LinearizedFlow::predict",
        "x_test has d=2",
        LinearizedFlow::new(&mlp, x, y, t0).and_then(|l| l.predict(
            &mlp,
            data.x_dim2.as_ref(),
            1.0
        )),
        E::Model(nets::Error::ShapeMismatch { .. }),
        "x"
    );
    case!(
        c,
        "LinearizedFlow::gd_outputs",
        "learning rate 0",
        LinearizedFlow::new(&mlp, x, y, t0).and_then(|l| l.gd_outputs(0.0, 3)),
        E::InvalidParameter { .. },
        "learning_rate"
    );
    case!(
        c,
        "TrajectoryObserver::new",
        "y length 3",
        TrajectoryObserver::new(&mlp, x, &y[..3], t0, ObserverOptions::default()),
        E::ShapeMismatch { .. },
        "y"
    );
    case!(
        c,
        "TrajectoryObserver::record",
        "θ one entry short",
        TrajectoryObserver::new(&mlp, x, y, t0, ObserverOptions::default())
            .and_then(|mut o| o.record(0.5, &t0[1..])),
        E::ShapeMismatch { .. } | E::Model(nets::Error::ShapeMismatch { .. }),
        "theta"
    );
    case!(
        c,
        "AlphaScaled::new",
        "α = 0",
        AlphaScaled::new(&mlp, t0, 0.0),
        E::InvalidParameter { .. },
        "alpha"
    );
    case!(
        c,
        "lazy_training_sweep",
        "no α",
        lazy_training_sweep(&mlp, x, y, t0, x, &[], &cfg),
        E::Empty { .. },
        "alphas"
    );
    case!(
        c,
        "lazy_training_sweep",
        "α = −1",
        lazy_training_sweep(&mlp, x, y, t0, x, &[-1.0], &cfg),
        E::InvalidParameter { .. },
        "alpha"
    );

    // catapult
    case!(
        c,
        "catapult_recursion",
        "learning rate 0",
        catapult_recursion(1.0, 1.0, 0.0, 0.0, 100, 10),
        E::InvalidParameter { .. },
        "learning_rate"
    );
    case!(
        c,
        "catapult_recursion",
        "λ₀ = −1",
        catapult_recursion(1.0, -1.0, 0.0, 0.5, 100, 10),
        E::InvalidParameter { .. },
        "lambda0"
    );
    case!(
        c,
        "catapult_recursion",
        "width 0",
        catapult_recursion(1.0, 1.0, 0.0, 0.5, 0, 10),
        E::InvalidParameter { .. },
        "width"
    );
    case!(
        c,
        "catapult_recursion",
        "Δf₀ = NaN",
        catapult_recursion(f64::NAN, 1.0, 0.0, 0.5, 100, 10),
        E::NonFinite { .. },
        "delta_f0"
    );
    case!(
        c,
        "catapult_gd",
        "u₀ empty",
        catapult_gd(&[], &[], 0.0, 0.5, 10),
        E::Empty { .. },
        "u0"
    );
    case!(
        c,
        "catapult_gd",
        "len(v₀) ≠ len(u₀)",
        catapult_gd(&[1.0, 0.5], &[1.0], 0.0, 0.5, 10),
        E::ShapeMismatch { .. },
        "v0"
    );
    case!(
        c,
        "catapult_gd",
        "NaN in u₀",
        catapult_gd(&[1.0, f64::NAN], &[1.0, 0.5], 0.0, 0.5, 10),
        E::NonFinite { .. },
        "u0"
    );
    case!(
        c,
        "classify",
        "no losses",
        classify(&[], 5, &PhaseCriteria::default()),
        E::Empty { .. },
        "losses"
    );
    case!(
        c,
        "find_eta_max_toy",
        "bisection tolerance 0",
        find_eta_max_toy(
            0.5,
            1.0,
            0.0,
            100,
            &EtaSweepConfig {
                tolerance: 0.0,
                ..EtaSweepConfig::new(50)
            }
        ),
        E::InvalidParameter { .. },
        "tolerance"
    );
    case!(
        c,
        "find_eta_max_toy",
        "bracket lower ≥ upper",
        find_eta_max_toy(
            0.5,
            1.0,
            0.0,
            100,
            &EtaSweepConfig {
                lower: 4.0,
                upper: 2.0,
                ..EtaSweepConfig::new(50)
            }
        ),
        E::InvalidParameter { .. },
        "lower"
    );
    case!(
        c,
        "find_eta_max",
        "NaN in θ",
        find_eta_max(&mlp, x, y, &data.theta_nan, &EtaSweepConfig::new(20)),
        E::NonFinite { .. },
        "theta"
    );
    case!(
        c,
        "top_ntk_eigenvalue",
        "x empty",
        top_ntk_eigenvalue(&mlp, data.empty.as_ref(), t0),
        E::Empty { .. },
        "x"
    );

    let failures = run_table("ntk-dynamics", &c);
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// ntk-bounds
// ---------------------------------------------------------------------------------------------

#[test]
fn bounds_bad_input_table() {
    use bounds::Error as E;
    use bounds::concentration::{
        kernel_concentration_error, kernel_concentration_error_eigen, montanari_zhong_rate,
    };
    use bounds::generalization::{
        arora_complexity, arora_theorem_5_1, cao_gu_ntrf, rkhs_norm_squared,
    };
    use bounds::gram::h_infinity;
    use bounds::lambda_min::{
        LambdaMinConfig, condition_number, lambda_min_bisection, lambda_min_eigen,
        lambda_min_lanczos,
    };
    use bounds::rademacher::{
        empirical_rademacher_rkhs_ball, rkhs_ball_trace_bound, two_layer_rademacher_bound,
    };
    use bounds::separation::{
        data_separation, require_separated, separation_lambda0_lower_bound,
        zhang_lambda0_lower_bound,
    };
    use bounds::test_models::random_sphere;
    use bounds::width::{
        FixedPointConfig, ZouGuProblem, arora_ntk_width, looseness_factor, solve_width_log_cubed,
        zhang_ngd_width, zou_gu_gd, zou_gu_sgd,
    };
    let x = random_sphere(6, 4, 1);
    let h = h_infinity(x.as_ref()).unwrap();
    let mut x_dup = x.clone();
    for j in 0..4 {
        x_dup[(1, j)] = x_dup[(0, j)];
    }
    let h_dup = h_infinity(x_dup.as_ref()).unwrap();
    let y = [1.0, -1.0, 1.0, -1.0, 1.0, 1.0];
    let indefinite = mat(&[&[1.0, 2.0], &[2.0, 1.0]]);
    let asym = mat(&[&[2.0, 1.0], &[0.0, 2.0]]);
    let rect = Mat::<f64>::zeros(2, 3);
    let empty = Mat::<f64>::zeros(0, 0);
    let lm = LambdaMinConfig::default();
    let zg = ZouGuProblem {
        n_samples: 10,
        n_layers: 2,
        n_outputs: 1,
        phi: 0.5,
        epsilon: 0.1,
        constant: 1.0,
    };
    let fp = FixedPointConfig::default();
    let dir = tempfile::tempdir().unwrap();
    let not_gzip = dir.path().join("digits.csv.gz");
    std::fs::write(&not_gzip, "1,2,3\n").unwrap();
    let short_rows = dir.path().join("short.csv.gz");
    {
        use std::io::Write;
        let file = std::fs::File::create(&short_rows).unwrap();
        let mut gz = flate2::write::GzEncoder::new(file, flate2::Compression::default());
        gz.write_all(b"1,2,3,0\n").unwrap();
        gz.finish().unwrap();
    }
    let digits = Digits::load_bundled().unwrap();
    let pair = digits.two_class(0, 1).unwrap();
    let mut c: Vec<Case<'_>> = Vec::new();

    case!(
        c,
        "lambda_min_eigen",
        "empty matrix",
        lambda_min_eigen(empty.as_ref(), Par::Seq),
        E::Empty { .. },
        "k"
    );
    case!(
        c,
        "lambda_min_eigen",
        "2×3 matrix",
        lambda_min_eigen(rect.as_ref(), Par::Seq),
        E::ShapeMismatch { .. },
        "k"
    );
    case!(
        c,
        "lambda_min_eigen",
        "non-symmetric",
        lambda_min_eigen(asym.as_ref(), Par::Seq),
        E::NotSymmetric { .. },
        "k"
    );
    case!(
        c,
        "lambda_min_eigen",
        "NaN entry",
        lambda_min_eigen(with_entry(&h, 2, 2, f64::NAN).as_ref(), Par::Seq),
        E::NonFinite { .. },
        "k"
    );
    case!(
        c,
        "condition_number",
        "duplicate points (singular H∞)",
        condition_number(h_dup.as_ref(), Par::Seq),
        E::NotPositiveDefinite { .. },
        "lambda_min"
    );
    case!(c, "condition_number", "indefinite", condition_number(indefinite.as_ref(), Par::Seq), E::NotPositiveDefinite { lambda_min } if lambda_min < 0.0, "lambda_min = -1");
    case!(
        c,
        "lambda_min_bisection",
        "rel_tol 0",
        lambda_min_bisection(h.as_ref(), &LambdaMinConfig { rel_tol: 0.0, ..lm }),
        E::InvalidParameter { .. },
        "rel_tol"
    );
    case!(c, "lambda_min_bisection", "iteration limit 2", lambda_min_bisection(h.as_ref(), &LambdaMinConfig { max_iter: 2, ..lm }), E::NotConverged { residual, .. } if residual > 0.0, "residual");
    case!(c, "lambda_min_lanczos", "iteration limit 1", lambda_min_lanczos(h.as_ref(), &LambdaMinConfig { max_iter: 1, ..lm }), E::NotConverged { residual, .. } if residual > 0.0, "residual");
    case!(
        c,
        "lambda_min_lanczos",
        "non-symmetric",
        lambda_min_lanczos(asym.as_ref(), &lm),
        E::NotSymmetric { .. },
        "k"
    );
    case!(
        c,
        "rkhs_norm_squared",
        "duplicate points (singular)",
        rkhs_norm_squared(h_dup.as_ref(), &y, Par::Seq),
        E::NotPositiveDefinite { .. },
        "lambda_min"
    );
    case!(
        c,
        "rkhs_norm_squared",
        "indefinite",
        rkhs_norm_squared(indefinite.as_ref(), &[1.0, 1.0], Par::Seq),
        E::NotPositiveDefinite { .. },
        "lambda_min"
    );
    case!(
        c,
        "rkhs_norm_squared",
        "y length 5 for 6×6 K",
        rkhs_norm_squared(h.as_ref(), &y[..5], Par::Seq),
        E::ShapeMismatch { .. },
        "y"
    );
    case!(
        c,
        "arora_complexity",
        "NaN in y",
        arora_complexity(h.as_ref(), &[1.0, f64::NAN, 1.0, 1.0, 1.0, 1.0], Par::Seq),
        E::NonFinite { .. },
        "y"
    );
    case!(
        c,
        "arora_theorem_5_1",
        "δ = 0",
        arora_theorem_5_1(h.as_ref(), &y, 0.0, 0.0, Par::Seq),
        E::InvalidParameter { .. },
        "delta"
    );
    case!(
        c,
        "arora_theorem_5_1",
        "δ = NaN",
        arora_theorem_5_1(h.as_ref(), &y, f64::NAN, 0.0, Par::Seq),
        E::InvalidParameter { .. },
        "delta"
    );
    case!(
        c,
        "arora_theorem_5_1",
        "ε = −1",
        arora_theorem_5_1(h.as_ref(), &y, 0.05, -1.0, Par::Seq),
        E::InvalidParameter { .. },
        "epsilon"
    );
    case!(
        c,
        "cao_gu_ntrf",
        "L = 0 layers",
        cao_gu_ntrf(h.as_ref(), &y, 0, 0.1, Par::Seq),
        E::InvalidParameter { .. },
        "n_layers"
    );
    case!(
        c,
        "cao_gu_ntrf",
        "δ = 0.5 > 1/e",
        cao_gu_ntrf(h.as_ref(), &y, 2, 0.5, Par::Seq),
        E::InvalidParameter { .. },
        "delta"
    );
    case!(
        c,
        "two_layer_rademacher_bound",
        "A = −1",
        two_layer_rademacher_bound(-1.0, 1.0, 10, 10, 0.1, 1.0),
        E::InvalidParameter { .. },
        "a"
    );
    case!(
        c,
        "two_layer_rademacher_bound",
        "n = 0 samples",
        two_layer_rademacher_bound(1.0, 1.0, 0, 10, 0.1, 1.0),
        E::InvalidParameter { .. },
        "n_samples"
    );
    case!(
        c,
        "two_layer_rademacher_bound",
        "width 0",
        two_layer_rademacher_bound(1.0, 1.0, 10, 0, 0.1, 1.0),
        E::InvalidParameter { .. },
        "width"
    );
    case!(
        c,
        "two_layer_rademacher_bound",
        "κ = 0",
        two_layer_rademacher_bound(1.0, 1.0, 10, 10, 0.1, 0.0),
        E::InvalidParameter { .. },
        "kappa"
    );
    case!(
        c,
        "two_layer_rademacher_bound",
        "δ = 1.5",
        two_layer_rademacher_bound(1.0, 1.0, 10, 10, 1.5, 1.0),
        E::InvalidParameter { .. },
        "delta"
    );
    case!(
        c,
        "rkhs_ball_trace_bound",
        "radius 0",
        rkhs_ball_trace_bound(h.as_ref(), 0.0),
        E::InvalidParameter { .. },
        "radius"
    );
    case!(
        c,
        "empirical_rademacher_rkhs_ball",
        "1 sample",
        empirical_rademacher_rkhs_ball(h.as_ref(), 1.0, 1, 0),
        E::InvalidParameter { .. },
        "n_samples"
    );
    case!(
        c,
        "empirical_rademacher_rkhs_ball",
        "non-square K",
        empirical_rademacher_rkhs_ball(rect.as_ref(), 1.0, 10, 0),
        E::ShapeMismatch { .. },
        "k"
    );
    case!(
        c,
        "kernel_concentration_error",
        "K 6×6, K_N 2×2",
        kernel_concentration_error(h.as_ref(), indefinite.as_ref(), Par::Seq),
        E::ShapeMismatch { .. },
        "k_finite"
    );
    case!(
        c,
        "kernel_concentration_error",
        "singular K",
        kernel_concentration_error(h_dup.as_ref(), h.as_ref(), Par::Seq),
        E::NotPositiveDefinite { .. },
        "lambda_min"
    );
    case!(
        c,
        "kernel_concentration_error_eigen",
        "singular K",
        kernel_concentration_error_eigen(h_dup.as_ref(), h.as_ref(), Par::Seq),
        E::NotPositiveDefinite { .. },
        "lambda_min"
    );
    case!(
        c,
        "montanari_zhong_rate",
        "N = 0 features",
        montanari_zhong_rate(10, 5, 0),
        E::InvalidParameter { .. },
        "n_features"
    );
    case!(
        c,
        "data_separation",
        "one point",
        data_separation(x.as_ref().subrows(0, 1)),
        E::InvalidParameter { .. } | E::Empty { .. },
        "x"
    );
    case!(
        c,
        "data_separation",
        "NaN in x",
        data_separation(with_entry(&x, 0, 0, f64::NAN).as_ref()),
        E::NonFinite { .. },
        "x"
    );
    case!(
        c,
        "require_separated",
        "duplicate points",
        require_separated(x_dup.as_ref()),
        E::ParallelInputs {
            first: 0,
            second: 1,
            ..
        },
        "parallel"
    );
    case!(
        c,
        "require_separated",
        "antiparallel points x, −x",
        require_separated(mat(&[&[0.6, 0.8], &[-0.6, -0.8], &[1.0, 0.0]]).as_ref()),
        E::ParallelInputs { .. },
        "separation"
    );
    case!(
        c,
        "separation_lambda0_lower_bound",
        "φ = 0",
        separation_lambda0_lower_bound(0.0, 10, 0.01),
        E::InvalidParameter { .. },
        "phi"
    );
    case!(
        c,
        "zhang_lambda0_lower_bound",
        "β = 0.7",
        zhang_lambda0_lower_bound(10, 0.7),
        E::InvalidParameter { .. },
        "beta"
    );
    case!(
        c,
        "solve_width_log_cubed",
        "A = 0",
        solve_width_log_cubed(0.0, &fp),
        E::InvalidParameter { .. },
        "a"
    );
    case!(c, "solve_width_log_cubed", "iteration limit 1", solve_width_log_cubed(1e30, &FixedPointConfig { max_iter: 1, ..fp }), E::NotConverged { residual, .. } if residual > 0.0, "residual");
    case!(
        c,
        "arora_ntk_width",
        "ε = 0",
        arora_ntk_width(2, 0.0, 0.1, 1.0),
        E::InvalidParameter { .. },
        "epsilon"
    );
    case!(
        c,
        "arora_ntk_width",
        "L = 0",
        arora_ntk_width(0, 0.1, 0.1, 1.0),
        E::InvalidParameter { .. },
        "n_layers"
    );
    case!(
        c,
        "zou_gu_gd",
        "φ = 0",
        zou_gu_gd(&ZouGuProblem { phi: 0.0, ..zg }, &fp),
        E::InvalidParameter { .. },
        "phi"
    );
    case!(
        c,
        "zou_gu_gd",
        "ε = 1.5",
        zou_gu_gd(&ZouGuProblem { epsilon: 1.5, ..zg }, &fp),
        E::InvalidParameter { .. },
        "epsilon"
    );
    case!(
        c,
        "zou_gu_sgd",
        "batch size 0",
        zou_gu_sgd(&zg, 0, &fp),
        E::InvalidParameter { .. },
        "batch_size"
    );
    case!(
        c,
        "zhang_ngd_width",
        "λ₀ = 0",
        zhang_ngd_width(10, 0.1, 0.0, 0.1, 1.0),
        E::NotPositiveDefinite { .. },
        "lambda_min = 0"
    );
    case!(
        c,
        "looseness_factor",
        "observed width 0",
        looseness_factor(100.0, 0.0),
        E::InvalidParameter { .. },
        "observed_width"
    );
    case!(
        c,
        "Digits::load",
        "missing file",
        Digits::load(&dir.path().join("missing.csv.gz")),
        E::Io { .. },
        "missing.csv.gz"
    );
    case!(
        c,
        "Digits::load",
        "not gzip",
        Digits::load(&not_gzip),
        E::Io { .. },
        "digits.csv.gz"
    );
    case!(
        c,
        "Digits::load",
        "rows with 4 fields",
        Digits::load(&short_rows),
        E::Io { .. },
        "expected 65 fields"
    );
    case!(
        c,
        "Digits::two_class",
        "same digit twice",
        digits.two_class(3, 3),
        E::InvalidParameter { .. },
        "positive/negative"
    );
    case!(
        c,
        "Digits::two_class",
        "digit 11",
        digits.two_class(11, 0),
        E::InvalidParameter { .. },
        "positive/negative"
    );
    case!(
        c,
        "BinaryDataset::with_label_noise",
        "p = 1.5",
        pair.with_label_noise(1.5, 0),
        E::InvalidParameter { .. },
        "p"
    );
    case!(
        c,
        "BinaryDataset::train_test_split",
        "test fraction 0",
        pair.train_test_split(0.0, 0),
        E::InvalidParameter { .. },
        "test_fraction"
    );
    case!(
        c,
        "digits::normalize_rows",
        "a zero row",
        bounds::digits::normalize_rows(&with_entry(&Mat::<f64>::zeros(2, 2), 0, 0, 1.0)),
        E::ZeroNorm { index: 1, .. },
        "zero norm"
    );
    case!(
        c,
        "gram::h_infinity",
        "NaN in x",
        h_infinity(mat(&[&[1.0, 0.0], &[f64::NAN, 0.0]]).as_ref()),
        E::NonFinite { .. },
        "x"
    );

    let failures = run_table("ntk-bounds", &c);
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// Extreme but valid inputs: whatever comes back is finite (or a typed error, never NaN).
// ---------------------------------------------------------------------------------------------

fn all_finite(values: MatRef<'_, f64>) -> bool {
    (0..values.nrows()).all(|i| (0..values.ncols()).all(|j| values[(i, j)].is_finite()))
}

#[test]
fn extreme_valid_inputs_give_finite_values_or_typed_errors() {
    use kernels::random_features::random_feature_kernels;
    let arch =
        |act| Architecture::mlp(3, 8, act, 1.5, Some(0.1), Parameterization::Standard).unwrap();
    let acts = [
        Activation::Relu,
        Activation::Erf,
        Activation::Gelu,
        Activation::Tanh,
        Activation::Softplus,
        Activation::Sin,
    ];
    // Scales from denormal to 1e150 (|x|² stays below f64::MAX); points identical, antipodal,
    // nearly parallel (angle 1e-9) and zero.
    let mut failures = Vec::new();
    for scale in [1e-300, 1e-150, 1e-8, 1.0, 1e8, 1e150] {
        let x = Mat::from_fn(5, 2, |i, j| {
            let rows = [[1.0, 0.0], [1.0, 0.0], [-1.0, 0.0], [1.0, 1e-9], [0.0, 0.0]];
            scale * rows[i][j]
        });
        for act in acts {
            let arch = arch(act);
            let outcome = catch_unwind(AssertUnwindSafe(|| {
                kernel(&arch, x.as_ref(), None, Get::BOTH).map(|k| {
                    all_finite(k.nngp.as_ref().unwrap().as_ref())
                        && all_finite(k.ntk.as_ref().unwrap().as_ref())
                })
            }));
            match outcome {
                Ok(Ok(true)) | Ok(Err(_)) => {}
                Ok(Ok(false)) => failures.push(format!("kernel {act:?} scale {scale}: non-finite")),
                Err(_) => failures.push(format!("kernel {act:?} scale {scale}: panic")),
            }
            let outcome = catch_unwind(AssertUnwindSafe(|| {
                random_feature_kernels(&act, x.as_ref(), x.as_ref(), Par::Seq)
                    .map(|k| all_finite(k.rf.as_ref()) && all_finite(k.nt.as_ref()))
            }));
            match outcome {
                Ok(Ok(true)) | Ok(Err(_)) => {}
                Ok(Ok(false)) => failures.push(format!("rf {act:?} scale {scale}: non-finite")),
                Err(_) => failures.push(format!("rf {act:?} scale {scale}: panic")),
            }
        }
    }
    // Inputs whose squared norm overflows (1e200² = ∞) must not come back as NaN.
    let huge = Mat::from_fn(2, 2, |i, j| if i == j { 1e200 } else { 0.0 });
    for act in acts {
        match catch_unwind(AssertUnwindSafe(|| {
            kernel(&arch(act), huge.as_ref(), None, Get::BOTH)
        })) {
            Ok(Ok(k)) if !all_finite(k.ntk.as_ref().unwrap().as_ref()) => {
                failures.push(format!("kernel {act:?} at |x| = 1e200: non-finite Ok"))
            }
            Err(_) => failures.push(format!("kernel {act:?} at |x| = 1e200: panic")),
            _ => {}
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
