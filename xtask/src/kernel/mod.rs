//! `cargo xtask kernel --spec SPEC.json` (or the spec on stdin): the infinite-width NNGP/NTK
//! kernels of an architecture, and optionally their Mercer eigenvalues on the sphere, as JSON.
//!
//! Output: `{"nngp": [[…]], "ntk": [[…]], "mercer": {"nngp": [μ_0, …], "ntk": [μ_0, …]}}`, with
//! only the requested keys. The spec format is documented in [`spec`]. A bad spec, or one whose
//! kernels would not fit in memory, is a [`UsageError`] naming the field (exit code 2).

pub mod conv_spec;
pub mod spec;

use crate::UsageError;
use anyhow::Result;
use faer::Mat;
pub use spec::{GetKernels, Inputs, KernelSpec, MercerRequest, SpecError, parse_spec};

/// Bytes per kernel entry while computing: Σ, Θ, Σ̇ and scratch matrices (8 bytes each), plus the
/// ≈ 25 bytes of its JSON text per requested kernel.
const WORKING_BYTES_PER_ENTRY: u128 = 6 * 8;
const JSON_BYTES_PER_ENTRY: u128 = 25;

/// Estimated peak memory (bytes) of evaluating `spec`.
pub fn estimate_bytes(spec: &KernelSpec) -> u128 {
    let n1 = spec.x1.n_rows as u128;
    let n2 = spec.x2.as_ref().map_or(n1, |x2| x2.n_rows as u128);
    let n_kernels = u128::from(spec.get.nngp) + u128::from(spec.get.ntk);
    let entries = n1 * n2;
    let inputs =
        8 * (spec.x1.values.len() as u128 + spec.x2.as_ref().map_or(0, |x| x.values.len() as u128));
    entries * (WORKING_BYTES_PER_ENTRY + n_kernels * JSON_BYTES_PER_ENTRY) + 2 * inputs
}

/// The memory a command may use: half of `MemAvailable` (from `/proc/meminfo`), at most 16 GiB;
/// 4 GiB when it cannot be read.
pub fn memory_budget() -> u128 {
    const GIB: u128 = 1 << 30;
    let available = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("MemAvailable:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u128>().ok())
                .map(|kb| kb * 1024)
        });
    match available {
        Some(bytes) => (bytes / 2).min(16 * GIB),
        None => 4 * GIB,
    }
}

/// Refuses a spec whose estimated memory exceeds `budget` bytes (a [`UsageError`] naming `x1`).
pub fn check_memory(spec: &KernelSpec, budget: u128) -> Result<()> {
    let needed = estimate_bytes(spec);
    if needed > budget {
        let n2 = spec.x2.as_ref().map_or(spec.x1.n_rows, |x| x.n_rows);
        return Err(UsageError::new(format!(
            "spec field `x1`: a {}×{} kernel needs an estimated {:.2} GB, more than the {:.2} GB this command may use",
            spec.x1.n_rows,
            n2,
            needed as f64 / 1e9,
            budget as f64 / 1e9
        ))
        .into());
    }
    Ok(())
}

/// The kernels of one evaluation.
#[derive(Debug, Clone)]
pub struct KernelPair {
    pub nngp: Option<Mat<f64>>,
    pub ntk: Option<Mat<f64>>,
}

/// An analytic kernel evaluator: (architecture, x1, x2, which kernels) → the kernel matrices.
/// `x2 = None` asks for the symmetric kernel of `x1`.
pub type Evaluator<'a> = &'a dyn Fn(
    &ntk_kernels::Architecture,
    faer::MatRef<'_, f64>,
    Option<faer::MatRef<'_, f64>>,
    GetKernels,
) -> Result<KernelPair>;

/// Unit vectors of ℝᵖ with inner product tⱼ with e₁: rows (tⱼ, √(1 − tⱼ²), 0, …, 0). Evaluating
/// an architecture's kernel between e₁ and these rows gives its dot-product form κ(tⱼ) on S^{p−1}.
pub fn sphere_points(p: usize, t: &[f64]) -> Mat<f64> {
    Mat::from_fn(t.len(), p, |j, k| {
        let tj = t[j].clamp(-1.0, 1.0);
        match k {
            0 => tj,
            1 => (1.0 - tj * tj).max(0.0).sqrt(),
            _ => 0.0,
        }
    })
}

/// The dot-product form κ(t) of one kernel of the architecture on S^{p−1}: the kernel between
/// e₁ and the unit vector (t, √(1 − t²), 0, …, 0) of ℝᵖ (so Σ⁽⁰⁾ = t/p in neural-tangents'
/// convention). A failed evaluation gives NaN, which the Mercer quadrature reports as an error.
pub fn dot_product_kernel(
    spec: &KernelSpec,
    p: usize,
    nngp: bool,
    t: f64,
    evaluate: Evaluator<'_>,
) -> f64 {
    let e1 = Mat::from_fn(1, p, |_, k| if k == 0 { 1.0 } else { 0.0 });
    let point = sphere_points(p, &[t]);
    let get = GetKernels { nngp, ntk: !nngp };
    match evaluate(&spec.architecture, e1.as_ref(), Some(point.as_ref()), get) {
        Ok(pair) => {
            let matrix = if nngp { pair.nngp } else { pair.ntk };
            matrix.map_or(f64::NAN, |m| m[(0, 0)])
        }
        Err(_) => f64::NAN,
    }
}

