//! Parity with neural-tangents 0.6.5 (float64) on the cases of `tests/data/nt_relu.json`.
//!
//! Off-diagonal and cross entries: 1e-10 relative (the file's own numpy re-implementation agrees
//! with neural-tangents to ≤1e-12; the rest is arccos rounding near |ρ| = 1). Self-kernel
//! diagonals: against the file's `exact_diagonal_*` values to 1e-13 relative (both are the exact
//! q/2, ½ recursion; only the summation order of ‖x‖²/d differs), since neural-tangents' own
//! diagonal carries ~1e-8 noise (`diagonal_note`).

use faer::{Mat, MatRef};
use ntk_kernels::analytic::{Get, kernel, kernel_diagonal, kernel_layerwise};
use ntk_kernels::{Activation, Architecture, Parameterization};
use serde_json::Value;

fn data() -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/nt_relu.json"
    ))
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

fn matrix(v: &Value) -> Mat<f64> {
    let rows = v.as_array().unwrap();
    let n = rows.len();
    let m = rows[0].as_array().unwrap().len();
    Mat::from_fn(n, m, |i, j| rows[i][j].as_f64().unwrap())
}

fn vector(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(1e-300)
}

/// Max relative difference off the diagonal (or everywhere when `skip_diag` is false).
fn max_rel(ours: MatRef<'_, f64>, reference: MatRef<'_, f64>, skip_diag: bool) -> f64 {
    assert_eq!(
        (ours.nrows(), ours.ncols()),
        (reference.nrows(), reference.ncols())
    );
    let mut worst: f64 = 0.0;
    for i in 0..ours.nrows() {
        for j in 0..ours.ncols() {
            if skip_diag && i == j {
                continue;
            }
            worst = worst.max(rel(ours[(i, j)], reference[(i, j)]));
        }
    }
    worst
}

fn relu_mlp(hidden: usize, w_std: f64, b_std: f64) -> Architecture {
    Architecture::mlp(
        hidden,
        512,
        Activation::Relu,
        w_std,
        Some(b_std),
        Parameterization::Ntk,
    )
    .unwrap()
}

