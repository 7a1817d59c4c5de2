//! Input points and regression targets from `.npy` files.

use super::{file_error, fnv1a};
use crate::Result;
use faer::Mat;
use std::fs::File;
use std::io::BufReader;
use std::path::Path;

/// An input array read from a `.npy` file: `rows` points of `cols` = product of the trailing
/// dimensions (NHWC images are flattened row-major, as `x.reshape(n, -1)`).
#[derive(Debug, Clone)]
pub struct InputArray {
    /// The shape as stored.
    pub shape: Vec<u64>,
    /// The points, n × (product of the trailing dimensions), as float64.
    pub matrix: Mat<f64>,
    /// FNV-1a 64 hash of the float64 values (row-major), to recognise the same input on resume.
    pub fingerprint: u64,
}

pub(super) fn open_npy(path: &Path, arg: &str) -> Result<npyz::NpyFile<BufReader<File>>> {
    let file = File::open(path)
        .map_err(|e| file_error(format!("{arg}: cannot open {}: {e}", path.display())))?;
    npyz::NpyFile::new(BufReader::new(file)).map_err(|e| {
        file_error(format!(
            "{arg}: {} is not a valid .npy file: {e}",
            path.display()
        ))
    })
}

pub(super) fn type_string(npy: &npyz::NpyFile<BufReader<File>>) -> String {
    match npy.dtype() {
        npyz::DType::Plain(ts) => ts.to_string(),
        other => format!("{other:?}"),
    }
}

fn read_floats(npy: npyz::NpyFile<BufReader<File>>, arg: &str, path: &Path) -> Result<Vec<f64>> {
    let ts = type_string(&npy);
    let values = match &ts[1..] {
        "f8" => npy.into_vec::<f64>(),
        "f4" => npy
            .into_vec::<f32>()
            .map(|v| v.into_iter().map(f64::from).collect()),
        _ => {
            return Err(file_error(format!(
                "{arg}: {} has dtype {ts}; expected float32 or float64",
                path.display()
            )));
        }
    };
    values.map_err(|e| {
        file_error(format!(
            "{arg}: cannot read the data of {}: {e}",
            path.display()
        ))
    })
}

/// Reads points from a float32/float64 `.npy` of shape (n, d) or (n, H, W, C), C order (a
/// Fortran-order file is transposed). Rejects other dtypes and ranks, empty arrays and NaN/inf
/// entries (naming the first one).
pub fn read_inputs(path: &Path, arg: &str) -> Result<InputArray> {
    let npy = open_npy(path, arg)?;
    let shape = npy.shape().to_vec();
    let fortran = npy.order() == npyz::Order::Fortran;
    if !(shape.len() == 2 || shape.len() == 4) {
        return Err(file_error(format!(
            "{arg}: {} has shape {shape:?}; expected (n, d) or NHWC (n, H, W, C)",
            path.display()
        )));
    }
    let rows = shape[0] as usize;
    let cols: usize = shape[1..].iter().product::<u64>() as usize;
    if rows == 0 || cols == 0 {
        return Err(file_error(format!(
            "{arg}: {} is empty (shape {shape:?})",
            path.display()
        )));
    }
    let values = read_floats(npy, arg, path)?;
    if let Some(index) = values.iter().position(|v| !v.is_finite()) {
        return Err(file_error(format!(
            "{arg}: {} has a non-finite entry {} at flat index {index}",
            path.display(),
            values[index]
        )));
    }
    let matrix = if fortran {
        // Fortran order: the first index varies fastest.
        Mat::from_fn(rows, cols, |i, j| values[i + rows * j])
    } else {
        Mat::from_fn(rows, cols, |i, j| values[i * cols + j])
    };
    Ok(InputArray::new(shape, matrix))
}