/// Mercer eigenvalues μ_0..μ_K on S^{p−1} of the NNGP (`nngp = true`) or NTK dot-product form
/// (Funk–Hecke quadrature of `ntk_kernels::mercer::mercer_eigenvalues`).
///
/// $$ \mu_k = \frac{\Gamma(p/2)}{\sqrt\pi\,\Gamma(\frac{p-1}{2})}\int_{-1}^{1}
///    \kappa(t)\,P_k^{(p)}(t)\,(1-t^2)^{\frac{p-3}{2}}\,dt $$
///
/// # Reference
/// Bietti & Mairal 2019, arXiv:1905.12173, §3 and Prop. 5.
pub fn mercer_spectrum(
    spec: &KernelSpec,
    request: MercerRequest,
    nngp: bool,
    evaluate: Evaluator<'_>,
) -> Result<Vec<f64>> {
    let config = ntk_kernels::mercer::MercerConfig::new(request.sphere_dim, request.degrees);
    let spectrum = ntk_kernels::mercer::mercer_eigenvalues(
        |t| dot_product_kernel(spec, request.sphere_dim, nngp, t, evaluate),
        config,
    )
    .map_err(|e| {
        UsageError::new(format!(
            "spec field `mercer`: the {} spectrum cannot be computed: {e}",
            if nngp { "nngp" } else { "ntk" }
        ))
    })?;
    Ok(spectrum.eigenvalues)
}

pub(crate) fn matrix_json(name: &str, m: &Mat<f64>) -> Result<serde_json::Value> {
    let mut rows = Vec::with_capacity(m.nrows());
    for i in 0..m.nrows() {
        let mut row = Vec::with_capacity(m.ncols());
        for j in 0..m.ncols() {
            let v = m[(i, j)];
            if !v.is_finite() {
                return Err(UsageError::new(format!(
                    "the {name} kernel has a non-finite entry at ({i}, {j}); the inputs or w_std are too large for this activation"
                ))
                .into());
            }
            row.push(serde_json::Value::from(v));
        }
        rows.push(serde_json::Value::Array(row));
    }
    Ok(serde_json::Value::Array(rows))
}

/// Evaluates a validated spec with `evaluate` (kernels, and the dot-product forms behind the
/// Mercer request) and returns the output JSON object.
pub fn evaluate_spec(spec: &KernelSpec, evaluate: Evaluator<'_>) -> Result<serde_json::Value> {
    let x1 = spec.x1.to_mat();
    let x2 = spec.x2.as_ref().map(Inputs::to_mat);
    let pair = evaluate(
        &spec.architecture,
        x1.as_ref(),
        x2.as_ref().map(|m| m.as_ref()),
        spec.get,
    )?;
    let mut out = serde_json::Map::new();
    for (name, wanted, matrix) in [
        ("nngp", spec.get.nngp, &pair.nngp),
        ("ntk", spec.get.ntk, &pair.ntk),
    ] {
        if wanted {
            let matrix = matrix
                .as_ref()
                .ok_or_else(|| anyhow::anyhow!("the evaluator did not return the {name} kernel"))?;
            out.insert(name.to_string(), matrix_json(name, matrix)?);
        }
    }
    if let Some(request) = spec.mercer {
        let mut spectra = serde_json::Map::new();
        for (name, wanted) in [("nngp", spec.get.nngp), ("ntk", spec.get.ntk)] {
            if wanted {
                let mu = mercer_spectrum(spec, request, name == "nngp", evaluate)?;
                if let Some(k) = mu.iter().position(|v| !v.is_finite()) {
                    anyhow::bail!("the {name} Mercer eigenvalue mu_{k} is not finite");
                }
                spectra.insert(name.to_string(), serde_json::Value::from(mu));
            }
        }
        out.insert("mercer".into(), serde_json::Value::Object(spectra));
    }
    Ok(serde_json::Value::Object(out))
}

/// The analytic evaluator of `ntk-kernels` ([`ntk_kernels::analytic::kernel`]).
pub fn analytic_evaluator(
    architecture: &ntk_kernels::Architecture,
    x1: faer::MatRef<'_, f64>,
    x2: Option<faer::MatRef<'_, f64>>,
    get: GetKernels,
) -> Result<KernelPair> {
    let kernel = ntk_kernels::analytic::kernel(
        architecture,
        x1,
        x2,
        ntk_kernels::analytic::Get {
            nngp: get.nngp,
            ntk: get.ntk,
        },
    )
    .map_err(|e| UsageError::new(format!("the kernel cannot be computed: {e}")))?;
    Ok(KernelPair {
        nngp: kernel.nngp,
        ntk: kernel.ntk,
    })
}

/// `cargo xtask kernel`: parses `text`, checks its memory estimate, evaluates it and returns the
/// output JSON text (one line). Convolutional specs (with `image_shape` or conv/pooling/readout
/// layers) go to [`conv_spec::run_conv_spec`].
pub fn run_spec(text: &str) -> Result<String> {
    if conv_spec::is_conv_spec(text) {
        return conv_spec::run_conv_spec(text);
    }
    let spec = parse_spec(text).map_err(|e| UsageError::new(e.to_string()))?;
    check_memory(&spec, memory_budget())?;
    let value = evaluate_spec(&spec, &analytic_evaluator)?;
    Ok(serde_json::to_string(&value)?)
}
