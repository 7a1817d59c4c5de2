//! Forward+backward, Jacobian and empirical NTK of the d = 64 → 512 → 512 → 1 ReLU MLP (NTK
//! parameterization, w_std = √2, b_std = 0.05) on n = 256 and 1024, with a faer GEMM baseline
//! in the same run. Empirical-NTK FLOPs (X1 = X2, lower triangles only): n²·(d + 4·512) for the
//! five Gram products (G⁰G⁰ᵀ with k = d; Δ¹Δ¹ᵀ, G¹G¹ᵀ, Δ²Δ²ᵀ, G²G²ᵀ with k = 512; n²/2 entries
//! × 2k flops each) plus the forward pass 2n(64·512 + 512²) and the backward pass 2n·512².

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, Par};
use ntk_nets::test_models::{bench_spec, nt_inputs};
use ntk_nets::{Mlp, Model};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let mlp = Mlp::new(&bench_spec())
        .unwrap()
        .with_parallelism(Par::rayon(0));
    let theta = mlp.init_params(&mut ChaCha8Rng::seed_from_u64(0));
    for n in [256usize, 1024] {
        let x = nt_inputs(0, n, 64);
        let y = vec![0.5; n];
        let label = format!("d64-512-512-1-n{n}");

        let mut group = c.benchmark_group("forward_backward");
        group.sample_size(20);
        let mut grad = vec![0.0; mlp.n_params()];
        group.bench_function(BenchmarkId::new("relu_mlp", &label), |b| {
            b.iter(|| {
                mlp.loss_and_grad(&theta, x.as_ref(), &y, &mut grad)
                    .unwrap()
            })
        });
        group.finish();

        let mut group = c.benchmark_group("jacobian");
        group.sample_size(10);
        group.bench_function(BenchmarkId::new("relu_mlp", &label), |b| {
            b.iter(|| black_box(mlp.jacobian(&theta, x.as_ref()).unwrap()))
        });
        group.finish();

        let mut group = c.benchmark_group("empirical_ntk");
        group.sample_size(10);
        let flops = (n * n) as f64 * (64.0 + 4.0 * 512.0)
            + 2.0 * n as f64 * (64.0 * 512.0 + 2.0 * 512.0 * 512.0);
        group.throughput(Throughput::Elements(flops as u64));
        group.bench_function(BenchmarkId::new("relu_mlp", &label), |b| {
            b.iter(|| black_box(mlp.empirical_ntk(&theta, x.as_ref(), x.as_ref()).unwrap()))
        });
        group.finish();

        // Baseline: a plain faer GEMM of the same shape as the dominant products (n × 512 · 512 × n).
        let mut group = c.benchmark_group("faer_gemm");
        group.sample_size(10);
        let a = Mat::<f64>::from_fn(n, 512, |i, j| ((i * 7 + j * 13) % 17) as f64 / 17.0 - 0.5);
        let mut dst = Mat::<f64>::zeros(n, n);
        group.throughput(Throughput::Elements((2 * n * n * 512) as u64));
        group.bench_function(BenchmarkId::new("n_x_512_times_512_x_n", &label), |b| {
            b.iter(|| {
                matmul(
                    dst.as_mut(),
                    Accum::Replace,
                    a.as_ref(),
                    a.transpose(),
                    1.0,
                    Par::rayon(0),
                );
                black_box(&dst);
            })
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
