//! `analytic::kernel_into` writes the same kernels as `analytic::kernel` into caller-owned
//! outputs of either layout.
//!
//! Reference: `kernel` itself (the recursion is the same; only where it writes differs).
//! Column-major outputs run the identical computation, so they are bit-identical. Row-major
//! outputs of a cross kernel are filled through the transposed problem k(x2, x1), whose Gram
//! entries sum the same d products in the GEMM's order for the exchanged operands: equal to
//! 1e-13 relative (a few ulps of Σ⁽⁰⁾ amplified by at most the arccos slope at these
//! well-separated points). Self kernels are symmetric, so their row-major fill is again exact.

use faer::{Mat, MatMut, MatRef};
use ntk_kernels::analytic::{Get, kernel, kernel_into};
use ntk_kernels::{Activation, Architecture, Error, Parameterization};

fn inputs(first_row: usize, n: usize, d: usize) -> Mat<f64> {
    Mat::from_fn(n, d, |i, j| {
        let (a, b) = ((first_row + i + 1) as f64, (j + 1) as f64);
        (0.7 * a + 1.3 * b).sin() + 0.1 * (2.1 * a * b).cos()
    })
}

fn architecture(activation: Activation) -> Architecture {
    Architecture::mlp(3, 512, activation, 1.4, Some(0.1), Parameterization::Ntk).unwrap()
}

fn max_rel(a: MatRef<'_, f64>, b: MatRef<'_, f64>) -> f64 {
    let mut worst: f64 = 0.0;
    for i in 0..a.nrows() {
        for j in 0..a.ncols() {
            worst = worst.max((a[(i, j)] - b[(i, j)]).abs() / b[(i, j)].abs().max(1e-300));
        }
    }
    worst
}

#[test]
fn both_layouts_match_kernel() {
    // 300 × 170 crosses the 128-row tiles, so mirrored and partial tiles are exercised.
    for activation in [Activation::Relu, Activation::Erf, Activation::Tanh] {
        let arch = architecture(activation);
        let x1 = inputs(0, 300, 7);
        let x2 = inputs(300, 170, 7);
        for x2 in [None, Some(x2.as_ref())] {
            let n2 = x2.map_or(300, |x| x.nrows());
            let reference = kernel(&arch, x1.as_ref(), x2, Get::BOTH).unwrap();
            let (nngp_ref, ntk_ref) = (reference.nngp.unwrap(), reference.ntk.unwrap());

            let mut nngp = Mat::<f64>::from_fn(300, n2, |_, _| f64::NAN);
            let mut ntk = Mat::<f64>::from_fn(300, n2, |_, _| f64::NAN);
            kernel_into(
                &arch,
                x1.as_ref(),
                x2,
                Some(nngp.as_mut()),
                Some(ntk.as_mut()),
            )
            .unwrap();
            assert!(
                nngp == nngp_ref && ntk == ntk_ref,
                "{activation:?} column-major"
            );

            let mut nngp_rows = vec![f64::NAN; 300 * n2];
            let mut ntk_rows = vec![f64::NAN; 300 * n2];
            kernel_into(
                &arch,
                x1.as_ref(),
                x2,
                Some(MatMut::from_row_major_slice_mut(&mut nngp_rows, 300, n2)),
                Some(MatMut::from_row_major_slice_mut(&mut ntk_rows, 300, n2)),
            )
            .unwrap();
            let nngp_rows = MatRef::from_row_major_slice(&nngp_rows, 300, n2);
            let ntk_rows = MatRef::from_row_major_slice(&ntk_rows, 300, n2);
            if x2.is_none() {
                assert!(nngp_rows == nngp_ref.as_ref() && ntk_rows == ntk_ref.as_ref());
            } else {
                assert!(
                    max_rel(nngp_rows, nngp_ref.as_ref()) <= 1e-13,
                    "{activation:?}"
                );
                assert!(
                    max_rel(ntk_rows, ntk_ref.as_ref()) <= 1e-13,
                    "{activation:?}"
                );
            }
        }
    }
}

#[test]
fn one_output_and_errors() {
    let arch = architecture(Activation::Relu);
    let x = inputs(0, 20, 4);
    let reference = kernel(&arch, x.as_ref(), None, Get::BOTH).unwrap();
    let mut ntk = Mat::<f64>::zeros(20, 20);
    kernel_into(&arch, x.as_ref(), None, None, Some(ntk.as_mut())).unwrap();
    assert!(ntk == *reference.ntk.as_ref().unwrap());
    // Nothing requested: only validation.
    kernel_into(&arch, x.as_ref(), None, None, None).unwrap();

    let mut wrong = Mat::<f64>::zeros(20, 19);
    assert!(matches!(
        kernel_into(&arch, x.as_ref(), None, Some(wrong.as_mut()), None),
        Err(Error::ShapeMismatch { arg: "nngp", .. })
    ));
    // Mixed layouts.
    let mut cols = Mat::<f64>::zeros(20, 20);
    let mut rows = vec![0.0; 400];
    assert!(matches!(
        kernel_into(
            &arch,
            x.as_ref(),
            None,
            Some(cols.as_mut()),
            Some(MatMut::from_row_major_slice_mut(&mut rows, 20, 20)),
        ),
        Err(Error::InvalidParameter { arg: "ntk", .. })
    ));
    // Row-major with padded rows (row stride 80 > 20 columns): allowed, and the padding is
    // left untouched.
    let mut grid = vec![-7.0; 20 * 80];
    kernel_into(
        &arch,
        x.as_ref(),
        None,
        Some(MatMut::from_row_major_slice_with_stride_mut(
            &mut grid, 20, 20, 80,
        )),
        None,
    )
    .unwrap();
    let nngp_ref = reference.nngp.unwrap();
    for i in 0..20 {
        for j in 0..80 {
            let expected = if j < 20 { nngp_ref[(i, j)] } else { -7.0 };
            assert_eq!(grid[i * 80 + j], expected);
        }
    }
    let mut bad = x.clone();
    bad[(3, 1)] = f64::NAN;
    let mut out = Mat::<f64>::zeros(20, 20);
    assert!(matches!(
        kernel_into(&arch, bad.as_ref(), None, Some(out.as_mut()), None),
        Err(Error::NonFinite { arg: "x1", .. })
    ));
}