#[test]
fn every_case_matches_neural_tangents() {
    let data = data();
    let inputs = &data["inputs"];
    let mut checked = 0;
    for case in data["cases"].as_array().unwrap() {
        assert_eq!(case["activation"], "relu");
        assert_eq!(case["parameterization"], "ntk");
        let arch = relu_mlp(
            case["hidden_layers"].as_u64().unwrap() as usize,
            case["W_std"].as_f64().unwrap(),
            case["b_std"].as_f64().unwrap(),
        );
        for kind in ["raw", "sphere"] {
            let res = &case["results"][kind];
            let x = matrix(&inputs[format!("x_{kind}")]);
            let x2 = matrix(&inputs[format!("x2_{kind}")]);
            let k = kernel(&arch, x.as_ref(), None, Get::BOTH).unwrap();
            let (nngp, ntk) = (k.nngp.unwrap(), k.ntk.unwrap());
            let name = case["name"].as_str().unwrap();
            let e_nngp = max_rel(nngp.as_ref(), matrix(&res["nngp"]).as_ref(), true);
            let e_ntk = max_rel(ntk.as_ref(), matrix(&res["ntk"]).as_ref(), true);
            assert!(
                e_nngp <= 1e-10,
                "{name} {kind} nngp off-diagonal: {e_nngp:e}"
            );
            assert!(e_ntk <= 1e-10, "{name} {kind} ntk off-diagonal: {e_ntk:e}");
            let exact_nngp = vector(&res["exact_diagonal_nngp"]);
            let exact_ntk = vector(&res["exact_diagonal_ntk"]);
            let (diag_nngp, diag_ntk) = kernel_diagonal(&arch, x.as_ref()).unwrap();
            for i in 0..x.nrows() {
                assert!(
                    rel(nngp[(i, i)], exact_nngp[i]) <= 1e-13,
                    "{name} {kind} nngp diag {i}"
                );
                assert!(
                    rel(ntk[(i, i)], exact_ntk[i]) <= 1e-13,
                    "{name} {kind} ntk diag {i}"
                );
                assert_eq!(diag_nngp[i], nngp[(i, i)]);
                assert_eq!(diag_ntk[i], ntk[(i, i)]);
                // Symmetric output.
                for j in 0..x.nrows() {
                    assert_eq!(nngp[(i, j)], nngp[(j, i)]);
                    assert_eq!(ntk[(i, j)], ntk[(j, i)]);
                }
            }
            let cross = kernel(&arch, x.as_ref(), Some(x2.as_ref()), Get::BOTH).unwrap();
            let c_nngp = max_rel(
                cross.nngp.unwrap().as_ref(),
                matrix(&res["nngp_cross"]).as_ref(),
                false,
            );
            let c_ntk = max_rel(
                cross.ntk.unwrap().as_ref(),
                matrix(&res["ntk_cross"]).as_ref(),
                false,
            );
            assert!(c_nngp <= 1e-10, "{name} {kind} nngp cross: {c_nngp:e}");
            assert!(c_ntk <= 1e-10, "{name} {kind} ntk cross: {c_ntk:e}");
            eprintln!(
                "{name} {kind}: max rel off-diag nngp {e_nngp:.1e} ntk {e_ntk:.1e}, cross {c_nngp:.1e} {c_ntk:.1e}"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 12);
}

/// Layer-by-layer kernels (relu L=3, W_std=√2, b_std=0.05): after every layer, off-diagonal
/// entries to 1e-10 relative; diagonal entries to 1e-7 relative, the size of neural-tangents'
/// own diagonal rounding noise (√ε amplified through the layers, see `diagonal_note`).
#[test]
fn layerwise_kernels_match_neural_tangents() {
    let data = data();
    let arch = relu_mlp(3, 2f64.sqrt(), 0.05);
    let lw = &data["layerwise_relu_L3"];
    for kind in ["raw", "sphere"] {
        let x = matrix(&data["inputs"][format!("x_{kind}")]);
        let ours = kernel_layerwise(&arch, x.as_ref(), None).unwrap();
        let reference = lw[kind].as_array().unwrap();
        assert_eq!(ours.len(), reference.len());
        for (layer, entry) in ours.iter().zip(reference) {
            let idx = entry["index"].as_u64().unwrap();
            let ref_nngp = matrix(&entry["nngp"]);
            let ref_ntk = matrix(&entry["ntk"]);
            let e_nngp = max_rel(layer.nngp.as_ref(), ref_nngp.as_ref(), true);
            let e_ntk = max_rel(layer.ntk.as_ref(), ref_ntk.as_ref(), true);
            assert!(e_nngp <= 1e-10, "{kind} layer {idx} nngp {e_nngp:e}");
            assert!(e_ntk <= 1e-10, "{kind} layer {idx} ntk {e_ntk:e}");
            for i in 0..x.nrows() {
                assert!(rel(layer.nngp[(i, i)], ref_nngp[(i, i)]) <= 1e-7);
                assert!(rel(layer.ntk[(i, i)], ref_ntk[(i, i)]) <= 1e-7);
            }
        }
        // The fast tiled kernel equals the last layerwise entry.
        let k = kernel(&arch, x.as_ref(), None, Get::BOTH).unwrap();
        let last = ours.last().unwrap();
        assert!(max_rel(k.nngp.unwrap().as_ref(), last.nngp.as_ref(), false) <= 1e-13);
        assert!(max_rel(k.ntk.unwrap().as_ref(), last.ntk.as_ref(), false) <= 1e-13);
    }
}

/// The file's one-hidden-layer closed form (arc-cosine, `closed_form_relu_L1.formula`) written
/// out here independently, for every `stax` call listed under `checks`: 1e-12 relative.
#[test]
fn closed_form_one_hidden_layer() {
    let data = data();
    for check in data["closed_form_relu_L1"]["checks"].as_array().unwrap() {
        let stax = check["stax"].as_str().unwrap();
        let w = if stax.contains("W_std=1.0,") {
            1.0
        } else {
            2f64.sqrt()
        };
        let b = if stax.contains("b_std=0.1") { 0.1 } else { 0.0 };
        let kind = check["inputs"].as_str().unwrap();
        let x = matrix(&data["inputs"][format!("x_{kind}")]);
        let (n, d) = (x.nrows(), x.ncols() as f64);
        let dot =
            |i: usize, j: usize| (0..x.ncols()).map(|k| x[(i, k)] * x[(j, k)]).sum::<f64>() / d;
        let s1 = |i: usize, j: usize| w * w * dot(i, j) + b * b;
        let arch = relu_mlp(1, w, b);
        let k = kernel(&arch, x.as_ref(), None, Get::BOTH).unwrap();
        let (nngp, ntk) = (k.nngp.unwrap(), k.ntk.unwrap());
        for i in 0..n {
            for j in 0..n {
                let norm = (s1(i, i) * s1(j, j)).sqrt();
                let cos = if i == j {
                    1.0
                } else {
                    (s1(i, j) / norm).clamp(-1.0, 1.0)
                };
                let theta = cos.acos();
                let k1 = norm * (theta.sin() + (std::f64::consts::PI - theta) * cos)
                    / (2.0 * std::f64::consts::PI);
                let k0 = (std::f64::consts::PI - theta) / (2.0 * std::f64::consts::PI);
                let expect_nngp = w * w * k1 + b * b;
                let expect_ntk = expect_nngp + w * w * k0 * s1(i, j);
                assert!(
                    rel(nngp[(i, j)], expect_nngp) <= 1e-12,
                    "{stax} {kind} ({i},{j})"
                );
                assert!(
                    rel(ntk[(i, j)], expect_ntk) <= 1e-12,
                    "{stax} {kind} ({i},{j})"
                );
            }
        }
    }
}
