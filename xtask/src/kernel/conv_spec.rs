//! Convolutional specs of `cargo xtask kernel`: the CNN-GP/CNTK of an image network
//! (`ntk_kernels::conv::kernel`), in neural-tangents' `stax` vocabulary.
//!
//! ```json
//! {"layers": [{"conv": {"channels": 64, "filter": [3, 3], "strides": [1, 1], "padding": "same",
//!                       "w_std": 1.41, "b_std": 0.1}},
//!             {"activation": "relu"},
//!             {"avg_pool": {"window": [2, 2], "strides": [2, 2], "padding": "valid"}},
//!             "global_avg_pool",
//!             {"dense": {"width": 1, "w_std": 1.41, "b_std": 0.1}}],
//!  "image_shape": [8, 8, 1],
//!  "x1": [[[[0.1], …], …], …],
//!  "get": ["nngp", "ntk"]}
//! ```
//!
//! - A spec is convolutional if it has `image_shape` or a `conv`, `avg_pool`, `global_avg_pool`
//!   or `flatten` layer; every other spec is a dense spec ([`super::spec`]), unchanged.
//! - `conv`: `channels` ≥ 1 and `filter` [f_h, f_w] required; `strides` (default [1, 1]),
//!   `padding` "same" | "valid" | "circular" (default "valid", as `stax.Conv`), `w_std` (default
//!   1), `b_std` (null/absent = no bias).
//! - `avg_pool`: `window` required; `strides` (default: the window, non-overlapping windows, as
//!   the neural-tangents reference values of `avg_pool` layers without strides); `padding`
//!   (default "valid"; padded zeros count in the mean).
//! - `flatten`, `global_avg_pool`: a string or `{"flatten": {}}`; exactly one, after the spatial
//!   layers, followed by `dense`/`activation` layers ending with the `dense` readout.
//! - `image_shape` [H, W, C] (optional: taken from `x1` when absent); `x1`, `x2` (optional):
//!   n × H × W × C nested arrays of finite numbers (NHWC).

use super::spec::{
    GetKernels, SpecError, finite_number, kind, non_negative, object, parse_get, parse_layer,
    positive_integer, spec_error,
};
use crate::UsageError;
use anyhow::Result;
use faer::Mat;
use ntk_kernels::conv::{ConvArchitecture, ConvLayer, Padding};
use ntk_kernels::{Layer, Parameterization};
use serde::Deserialize;
use serde_json::Value;

/// (H, W, C) of the input images.
pub type ImageShape = (usize, usize, usize);

