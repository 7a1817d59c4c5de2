//! Times the pieces of the empirical NTK of the benchmark network (n = 1024).
use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, Par};
use ntk_nets::test_models::{bench_spec, nt_inputs};
use ntk_nets::{Mlp, Model};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::time::Instant;

fn main() {
    let mlp = Mlp::new(&bench_spec()).unwrap();
    let theta = mlp.init_params(&mut ChaCha8Rng::seed_from_u64(0));
    let n = 1024;
    let x = nt_inputs(0, n, 64);
    let time = |label: &str, f: &mut dyn FnMut()| {
        f();
        let t = Instant::now();
        for _ in 0..5 {
            f();
        }
        println!("{label}: {:.2} ms", t.elapsed().as_secs_f64() * 200.0);
    };
    time("forward", &mut || {
        mlp.forward(&theta, x.as_ref()).unwrap();
    });
    time("vjp", &mut || {
        mlp.vjp(&theta, x.as_ref(), &vec![1.0; n]).unwrap();
    });
    time("empirical_ntk", &mut || {
        mlp.empirical_ntk(&theta, x.as_ref(), x.as_ref()).unwrap();
    });
    let a = Mat::<f64>::from_fn(n, 512, |i, j| ((i * 7 + j * 13) % 17) as f64);
    let mut dst = Mat::<f64>::zeros(n, n);
    time("gemm n x 512 x n", &mut || {
        matmul(
            dst.as_mut(),
            Accum::Replace,
            a.as_ref(),
            a.transpose(),
            1.0,
            Par::rayon(0),
        )
    });
    time("triangular gemm n x 512 x n", &mut || {
        faer::linalg::matmul::triangular::matmul(
            dst.as_mut(),
            faer::linalg::matmul::triangular::BlockStructure::TriangularLower,
            Accum::Replace,
            a.as_ref(),
            faer::linalg::matmul::triangular::BlockStructure::Rectangular,
            a.transpose(),
            faer::linalg::matmul::triangular::BlockStructure::Rectangular,
            1.0,
            Par::rayon(0),
        )
    });
    let w = Mat::<f64>::from_fn(512, 512, |i, j| ((i + j) % 5) as f64);
    let mut z = Mat::<f64>::zeros(n, 512);
    time("gemm n x 512 x 512", &mut || {
        matmul(
            z.as_mut(),
            Accum::Replace,
            a.as_ref(),
            w.transpose(),
            1.0,
            Par::rayon(0),
        )
    });
}
