//! Measures how ‖∇²θ f(x)‖, ‖∇θ f(x)‖ and the lazy ratio κ of the two-layer network
//! f(x) = (1/√m) Σᵢ aᵢ σ(wᵢᵀx) scale with the width m (see docs/nets.md for the derivation).
//! Run: `cargo run --release -p ntk-nets --example hessian_exponent`.

use faer::Mat;
use ntk_kernels::Activation;
use ntk_nets::hessian::{lazy_ratio, norm_suprema};
use ntk_nets::lanczos::LanczosConfig;
use ntk_nets::test_models::gaussian_matrix;
use ntk_nets::{Scaling, SecondLayer, TwoLayer, TwoLayerSpec};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn slope(xs: &[f64], ys: &[f64]) -> f64 {
    let n = xs.len() as f64;
    let (mx, my) = (xs.iter().sum::<f64>() / n, ys.iter().sum::<f64>() / n);
    xs.iter()
        .zip(ys)
        .map(|(x, y)| (x - mx) * (y - my))
        .sum::<f64>()
        / xs.iter().map(|x| (x - mx).powi(2)).sum::<f64>()
}

fn main() -> Result<(), ntk_nets::Error> {
    let d = 10;
    let widths = [64usize, 256, 1024, 4096];
    let seeds = 3;
    let config = LanczosConfig {
        tol: 1e-4,
        max_iter: 1000,
        ..Default::default()
    };
    for activation in [Activation::Tanh, Activation::Relu] {
        for second_layer in [SecondLayer::Trained, SecondLayer::FixedSigns] {
            let (mut log_m, mut log_h, mut log_j, mut log_k) = (vec![], vec![], vec![], vec![]);
            println!("{activation:?}, {second_layer:?}");
            for &m in &widths {
                let (mut h, mut j, mut k) = (0.0, 0.0, 0.0);
                for seed in 0..seeds {
                    let mut rng = ChaCha8Rng::seed_from_u64(1000 * m as u64 + seed);
                    let spec = TwoLayerSpec {
                        input_dim: d,
                        width: m,
                        activation,
                        scaling: Scaling::Lazy,
                        alpha: 1.0,
                        w_init_std: 1.0,
                        second_layer,
                    };
                    let model = TwoLayer::new(spec, &mut rng)?;
                    let theta = model.init_params(&mut rng);
                    // 8 probes on the unit sphere.
                    let raw = gaussian_matrix(&mut rng, 8, d, 1.0);
                    let probes = Mat::from_fn(8, d, |i, c| {
                        raw[(i, c)] / (0..d).map(|t| raw[(i, t)].powi(2)).sum::<f64>().sqrt()
                    });
                    let sup = norm_suprema(&model, &theta, probes.as_ref(), &config)?;
                    let y = vec![1.0; 8];
                    let lazy = lazy_ratio(&model, &theta, probes.as_ref(), &y, &config)?;
                    h += sup.hessian / seeds as f64;
                    j += sup.jacobian / seeds as f64;
                    k += lazy.kappa / seeds as f64;
                }
                println!("  m = {m:5}: sup‖∇²f‖ = {h:.4e}, sup‖∇f‖ = {j:.4}, κ = {k:.4e}");
                log_m.push((m as f64).ln());
                log_h.push(h.max(1e-300).ln());
                log_j.push(j.ln());
                log_k.push(k.max(1e-300).ln());
            }
            println!(
                "  fitted exponents: Hessian norm {:.3}, Jacobian norm {:.3}, κ {:.3}",
                slope(&log_m, &log_h),
                slope(&log_m, &log_j),
                slope(&log_m, &log_k)
            );
        }
    }
    Ok(())
}
