//! The JSON kernel specification of `cargo xtask kernel`, parsed with `deny_unknown_fields` at
//! every level and validated once into a [`KernelSpec`].
//!
//! ```json
//! {"layers": [{"dense": {"width": 512, "w_std": 1.41, "b_std": 0.1}},
//!             {"activation": "relu"},
//!             {"activation": "leaky_relu", "alpha": 0.1},
//!             {"activation": "abrelu", "a": -0.2, "b": 1.0},
//!             {"dense": {"width": 1, "w_std": 1.0}}],
//!  "parameterization": "ntk",
//!  "x1": [[1.0, 0.0], [0.6, 0.8]],
//!  "x2": [[0.0, 1.0]],
//!  "get": ["nngp", "ntk"],
//!  "mercer": {"sphere_dim": 3, "degrees": 8}}
//! ```
//!
//! - `layers` (required): `{"dense": {"width": n, "w_std": w, "b_std": b}}` (`w_std` defaults to 1
//!   as in neural-tangents' `stax.Dense`; `b_std` `null` or absent means no bias parameter at all)
//!   or `{"activation": name}` with name one of relu, leaky_relu (needs `"alpha"`), abrelu (needs
//!   `"a"` and `"b"`: σ(x) = a·min(x,0) + b·max(x,0)), erf, identity, gelu, softplus, tanh, exp,
//!   sin. The last layer must be the `dense` readout.
//! - `parameterization`: `"ntk"` (default) or `"standard"`.
//! - `x1` (required), `x2` (optional, default `x1`): non-empty rectangular arrays of finite
//!   numbers with the same number of columns.
//! - `get`: a non-empty subset of `["nngp", "ntk"]` (default both).
//! - `mercer` (optional): `{"sphere_dim": p ≥ 2, "degrees": K}`: the Mercer eigenvalues
//!   μ_0..μ_K on S^{p−1} of each requested kernel; then no input may have zero norm.

use ntk_kernels::{Activation, Architecture, Layer, Parameterization};
use serde::Deserialize;
use serde_json::Value;

/// Largest number of Mercer degrees accepted.
pub const MAX_MERCER_DEGREES: usize = 1000;

/// A bad spec: the offending field (a path such as `layers[2].alpha`) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("spec field `{field}`: {message}")]
pub struct SpecError {
    pub field: String,
    pub message: String,
}

pub(crate) fn spec_error(field: impl Into<String>, message: impl Into<String>) -> SpecError {
    SpecError {
        field: field.into(),
        message: message.into(),
    }
}

/// Which kernels to compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GetKernels {
    pub nngp: bool,
    pub ntk: bool,
}

/// A request for Mercer eigenvalues on the sphere S^{p−1}.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MercerRequest {
    /// p: the ambient dimension of the sphere S^{p−1} (≥ 2).
    pub sphere_dim: usize,
    /// K: eigenvalues μ_0..μ_K are returned.
    pub degrees: usize,
}

/// A row-major n × d matrix of finite inputs.
#[derive(Debug, Clone, PartialEq)]
pub struct Inputs {
    pub n_rows: usize,
    pub n_cols: usize,
    /// Row-major values, `n_rows * n_cols` long.
    pub values: Vec<f64>,
}

impl Inputs {
    /// Row `i`.
    pub fn row(&self, i: usize) -> &[f64] {
        &self.values[i * self.n_cols..(i + 1) * self.n_cols]
    }

    /// As a faer matrix.
    pub fn to_mat(&self) -> faer::Mat<f64> {
        faer::Mat::from_fn(self.n_rows, self.n_cols, |i, j| {
            self.values[i * self.n_cols + j]
        })
    }
}

