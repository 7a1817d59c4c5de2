//! Input checks shared by every model: shapes, lengths and finiteness, validated once at the
//! boundary of each public call.

use crate::{Error, Result};
use faer::MatRef;

/// Checks that `x` has at least one row, exactly `input_dim` columns and only finite entries.
pub(crate) fn check_inputs(arg: &'static str, x: MatRef<'_, f64>, input_dim: usize) -> Result<()> {
    if x.nrows() == 0 {
        return Err(Error::Empty { arg });
    }
    if x.ncols() != input_dim {
        return Err(Error::ShapeMismatch {
            arg,
            expected: format!("{input_dim} columns"),
            found: format!("{} columns", x.ncols()),
        });
    }
    for j in 0..x.ncols() {
        for i in 0..x.nrows() {
            let value = x[(i, j)];
            if !value.is_finite() {
                return Err(Error::NonFinite {
                    arg,
                    index: i * x.ncols() + j,
                    value,
                });
            }
        }
    }
    Ok(())
}

/// Checks that `values` has length `len` and only finite entries.
pub(crate) fn check_vector(arg: &'static str, values: &[f64], len: usize) -> Result<()> {
    if values.len() != len {
        return Err(Error::ShapeMismatch {
            arg,
            expected: format!("length {len}"),
            found: format!("length {}", values.len()),
        });
    }
    match values.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(Error::NonFinite {
            arg,
            index,
            value: values[index],
        }),
        None => Ok(()),
    }
}

/// Checks that a length of an output buffer matches.
pub(crate) fn check_len(arg: &'static str, len: usize, expected: usize) -> Result<()> {
    if len != expected {
        return Err(Error::ShapeMismatch {
            arg,
            expected: format!("length {expected}"),
            found: format!("length {len}"),
        });
    }
    Ok(())
}
