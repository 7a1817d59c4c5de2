//! Mercer spectra of a dense architecture's kernels on the sphere S^{p−1}: the Funk–Hecke
//! eigenvalues of its dot-product form κ(t) = k(e₁, (t, √(1 − t²), 0, …)),
//!
//! μ_k = Γ(p/2)/(√π Γ((p−1)/2)) ∫₀^π κ(cos θ) P_k^{(p)}(cos θ) sin^{p−2}θ dθ
//!
//! (Bietti & Mairal 2019, arXiv:1905.12173, §3), as `cargo xtask kernel`'s `mercer` request.

use crate::architecture::{Network, PyArchitecture};
use crate::errors::{BindingError, Result, run};
use faer::Mat;
use gauss_quad::legendre::GaussLegendre;
use ntk_kernels::Architecture;
use ntk_kernels::analytic::{Get, kernel};
use ntk_kernels::mercer::{MercerConfig, mercer_eigenvalues};
use numpy::PyArray1;
use pyo3::prelude::*;
use std::collections::HashMap;
use std::num::NonZeroUsize;

/// κ(t) of the NNGP (`nngp = true`) or NTK on S^{p−1}; NaN when the kernel cannot be
/// evaluated, which the quadrature reports as an error.
fn dot_product_kernel(arch: &Architecture, p: usize, nngp: bool, t: f64) -> f64 {
    let e1 = Mat::from_fn(1, p, |_, k| if k == 0 { 1.0 } else { 0.0 });
    let t = t.clamp(-1.0, 1.0);
    let point = Mat::from_fn(1, p, |_, k| match k {
        0 => t,
        1 => (1.0 - t * t).max(0.0).sqrt(),
        _ => 0.0,
    });
    let get = Get { nngp, ntk: !nngp };
    match kernel(arch, e1.as_ref(), Some(point.as_ref()), get) {
        Ok(k) => {
            let m = if nngp { k.nngp } else { k.ntk };
            m.map_or(f64::NAN, |m| m[(0, 0)])
        }
        Err(_) => f64::NAN,
    }
}

/// κ at every node t = cos θ of the quadrature that [`mercer_eigenvalues`] uses (Gauss–Legendre
/// in θ = π(x + 1)/2, the same arithmetic, so the same bits), from one kernel call between e₁
/// and all the points, keyed by the bits of t.
fn kappa_at_nodes(
    arch: &Architecture,
    p: usize,
    nngp: bool,
    nodes: usize,
) -> Option<HashMap<u64, f64>> {
    let rule = GaussLegendre::new(NonZeroUsize::new(nodes)?);
    let half_pi = std::f64::consts::FRAC_PI_2;
    let t: Vec<f64> = rule
        .iter()
        .map(|(x, _)| (half_pi * (x + 1.0)).cos())
        .collect();
    let e1 = Mat::from_fn(1, p, |_, k| if k == 0 { 1.0 } else { 0.0 });
    let points = Mat::from_fn(t.len(), p, |j, k| {
        let tj = t[j].clamp(-1.0, 1.0);
        match k {
            0 => tj,
            1 => (1.0 - tj * tj).max(0.0).sqrt(),
            _ => 0.0,
        }
    });
    let get = Get { nngp, ntk: !nngp };
    let k = kernel(arch, e1.as_ref(), Some(points.as_ref()), get).ok()?;
    let m = if nngp { k.nngp } else { k.ntk }?;
    Some(
        t.iter()
            .enumerate()
            .map(|(j, tj)| (tj.to_bits(), m[(0, j)]))
            .collect(),
    )
}

fn spectrum(arch: &Architecture, p: usize, degrees: usize, nngp: bool) -> Result<Vec<f64>> {
    let config = MercerConfig::new(p, degrees);
    // One batched kernel evaluation; a node not found (never expected) is evaluated alone.
    let table = if p >= 2 {
        kappa_at_nodes(arch, p, nngp, config.quadrature_nodes).unwrap_or_default()
    } else {
        HashMap::new()
    };
    let kappa = |t: f64| match table.get(&t.to_bits()) {
        Some(&value) => value,
        None => dot_product_kernel(arch, p, nngp, t),
    };
    Ok(mercer_eigenvalues(kappa, config)?.eigenvalues)
}

type Spectra<'py> = (
    Option<Bound<'py, PyArray1<f64>>>,
    Option<Bound<'py, PyArray1<f64>>>,
    Bound<'py, PyArray1<f64>>,
);

/// `mercer_spectrum(architecture, sphere_dim, degrees, nngp=True, ntk=True)
/// -> (μ_nngp | None, μ_ntk | None, multiplicities)`, μ_0 … μ_K and N(p, k).
#[pyfunction]
#[pyo3(signature = (architecture, sphere_dim, degrees, nngp = true, ntk = true))]
pub fn mercer_spectrum<'py>(
    py: Python<'py>,
    architecture: &PyArchitecture,
    sphere_dim: usize,
    degrees: usize,
    nngp: bool,
    ntk: bool,
) -> PyResult<Spectra<'py>> {
    let Network::Dense(arch) = &architecture.network else {
        return Err(BindingError::Invalid(
            "Mercer spectra on the sphere are for dot-product kernels of fully-connected networks"
                .into(),
        )
        .into());
    };
    let (nngp_mu, ntk_mu, multiplicities) = run(py, || {
        let nngp_mu = nngp
            .then(|| spectrum(arch, sphere_dim, degrees, true))
            .transpose()?;
        let ntk_mu = ntk
            .then(|| spectrum(arch, sphere_dim, degrees, false))
            .transpose()?;
        let multiplicities = (0..=degrees)
            .map(|k| ntk_kernels::mercer::multiplicity(sphere_dim, k))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        Ok((nngp_mu, ntk_mu, multiplicities))
    })?;
    Ok((
        nngp_mu.map(|v| PyArray1::from_vec(py, v)),
        ntk_mu.map(|v| PyArray1::from_vec(py, v)),
        PyArray1::from_vec(py, multiplicities),
    ))
}