/// A validated kernel specification.
#[derive(Debug, Clone, PartialEq)]
pub struct KernelSpec {
    pub architecture: Architecture,
    pub x1: Inputs,
    pub x2: Option<Inputs>,
    pub get: GetKernels,
    pub mercer: Option<MercerRequest>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpec {
    layers: Value,
    #[serde(default)]
    parameterization: Option<Value>,
    x1: Value,
    #[serde(default)]
    x2: Option<Value>,
    #[serde(default)]
    get: Option<Value>,
    #[serde(default)]
    mercer: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLayer {
    #[serde(default)]
    dense: Option<Value>,
    #[serde(default)]
    activation: Option<Value>,
    #[serde(default)]
    alpha: Option<Value>,
    #[serde(default)]
    a: Option<Value>,
    #[serde(default)]
    b: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDense {
    width: Value,
    #[serde(default)]
    w_std: Option<Value>,
    #[serde(default)]
    b_std: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMercer {
    sphere_dim: Value,
    degrees: Value,
}

/// Deserializes an object of a `deny_unknown_fields` struct, naming `field` in the error.
pub(crate) fn object<T: for<'de> Deserialize<'de>>(
    value: Value,
    field: &str,
) -> Result<T, SpecError> {
    if !value.is_object() {
        return Err(spec_error(
            field,
            format!("expected an object, found {}", kind(&value)),
        ));
    }
    serde_json::from_value(value).map_err(|e| spec_error(field, e.to_string()))
}

/// The JSON type of a value, for messages.
pub(crate) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

pub(crate) fn positive_integer(value: &Value, field: &str) -> Result<usize, SpecError> {
    let number = value
        .as_u64()
        .ok_or_else(|| spec_error(field, format!("expected a positive integer, found {value}")))?;
    if number == 0 {
        return Err(spec_error(field, "must be at least 1, found 0"));
    }
    usize::try_from(number).map_err(|_| spec_error(field, format!("{number} is too large")))
}

pub(crate) fn finite_number(value: &Value, field: &str) -> Result<f64, SpecError> {
    let number = value
        .as_f64()
        .ok_or_else(|| spec_error(field, format!("expected a number, found {}", kind(value))))?;
    if !number.is_finite() {
        return Err(spec_error(field, format!("{number} is not finite")));
    }
    Ok(number)
}

pub(crate) fn non_negative(value: &Value, field: &str) -> Result<f64, SpecError> {
    let number = finite_number(value, field)?;
    if number < 0.0 {
        return Err(spec_error(field, format!("must be >= 0, found {number}")));
    }
    Ok(number)
}

fn parse_dense(value: Value, field: &str) -> Result<Layer, SpecError> {
    let raw: RawDense = object(value, field)?;
    let width = positive_integer(&raw.width, &format!("{field}.width"))?;
    let w_std = match &raw.w_std {
        None | Some(Value::Null) => 1.0,
        Some(v) => non_negative(v, &format!("{field}.w_std"))?,
    };
    let b_std = match &raw.b_std {
        None | Some(Value::Null) => None,
        Some(v) => Some(non_negative(v, &format!("{field}.b_std"))?),
    };
    Ok(Layer::Dense {
        width,
        w_std,
        b_std,
    })
}

fn parse_activation(raw: RawLayer, field: &str) -> Result<Layer, SpecError> {
    let name_field = format!("{field}.activation");
    let name = match raw.activation {
        Some(Value::String(name)) => name,
        Some(other) => {
            return Err(spec_error(
                name_field,
                format!("expected an activation name, found {}", kind(&other)),
            ));
        }
        None => missing_layer_kind(field)?,
    };
    let takes: &[&str] = match name.as_str() {
        "leaky_relu" => &["alpha"],
        "abrelu" => &["a", "b"],
        _ => &[],
    };
    for (param, present) in [
        ("alpha", raw.alpha.is_some()),
        ("a", raw.a.is_some()),
        ("b", raw.b.is_some()),
    ] {
        if present && !takes.contains(&param) {
            return Err(spec_error(
                format!("{field}.{param}"),
                format!("activation `{name}` takes no parameter `{param}`"),
            ));
        }
    }
    let required = |value: Option<Value>, param: &str| -> Result<f64, SpecError> {
        let path = format!("{field}.{param}");
        match value {
            Some(v) => finite_number(&v, &path),
            None => Err(spec_error(
                path,
                format!("activation `{name}` needs a number `{param}`"),
            )),
        }
    };
    let activation = match name.as_str() {
        "leaky_relu" => Activation::LeakyRelu {
            alpha: required(raw.alpha, "alpha")?,
        },
        "abrelu" => Activation::AbRelu {
            a: required(raw.a, "a")?,
            b: required(raw.b, "b")?,
        },
        other => Activation::from_name(other).ok_or_else(|| {
            spec_error(
                &name_field,
                format!(
                    "unknown activation `{other}`; expected one of {}",
                    Activation::NAMES.join(", ")
                ),
            )
        })?,
    };
    Ok(Layer::Activation(activation))
}

/// The error for a layer object with neither `dense` nor `activation`.
fn missing_layer_kind<T>(field: &str) -> Result<T, SpecError> {
    Err(spec_error(
        field,
        "expected {\"dense\": {…}} or {\"activation\": name}",
    ))
}

fn parse_layers(value: Value) -> Result<Vec<Layer>, SpecError> {
    let Value::Array(items) = value else {
        return Err(spec_error("layers", "expected an array of layers"));
    };
    if items.is_empty() {
        return Err(spec_error(
            "layers",
            "must contain at least the dense readout",
        ));
    }
    let mut layers = Vec::with_capacity(items.len());
    for (index, item) in items.into_iter().enumerate() {
        layers.push(parse_layer(item, &format!("layers[{index}]"))?);
    }
    Ok(layers)
}

/// One `dense` or `activation` layer object at `field` (e.g. `layers[2]`).
pub(crate) fn parse_layer(item: Value, field: &str) -> Result<Layer, SpecError> {
    let field = field.to_string();
    let raw: RawLayer = object(item, &field)?;
    let layer = match (raw.dense.is_some(), raw.activation.is_some()) {
        (true, true) => {
            return Err(spec_error(
                field,
                "a layer is either {\"dense\": …} or {\"activation\": …}, not both",
            ));
        }
        (true, false) => {
            for (param, present) in [
                ("alpha", raw.alpha.is_some()),
                ("a", raw.a.is_some()),
                ("b", raw.b.is_some()),
            ] {
                if present {
                    return Err(spec_error(
                        format!("{field}.{param}"),
                        "only activation layers take parameters",
                    ));
                }
            }
            parse_dense(raw.dense.unwrap_or(Value::Null), &format!("{field}.dense"))?
        }
        (false, true) => parse_activation(raw, &field)?,
        (false, false) => missing_layer_kind(&field)?,
    };
    Ok(layer)
}

fn parse_inputs(value: Value, field: &str) -> Result<Inputs, SpecError> {
    let Value::Array(rows) = value else {
        return Err(spec_error(
            field,
            format!("expected an array of rows, found {}", kind(&value)),
        ));
    };
    if rows.is_empty() {
        return Err(spec_error(field, "is empty: at least one input is needed"));
    }
    let mut n_cols = 0;
    let mut values = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        let Value::Array(entries) = row else {
            return Err(spec_error(
                format!("{field}[{i}]"),
                format!("expected an array of numbers, found {}", kind(row)),
            ));
        };
        if i == 0 {
            if entries.is_empty() {
                return Err(spec_error(
                    format!("{field}[0]"),
                    "an input needs at least one coordinate",
                ));
            }
            n_cols = entries.len();
            values.reserve(rows.len().saturating_mul(n_cols));
        } else if entries.len() != n_cols {
            return Err(spec_error(
                format!("{field}[{i}]"),
                format!(
                    "ragged input: this row has {} entries but {field}[0] has {n_cols}",
                    entries.len()
                ),
            ));
        }
        for (j, entry) in entries.iter().enumerate() {
            values.push(finite_number(entry, &format!("{field}[{i}][{j}]"))?);
        }
    }
    Ok(Inputs {
        n_rows: rows.len(),
        n_cols,
        values,
    })
}

pub(crate) fn parse_get(value: Option<Value>) -> Result<GetKernels, SpecError> {
    let Some(value) = value.filter(|v| !v.is_null()) else {
        return Ok(GetKernels {
            nngp: true,
            ntk: true,
        });
    };
    let Value::Array(items) = value else {
        return Err(spec_error(
            "get",
            "expected an array such as [\"nngp\", \"ntk\"]",
        ));
    };
    let mut get = GetKernels {
        nngp: false,
        ntk: false,
    };
    for (i, item) in items.iter().enumerate() {
        match item.as_str() {
            Some("nngp") => get.nngp = true,
            Some("ntk") => get.ntk = true,
            _ => {
                return Err(spec_error(
                    format!("get[{i}]"),
                    format!("expected \"nngp\" or \"ntk\", found {item}"),
                ));
            }
        }
    }
    if !(get.nngp || get.ntk) {
        return Err(spec_error(
            "get",
            "is empty: ask for \"nngp\" and/or \"ntk\"",
        ));
    }
    Ok(get)
}

fn parse_mercer(value: Option<Value>) -> Result<Option<MercerRequest>, SpecError> {
    let Some(value) = value.filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let raw: RawMercer = object(value, "mercer")?;
    let sphere_dim = positive_integer(&raw.sphere_dim, "mercer.sphere_dim")?;
    if sphere_dim < 2 {
        return Err(spec_error(
            "mercer.sphere_dim",
            format!("the sphere S^(p-1) needs p >= 2, found {sphere_dim}"),
        ));
    }
    let degrees = raw.degrees.as_u64().ok_or_else(|| {
        spec_error(
            "mercer.degrees",
            format!("expected an integer >= 0, found {}", raw.degrees),
        )
    })?;
    if degrees > MAX_MERCER_DEGREES as u64 {
        return Err(spec_error(
            "mercer.degrees",
            format!("{degrees} is more than the supported {MAX_MERCER_DEGREES}"),
        ));
    }
    Ok(Some(MercerRequest {
        sphere_dim,
        degrees: degrees as usize,
    }))
}

/// Parses and validates a spec. Every failure names its field (see [`SpecError`]).
pub fn parse_spec(text: &str) -> Result<KernelSpec, SpecError> {
    let value: Value = serde_json::from_str(text)
        .map_err(|e| spec_error("(document)", format!("invalid JSON: {e}")))?;
    let raw: RawSpec = object(value, "(document)").map_err(|e| {
        // serde names unknown/missing top-level fields in its message.
        spec_error(top_level_field(&e.message), e.message)
    })?;
    let layers = parse_layers(raw.layers)?;
    let parameterization = match raw.parameterization {
        None | Some(Value::Null) => Parameterization::Ntk,
        Some(Value::String(s)) if s == "ntk" => Parameterization::Ntk,
        Some(Value::String(s)) if s == "standard" => Parameterization::Standard,
        Some(other) => {
            return Err(spec_error(
                "parameterization",
                format!("expected \"ntk\" or \"standard\", found {other}"),
            ));
        }
    };
    let architecture = Architecture::new(layers, parameterization)
        .map_err(|e| spec_error("layers", e.to_string()))?;
    let x1 = parse_inputs(raw.x1, "x1")?;
    let x2 = match raw.x2.filter(|v| !v.is_null()) {
        Some(v) => Some(parse_inputs(v, "x2")?),
        None => None,
    };
    if let Some(x2) = &x2
        && x2.n_cols != x1.n_cols
    {
        return Err(spec_error(
            "x2",
            format!(
                "dimension mismatch: x2 rows have {} coordinates but x1 rows have {}",
                x2.n_cols, x1.n_cols
            ),
        ));
    }
    let get = parse_get(raw.get)?;
    let mercer = parse_mercer(raw.mercer)?;
    if mercer.is_some() {
        for (field, inputs) in [("x1", Some(&x1)), ("x2", x2.as_ref())] {
            let Some(inputs) = inputs else { continue };
            for i in 0..inputs.n_rows {
                if inputs.row(i).iter().all(|&v| v == 0.0) {
                    return Err(spec_error(
                        format!("{field}[{i}]"),
                        "zero-norm input, but a mercer (sphere) request needs directions",
                    ));
                }
            }
        }
    }
    Ok(KernelSpec {
        architecture,
        x1,
        x2,
        get,
        mercer,
    })
}

/// The field named in a serde top-level message (`unknown field `foo`` / `missing field `x1``).
fn top_level_field(message: &str) -> String {
    message
        .split('`')
        .nth(1)
        .map(str::to_string)
        .unwrap_or_else(|| "(document)".into())
}
