//! Gradient-flow right-hand sides per second for a width-4096 two-layer ReLU net on n = 256,
//! d = 32, against the two GEMMs that dominate it (Z = XWᵀ forward, Mᵀ X backward), timed in
//! the same run so their share of the RHS time can be read off.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatRef, Par};
use ntk_dynamics::GradientFlow;
use ntk_dynamics::ode::OdeSystem;
use ntk_dynamics::test_models::{gaussian_matrix, gaussian_vector};
use ntk_kernels::Activation;
use ntk_nets::{Model, Scaling, SecondLayer, TwoLayer, TwoLayerSpec};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::hint::black_box;
use std::time::Instant;

const WIDTH: usize = 4096;
const N: usize = 256;
const D: usize = 32;

fn setup() -> (TwoLayer, Vec<f64>, Mat<f64>, Vec<f64>) {
    let spec = TwoLayerSpec {
        input_dim: D,
        width: WIDTH,
        activation: Activation::Relu,
        scaling: Scaling::Lazy,
        alpha: 1.0,
        w_init_std: 1.0,
        second_layer: SecondLayer::Trained,
    };
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let model = TwoLayer::new(spec, &mut rng).unwrap();
    let theta0 = model.init_params(&mut rng);
    let x = gaussian_matrix(N, D, 8);
    let x = Mat::from_fn(N, D, |i, j| x[(i, j)] / (D as f64).sqrt());
    let y = gaussian_vector(N, 9);
    (model, theta0, x, y)
}

fn gemms(x: MatRef<'_, f64>, w: MatRef<'_, f64>, z: &mut Mat<f64>, back: &mut Mat<f64>) {
    // Forward Z = X Wᵀ (n × m) and backward block Zᵀ X (m × d), the shapes the net multiplies.
    matmul(
        z.as_mut(),
        Accum::Replace,
        x,
        w.transpose(),
        1.0,
        Par::rayon(0),
    );
    matmul(
        back.as_mut(),
        Accum::Replace,
        z.transpose(),
        x,
        1.0,
        Par::rayon(0),
    );
}

fn bench_rhs(c: &mut Criterion) {
    let (model, theta0, x, y) = setup();
    let mut flow = GradientFlow::new(&model, x.as_ref(), &y, &theta0, 1e6).unwrap();
    let mut dtheta = vec![0.0; model.n_params()];
    let w = MatRef::from_row_major_slice(&theta0[..WIDTH * D], WIDTH, D);
    let mut z = Mat::<f64>::zeros(N, WIDTH);
    let mut back = Mat::<f64>::zeros(WIDTH, D);
    let id = format!("m{WIDTH}-n{N}-d{D}");

    let mut group = c.benchmark_group("gradient_flow_rhs");
    group.throughput(Throughput::Elements(1));
    group.bench_function(BenchmarkId::new("two_layer_relu", &id), |b| {
        b.iter(|| flow.rhs(0.0, black_box(&theta0), &mut dtheta).unwrap())
    });
    group.bench_function(BenchmarkId::new("gemm_only", &id), |b| {
        b.iter(|| gemms(black_box(x.as_ref()), w, &mut z, &mut back))
    });
    group.finish();

    // The GEMM share measured back to back in the same process (same threads, same caches).
    let reps = 30;
    let start = Instant::now();
    for _ in 0..reps {
        flow.rhs(0.0, &theta0, &mut dtheta).unwrap();
    }
    let rhs_time = start.elapsed().as_secs_f64() / reps as f64;
    let start = Instant::now();
    for _ in 0..reps {
        gemms(x.as_ref(), w, &mut z, &mut back);
    }
    let gemm_time = start.elapsed().as_secs_f64() / reps as f64;
    eprintln!(
        "gradient_flow_rhs {id}: {:.1} RHS/s, {:.3} ms/RHS; GEMMs alone {:.3} ms = {:.0}% of the RHS",
        1.0 / rhs_time,
        1e3 * rhs_time,
        1e3 * gemm_time,
        100.0 * gemm_time / rhs_time
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench_rhs
}
criterion_main!(benches);
