//! Prints the numbers recorded in docs/bounds.md: the label-noise sweep on digits, λ₀ against
//! its separation lower bound, and finite-N kernel concentration against √((n+d)/(Nd)).

use faer::Par;
use ntk_bounds::concentration::{kernel_concentration_error, montanari_zhong_rate};
use ntk_bounds::digits::Digits;
use ntk_bounds::gram::h_infinity;
use ntk_bounds::label_noise::{LabelNoiseConfig, label_noise_sweep};
use ntk_bounds::lambda_min::{LambdaMinConfig, lambda_min_eigen, lambda_min_lanczos};
use ntk_bounds::separation::{
    OYMAK_SOLTANOLKOTABI_CONSTANT, data_separation, separation_lambda0_lower_bound,
};
use ntk_bounds::test_models::random_sphere;
use ntk_kernels::Activation;
use ntk_kernels::random_features::{RandomFeatures, random_feature_kernels};

fn main() -> Result<(), ntk_bounds::Error> {
    let digits = Digits::load_bundled()?;
    for (positive, negative) in [(0u8, 1u8), (3, 8)] {
        let config = LabelNoiseConfig {
            positive,
            negative,
            noise_levels: vec![0.0, 0.2, 0.4, 0.6],
            test_fraction: 0.3,
            max_train: None,
            delta: 0.05,
            seed: 2019,
        };
        println!("digits {positive}-vs-{negative}");
        for p in label_noise_sweep(&digits, &config, Par::Seq)? {
            println!(
                "| {:.1} | {} | {} | {:.4} | {:.4} | {:.4} |",
                p.p, p.n_train, p.n_test, p.bound.complexity, p.bound.total, p.test_error
            );
        }
        let data = digits.two_class(positive, negative)?;
        let h = h_infinity(data.x.as_ref())?;
        let lambda0 = lambda_min_eigen(h.as_ref(), Par::Seq)?;
        let phi = data_separation(data.x.as_ref())?.value;
        let n = data.len();
        let bound = separation_lambda0_lower_bound(phi, n, OYMAK_SOLTANOLKOTABI_CONSTANT)?;
        println!(
            "n={n} lambda0={lambda0:.4e} phi={phi:.4} bound={bound:.4e} slack={:.1}",
            lambda0 / bound
        );
    }
    for (n, d) in [(50usize, 5usize), (200, 10), (400, 20)] {
        let x = random_sphere(n, d, 1);
        let h = h_infinity(x.as_ref())?;
        let lambda0 = lambda_min_eigen(h.as_ref(), Par::Seq)?;
        let lan = lambda_min_lanczos(h.as_ref(), &LambdaMinConfig::default())?;
        let phi = data_separation(x.as_ref())?.value;
        let bound = separation_lambda0_lower_bound(phi, n, OYMAK_SOLTANOLKOTABI_CONSTANT)?;
        println!(
            "sphere n={n} d={d}: lambda0={lambda0:.4e} (lanczos {:.4e}, {} steps) phi={phi:.4} bound={bound:.3e} slack={:.1}",
            lan.lambda_min,
            lan.iterations,
            lambda0 / bound
        );
    }
    for (n, d) in [(40usize, 10usize), (100, 10), (100, 40)] {
        let x = random_sphere(n, d, 2);
        let k = random_feature_kernels(&Activation::Relu, x.as_ref(), x.as_ref(), Par::Seq)?;
        for big_n in [1_000usize, 4_000, 16_000] {
            let kn = RandomFeatures::from_seed(big_n, d, 3)?.kernels(
                &Activation::Relu,
                x.as_ref(),
                x.as_ref(),
                Par::Seq,
            )?;
            let rate = montanari_zhong_rate(n, d, big_n)?;
            let err_rf = kernel_concentration_error(k.rf.as_ref(), kn.rf.as_ref(), Par::Seq)?;
            let err_nt = kernel_concentration_error(k.nt.as_ref(), kn.nt.as_ref(), Par::Seq)?;
            println!(
                "| {n} | {d} | {big_n} | {err_rf:.4} | {err_nt:.4} | {rate:.4} | {:.2} | {:.2} |",
                err_rf / rate,
                err_nt / rate
            );
        }
    }
    Ok(())
}