impl InputArray {
    /// The input of points `matrix` (stored with `shape`) and its fingerprint: FNV-1a 64 of
    /// `"{rows}x{cols}"`, then of every value's little-endian bytes in row-major order. Points
    /// read from a file and the same points given in memory have the same fingerprint.
    pub fn new(shape: Vec<u64>, matrix: Mat<f64>) -> Self {
        let (rows, cols) = (matrix.nrows(), matrix.ncols());
        let mut fingerprint = fnv1a(format!("{rows}x{cols}").into_bytes(), None);
        for i in 0..rows {
            for j in 0..cols {
                fingerprint = fnv1a(matrix[(i, j)].to_le_bytes(), Some(fingerprint));
            }
        }
        InputArray {
            shape,
            matrix,
            fingerprint,
        }
    }
}

/// Regression targets from a `.npy`: integer class labels (n,) become one-hot rows (n × classes,
/// classes = max label + 1, or `classes` if given); float (n,) or (n, k) arrays are used as they
/// are. Returns the targets and, for labels, the label of each row.
pub fn read_targets(
    path: &Path,
    arg: &str,
    classes: Option<usize>,
) -> Result<(Mat<f64>, Option<Vec<usize>>)> {
    let npy = open_npy(path, arg)?;
    let shape = npy.shape().to_vec();
    let ts = type_string(&npy);
    let kind = ts.chars().nth(1).unwrap_or('?');
    if kind == 'i' || kind == 'u' {
        if shape.len() != 1 {
            return Err(file_error(format!(
                "{arg}: integer labels in {} must have shape (n,), found {shape:?}",
                path.display()
            )));
        }
        let labels: Vec<i64> = match &ts[1..] {
            "i8" => npy.into_vec::<i64>(),
            "i4" => npy
                .into_vec::<i32>()
                .map(|v| v.into_iter().map(i64::from).collect()),
            "i2" => npy
                .into_vec::<i16>()
                .map(|v| v.into_iter().map(i64::from).collect()),
            "i1" => npy
                .into_vec::<i8>()
                .map(|v| v.into_iter().map(i64::from).collect()),
            "u1" => npy
                .into_vec::<u8>()
                .map(|v| v.into_iter().map(i64::from).collect()),
            "u2" => npy
                .into_vec::<u16>()
                .map(|v| v.into_iter().map(i64::from).collect()),
            "u4" => npy
                .into_vec::<u32>()
                .map(|v| v.into_iter().map(i64::from).collect()),
            _ => {
                return Err(file_error(format!(
                    "{arg}: {} has unsupported label dtype {ts}",
                    path.display()
                )));
            }
        }
        .map_err(|e| file_error(format!("{arg}: cannot read {}: {e}", path.display())))?;
        if labels.is_empty() {
            return Err(file_error(format!("{arg}: {} is empty", path.display())));
        }
        if let Some(bad) = labels.iter().position(|&l| l < 0) {
            return Err(file_error(format!(
                "{arg}: negative label {} at index {bad} in {}",
                labels[bad],
                path.display()
            )));
        }
        let max = *labels.iter().max().expect("non-empty") as usize;
        let classes = classes.unwrap_or(max + 1).max(max + 1);
        let labels: Vec<usize> = labels.into_iter().map(|l| l as usize).collect();
        let one_hot = Mat::from_fn(labels.len(), classes, |i, c| f64::from(labels[i] == c));
        return Ok((one_hot, Some(labels)));
    }
    if !(shape.len() == 1 || shape.len() == 2) || shape[0] == 0 {
        return Err(file_error(format!(
            "{arg}: {} has shape {shape:?}; expected labels (n,) or targets (n, k)",
            path.display()
        )));
    }
    let rows = shape[0] as usize;
    let cols = if shape.len() == 2 {
        shape[1] as usize
    } else {
        1
    };
    let values = read_floats(npy, arg, path)?;
    if let Some(index) = values.iter().position(|v| !v.is_finite()) {
        return Err(file_error(format!(
            "{arg}: {} has a non-finite entry at flat index {index}",
            path.display()
        )));
    }
    Ok((Mat::from_fn(rows, cols, |i, j| values[i * cols + j]), None))
}
