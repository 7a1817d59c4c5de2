//! Analytic ReLU NNGP+NTK (3 hidden layers + readout, d = 64) against a faer GEMM baseline, and
//! the t = ∞ NTK-GP prediction (validate + copy Θ, Cholesky, solve) against a bare faer
//! copy + Cholesky of the same matrix.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::cholesky::llt::factor::{cholesky_in_place, cholesky_in_place_scratch};
use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, Par};
use ntk_kernels::analytic::{Get, kernel};
use ntk_kernels::regression::{GradientDescentMse, MseConfig, TestSet};
use ntk_kernels::{Activation, Architecture, Parameterization};
use std::hint::black_box;

/// The anchor inputs: x[i][j] = sin(0.7(i+1) + 1.3(j+1)) + 0.1 cos(2.1(i+1)(j+1)).
fn inputs(n: usize, d: usize) -> Mat<f64> {
    Mat::from_fn(n, d, |i, j| {
        let (a, b) = ((i + 1) as f64, (j + 1) as f64);
        (0.7 * a + 1.3 * b).sin() + 0.1 * (2.1 * a * b).cos()
    })
}

fn bench(c: &mut Criterion) {
    let d = 64;
    let mut group = c.benchmark_group("analytic_kernel");
    group.sample_size(10);
    for act in [Activation::Relu, Activation::Erf] {
        let arch =
            Architecture::mlp(3, 512, act, 2f64.sqrt(), Some(0.05), Parameterization::Ntk).unwrap();
        for n in [1000, 4000] {
            let x = inputs(n, d);
            group.bench_function(
                BenchmarkId::new(format!("ntk_{}", act.name()), format!("L3-n{n}-d{d}")),
                |b| b.iter(|| black_box(kernel(&arch, x.as_ref(), None, Get::BOTH).unwrap())),
            );
        }
    }
    // Baseline: an n×n×n GEMM (2n³ flops) at n = 1000, measured in the same run.
    let n = 1000;
    let a = inputs(n, n);
    let mut out = Mat::<f64>::zeros(n, n);
    group.bench_function(BenchmarkId::new("gemm_faer", format!("n{n}")), |b| {
        b.iter(|| {
            matmul(
                out.as_mut(),
                Accum::Replace,
                a.as_ref(),
                a.as_ref(),
                1.0,
                Par::rayon(0),
            );
            black_box(&out);
        })
    });
    group.finish();
}

fn bench_predict(c: &mut Criterion) {
    let (n, m, d) = (2000, 200, 64);
    let arch = Architecture::mlp(
        3,
        512,
        Activation::Relu,
        2f64.sqrt(),
        Some(0.05),
        Parameterization::Ntk,
    )
    .unwrap();
    let x = inputs(n + m, d);
    let get = Get {
        nngp: false,
        ntk: true,
    };
    let train = x.as_ref().subrows(0, n);
    let theta = kernel(&arch, train, None, get).unwrap().ntk.unwrap();
    let theta_test = kernel(&arch, x.as_ref().subrows(n, m), Some(train), get)
        .unwrap()
        .ntk
        .unwrap();
    let y = Mat::from_fn(n, 1, |i, _| ((i + 1) as f64 * 0.37).sin());
    let (f0, f0_test) = (Mat::<f64>::zeros(n, 1), Mat::<f64>::zeros(m, 1));
    let mut group = c.benchmark_group("ntk_gp_predict");
    group.sample_size(10);
    group.bench_function(BenchmarkId::new("t_inf", format!("n{n}-m{m}")), |b| {
        b.iter(|| {
            let flow = GradientDescentMse::new(
                theta.as_ref(),
                y.as_ref(),
                MseConfig::default(),
                Par::rayon(0),
            )
            .unwrap();
            let test = TestSet {
                k_test_train: theta_test.as_ref(),
                fx_test_0: f0_test.as_ref(),
            };
            black_box(
                flow.predict(&[f64::INFINITY], f0.as_ref(), Some(test))
                    .unwrap(),
            )
        })
    });
    // Baseline: a fresh copy of Θ and faer's Cholesky of it (the floor of the t = ∞ path).
    group.bench_function(BenchmarkId::new("faer_copy_llt", format!("n{n}")), |b| {
        b.iter(|| {
            let mut a = theta.clone();
            let par = Par::rayon(0);
            let mut mem =
                MemBuffer::new(cholesky_in_place_scratch::<f64>(n, par, Default::default()));
            cholesky_in_place(
                a.as_mut(),
                Default::default(),
                par,
                MemStack::new(&mut mem),
                Default::default(),
            )
            .unwrap();
            black_box(a)
        })
    });
    group.finish();
}

criterion_group!(benches, bench, bench_predict);
criterion_main!(benches);
