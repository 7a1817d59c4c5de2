//! Analytic ReLU NNGP+NTK (3 hidden layers + readout, d = 64) against a faer GEMM baseline.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, Par};
use ntk_kernels::analytic::{Get, kernel};
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

criterion_group!(benches, bench);
criterion_main!(benches);