/// A validated convolutional spec.
#[derive(Debug, Clone, PartialEq)]
pub struct ConvSpec {
    pub architecture: ConvArchitecture,
    /// (H, W, C).
    pub image_shape: (usize, usize, usize),
    /// n₁ × H·W·C, each row an NHWC image flattened row-major.
    pub x1: Mat<f64>,
    pub x2: Option<Mat<f64>>,
    pub get: GetKernels,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConvSpec {
    layers: Value,
    #[serde(default)]
    parameterization: Option<Value>,
    #[serde(default)]
    image_shape: Option<Value>,
    x1: Value,
    #[serde(default)]
    x2: Option<Value>,
    #[serde(default)]
    get: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConv {
    channels: Value,
    filter: Value,
    #[serde(default)]
    strides: Option<Value>,
    #[serde(default)]
    padding: Option<Value>,
    #[serde(default)]
    w_std: Option<Value>,
    #[serde(default)]
    b_std: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPool {
    window: Value,
    #[serde(default)]
    strides: Option<Value>,
    #[serde(default)]
    padding: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEmpty {}

/// Layer keys that make a spec convolutional.
const CONV_KINDS: [&str; 4] = ["conv", "avg_pool", "global_avg_pool", "flatten"];

/// True if `text` is a JSON object with `image_shape` or a convolutional layer.
pub fn is_conv_spec(text: &str) -> bool {
    let Ok(Value::Object(doc)) = serde_json::from_str::<Value>(text) else {
        return false;
    };
    if doc.contains_key("image_shape") {
        return true;
    }
    let Some(Value::Array(layers)) = doc.get("layers") else {
        return false;
    };
    layers.iter().any(|layer| match layer {
        Value::String(name) => CONV_KINDS.contains(&name.as_str()),
        Value::Object(map) => CONV_KINDS.iter().any(|k| map.contains_key(*k)),
        _ => false,
    })
}

fn pair(value: &Value, field: &str) -> Result<(usize, usize), SpecError> {
    match value.as_array().map(Vec::as_slice) {
        Some([a, b]) => Ok((
            positive_integer(a, &format!("{field}[0]"))?,
            positive_integer(b, &format!("{field}[1]"))?,
        )),
        _ => Err(spec_error(
            field,
            format!("expected [height, width] (two positive integers), found {value}"),
        )),
    }
}

fn padding(value: Option<&Value>, field: &str) -> Result<Padding, SpecError> {
    match value {
        None | Some(Value::Null) => Ok(Padding::Valid),
        Some(Value::String(s)) => match s.to_ascii_lowercase().as_str() {
            "same" => Ok(Padding::Same),
            "valid" => Ok(Padding::Valid),
            "circular" => Ok(Padding::Circular),
            _ => Err(spec_error(
                field,
                format!("expected \"same\", \"valid\" or \"circular\", found \"{s}\""),
            )),
        },
        Some(other) => Err(spec_error(
            field,
            format!("expected a padding name, found {}", kind(other)),
        )),
    }
}

fn std_or(
    value: Option<&Value>,
    default: Option<f64>,
    field: &str,
) -> Result<Option<f64>, SpecError> {
    match value {
        None | Some(Value::Null) => Ok(default),
        Some(v) => Ok(Some(non_negative(v, field)?)),
    }
}

/// One layer at `field`, with the H × W it sees (for the VALID-window check) updated.
fn parse_conv_layer(item: Value, field: &str) -> Result<ConvLayer, SpecError> {
    if let Value::String(name) = &item {
        return match name.as_str() {
            "flatten" => Ok(ConvLayer::Flatten),
            "global_avg_pool" => Ok(ConvLayer::GlobalAvgPool),
            other => Err(spec_error(
                field,
                format!(
                    "unknown layer \"{other}\"; expected \"flatten\" or \"global_avg_pool\" (other layers are objects)"
                ),
            )),
        };
    }
    let Value::Object(map) = &item else {
        return Err(spec_error(
            field,
            format!("expected a layer object, found {}", kind(&item)),
        ));
    };
    let key = CONV_KINDS.iter().find(|k| map.contains_key(**k)).copied();
    let Some(key) = key else {
        return Ok(match parse_layer(item, field)? {
            Layer::Dense {
                width,
                w_std,
                b_std,
            } => ConvLayer::Dense {
                width,
                w_std,
                b_std,
            },
            Layer::Activation(act) => ConvLayer::Activation(act),
        });
    };
    if map.len() != 1 {
        return Err(spec_error(
            field,
            format!("a `{key}` layer object has exactly one key"),
        ));
    }
    let body = map[key].clone();
    let path = format!("{field}.{key}");
    match key {
        "conv" => {
            let raw: RawConv = object(body, &path)?;
            Ok(ConvLayer::Conv {
                channels: positive_integer(&raw.channels, &format!("{path}.channels"))?,
                filter: pair(&raw.filter, &format!("{path}.filter"))?,
                strides: match &raw.strides {
                    None | Some(Value::Null) => (1, 1),
                    Some(v) => pair(v, &format!("{path}.strides"))?,
                },
                padding: padding(raw.padding.as_ref(), &format!("{path}.padding"))?,
                w_std: std_or(raw.w_std.as_ref(), Some(1.0), &format!("{path}.w_std"))?
                    .unwrap_or(1.0),
                b_std: std_or(raw.b_std.as_ref(), None, &format!("{path}.b_std"))?,
            })
        }
        "avg_pool" => {
            let raw: RawPool = object(body, &path)?;
            let window = pair(&raw.window, &format!("{path}.window"))?;
            Ok(ConvLayer::AvgPool {
                window,
                strides: match &raw.strides {
                    None | Some(Value::Null) => window,
                    Some(v) => pair(v, &format!("{path}.strides"))?,
                },
                padding: padding(raw.padding.as_ref(), &format!("{path}.padding"))?,
            })
        }
        _ => {
            if !body.is_null() {
                let _: RawEmpty = object(body, &path)?;
            }
            Ok(if key == "flatten" {
                ConvLayer::Flatten
            } else {
                ConvLayer::GlobalAvgPool
            })
        }
    }
}

/// Checks that every layer fits the image it sees (a VALID window no larger than its input,
/// spatial layers before the one readout), naming the layer's field.
fn check_shapes(layers: &[ConvLayer], (h, w, _): (usize, usize, usize)) -> Result<(), SpecError> {
    let (mut h, mut w) = (h, w);
    let mut flat = false;
    for (index, layer) in layers.iter().enumerate() {
        let (key, window, strides, pad) = match *layer {
            ConvLayer::Conv {
                filter,
                strides,
                padding,
                ..
            } => ("conv.filter", filter, strides, padding),
            ConvLayer::AvgPool {
                window,
                strides,
                padding,
            } => ("avg_pool.window", window, strides, padding),
            ConvLayer::Flatten | ConvLayer::GlobalAvgPool => {
                if flat {
                    return Err(spec_error(
                        format!("layers[{index}]"),
                        "only one spatial readout (flatten or global_avg_pool) is allowed",
                    ));
                }
                flat = true;
                continue;
            }
            ConvLayer::Dense { .. } => {
                if !flat {
                    return Err(spec_error(
                        format!("layers[{index}]"),
                        "a dense layer needs a flatten or global_avg_pool layer before it",
                    ));
                }
                continue;
            }
            ConvLayer::Activation(_) => continue,
        };
        if flat {
            return Err(spec_error(
                format!("layers[{index}]"),
                "spatial layers must come before the flatten/global_avg_pool readout",
            ));
        }
        let fits = pad
            .output_and_pad(h, window.0, strides.0)
            .zip(pad.output_and_pad(w, window.1, strides.1));
        let Some(((oh, _), (ow, _))) = fits else {
            return Err(spec_error(
                format!("layers[{index}].{key}"),
                format!(
                    "a VALID window of {}x{} does not fit the {h}x{w} image this layer sees",
                    window.0, window.1
                ),
            ));
        };
        (h, w) = (oh, ow);
    }
    if !flat {
        return Err(spec_error(
            "layers",
            "a convolutional network needs a flatten or global_avg_pool readout",
        ));
    }
    Ok(())
}

/// n × H × W × C nested arrays → n × H·W·C rows (NHWC), the shape checked against `shape` (or
/// taken from the first image when `shape` is `None`).
fn parse_images(
    value: Value,
    field: &str,
    shape: Option<(usize, usize, usize)>,
) -> Result<(Mat<f64>, ImageShape), SpecError> {
    let rank_error = |at: String, depth: usize, found: &Value| {
        spec_error(
            at,
            format!(
                "expected images as n × H × W × C nested arrays (rank 4); found {} at depth {depth}",
                kind(found)
            ),
        )
    };
    let Value::Array(items) = &value else {
        return Err(rank_error(field.to_string(), 0, &value));
    };
    if items.is_empty() {
        return Err(spec_error(field, "is empty: at least one image is needed"));
    }
    // The shape of the first image (or the given one).
    let shape = match shape {
        Some(s) => s,
        None => {
            let rows = items[0]
                .as_array()
                .ok_or_else(|| rank_error(format!("{field}[0]"), 1, &items[0]))?;
            let cols = rows.first().and_then(Value::as_array).ok_or_else(|| {
                rank_error(
                    format!("{field}[0][0]"),
                    2,
                    rows.first().unwrap_or(&Value::Null),
                )
            })?;
            let chans = cols.first().and_then(Value::as_array).ok_or_else(|| {
                rank_error(
                    format!("{field}[0][0][0]"),
                    3,
                    cols.first().unwrap_or(&Value::Null),
                )
            })?;
            (rows.len(), cols.len(), chans.len())
        }
    };
    let (hh, ww, cc) = shape;
    if hh == 0 || ww == 0 || cc == 0 {
        return Err(spec_error(
            format!("{field}[0]"),
            "an image needs H, W, C >= 1",
        ));
    }
    let mut values = Vec::with_capacity(items.len() * hh * ww * cc);
    for (i, image) in items.iter().enumerate() {
        let check = |v: &Value,
                     at: String,
                     depth: usize,
                     len: usize,
                     what: &str|
         -> Result<Vec<Value>, SpecError> {
            let Value::Array(a) = v else {
                return Err(rank_error(at, depth, v));
            };
            if depth < 3
                && let Some(child) = a.iter().find(|c| !c.is_array())
            {
                return Err(rank_error(at, depth + 1, child));
            }
            if a.len() != len {
                return Err(spec_error(
                    at,
                    format!(
                        "expected {len} {what} (image_shape {hh}x{ww}x{cc}), found {}",
                        a.len()
                    ),
                ));
            }
            Ok(a.clone())
        };
        let rows = check(image, format!("{field}[{i}]"), 1, hh, "rows")?;
        for (h, row) in rows.iter().enumerate() {
            let cols = check(row, format!("{field}[{i}][{h}]"), 2, ww, "columns")?;
            for (w, pixel) in cols.iter().enumerate() {
                let chans = check(pixel, format!("{field}[{i}][{h}][{w}]"), 3, cc, "channels")?;
                for (c, v) in chans.iter().enumerate() {
                    if v.is_array() {
                        return Err(rank_error(format!("{field}[{i}][{h}][{w}][{c}]"), 4, v));
                    }
                    values.push(finite_number(v, &format!("{field}[{i}][{h}][{w}][{c}]"))?);
                }
            }
        }
    }
    let dim = hh * ww * cc;
    let x = Mat::from_fn(items.len(), dim, |i, k| values[i * dim + k]);
    Ok((x, shape))
}

/// Parses and validates a convolutional spec; every failure names its field.
pub fn parse_conv_spec(text: &str) -> Result<ConvSpec, SpecError> {
    let value: Value = serde_json::from_str(text)
        .map_err(|e| spec_error("(document)", format!("invalid JSON: {e}")))?;
    let raw: RawConvSpec = object(value, "(document)").map_err(|e| {
        let field = e
            .message
            .split('`')
            .nth(1)
            .unwrap_or("(document)")
            .to_string();
        spec_error(field, e.message)
    })?;
    let Value::Array(items) = raw.layers else {
        return Err(spec_error("layers", "expected an array of layers"));
    };
    let layers = items
        .into_iter()
        .enumerate()
        .map(|(i, item)| parse_conv_layer(item, &format!("layers[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;
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
    let image_shape = match raw.image_shape.filter(|v| !v.is_null()) {
        None => None,
        Some(v) => match v.as_array().map(Vec::as_slice) {
            Some([h, w, c]) => Some((
                positive_integer(h, "image_shape[0]")?,
                positive_integer(w, "image_shape[1]")?,
                positive_integer(c, "image_shape[2]")?,
            )),
            _ => {
                return Err(spec_error(
                    "image_shape",
                    format!("expected [H, W, C] (three positive integers), found {v}"),
                ));
            }
        },
    };
    let (x1, image_shape) = parse_images(raw.x1, "x1", image_shape)?;
    let x2 = match raw.x2.filter(|v| !v.is_null()) {
        Some(v) => Some(parse_images(v, "x2", Some(image_shape))?.0),
        None => None,
    };
    check_shapes(&layers, image_shape)?;
    let architecture = ConvArchitecture::new(layers, parameterization)
        .map_err(|e| spec_error("layers", e.to_string()))?;
    let get = parse_get(raw.get)?;
    Ok(ConvSpec {
        architecture,
        image_shape,
        x1,
        x2,
        get,
    })
}

/// Estimated peak bytes: both n₁ × n₂ outputs with their JSON text, the inputs, and per worker
/// the full form's four P² buffers.
pub fn estimate_bytes(spec: &ConvSpec) -> u128 {
    let n1 = spec.x1.nrows() as u128;
    let n2 = spec.x2.as_ref().map_or(n1, |x| x.nrows() as u128);
    let (h, w, _) = spec.image_shape;
    let p = (h * w) as u128;
    let threads = rayon::current_num_threads() as u128;
    let inputs = 3 * 8 * (spec.x1.nrows() * spec.x1.ncols()) as u128
        + spec
            .x2
            .as_ref()
            .map_or(0, |x| 8 * (x.nrows() * x.ncols()) as u128);
    n1 * n2 * (2 * 8 + 2 * 25) + inputs + threads * 4 * 8 * p * p
}

/// Evaluates a convolutional spec and returns the output JSON object.
pub fn evaluate_conv_spec(spec: &ConvSpec) -> Result<Value> {
    let kernel = ntk_kernels::conv::kernel(
        &spec.architecture,
        spec.x1.as_ref(),
        spec.x2.as_ref().map(|m| m.as_ref()),
        spec.image_shape,
        ntk_kernels::analytic::Get {
            nngp: spec.get.nngp,
            ntk: spec.get.ntk,
        },
    )
    .map_err(|e| UsageError::new(format!("the kernel cannot be computed: {e}")))?;
    let mut out = serde_json::Map::new();
    for (name, matrix) in [("nngp", &kernel.nngp), ("ntk", &kernel.ntk)] {
        if let Some(m) = matrix {
            out.insert(name.to_string(), super::matrix_json(name, m)?);
        }
    }
    Ok(Value::Object(out))
}

/// `cargo xtask kernel` on a convolutional spec: parse, memory check, evaluate, JSON text.
pub fn run_conv_spec(text: &str) -> Result<String> {
    let spec = parse_conv_spec(text).map_err(|e| UsageError::new(e.to_string()))?;
    let needed = estimate_bytes(&spec);
    let budget = super::memory_budget();
    if needed > budget {
        return Err(UsageError::new(format!(
            "spec field `x1`: this kernel needs an estimated {:.2} GB, more than the {:.2} GB this command may use",
            needed as f64 / 1e9,
            budget as f64 / 1e9
        ))
        .into());
    }
    Ok(serde_json::to_string(&evaluate_conv_spec(&spec)?)?)
}
