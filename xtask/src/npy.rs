//! NumPy `.npy` files in and out: input arrays (n × d or NHWC n × H × W × C, float32/float64),
//! label vectors, and kernel matrices written tile by tile into a preallocated file.
//!
//! Headers are parsed and written by the `npyz` crate (NEP 1, format version 1.0). A kernel file
//! is created whole: `npyz` writes its header, the data region is preallocated to its final size,
//! and tiles are written at their offsets by positioned writes (`pwrite`, [`FileExt`]); solvers
//! read row blocks back by positioned reads. Memory mapping (e.g. `memmap2`) would need `unsafe`
//! (the mapping's soundness depends on no other process truncating the file), which this
//! workspace forbids (`unsafe_code = "forbid"`); positioned I/O through the page cache gives the
//! same access pattern, costs one copy per block, and keeps the file out of the process's RSS.
//!
//! Every failure is a [`UsageError`] naming the file (exit code 2).

use crate::UsageError;
use anyhow::{Context, Result};
use faer::{Mat, MatRef};
use npyz::WriterBuilder;
use std::fs::{File, OpenOptions};
use std::io::{BufReader, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// Storage type of a written kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dtype {
    F32,
    F64,
}

impl Dtype {
    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            Dtype::F32 => 4,
            Dtype::F64 => 8,
        }
    }

    fn descr(self) -> &'static str {
        match self {
            Dtype::F32 => "<f4",
            Dtype::F64 => "<f8",
        }
    }

    /// Parses `f32`/`float32`/`f64`/`float64`.
    pub fn parse(text: &str) -> Result<Self> {
        match text {
            "f32" | "float32" => Ok(Dtype::F32),
            "f64" | "float64" => Ok(Dtype::F64),
            other => {
                Err(UsageError::new(format!("--dtype: expected f32 or f64, found {other}")).into())
            }
        }
    }
}

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

fn usage(message: String) -> anyhow::Error {
    UsageError::new(message).into()
}

fn open_npy(path: &Path, arg: &str) -> Result<npyz::NpyFile<BufReader<File>>> {
    let file = File::open(path)
        .map_err(|e| usage(format!("{arg}: cannot open {}: {e}", path.display())))?;
    npyz::NpyFile::new(BufReader::new(file)).map_err(|e| {
        usage(format!(
            "{arg}: {} is not a valid .npy file: {e}",
            path.display()
        ))
    })
}

fn type_string(npy: &npyz::NpyFile<BufReader<File>>) -> String {
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
            return Err(usage(format!(
                "{arg}: {} has dtype {ts}; expected float32 or float64",
                path.display()
            )));
        }
    };
    values.map_err(|e| {
        usage(format!(
            "{arg}: cannot read the data of {}: {e}",
            path.display()
        ))
    })
}

/// FNV-1a 64 over the little-endian bytes of `values` (a fingerprint, not a cryptographic hash).
///
/// # Reference
/// Fowler, Noll & Vo, draft-eastlake-fnv (IETF), §2.
pub fn fnv1a(bytes: impl IntoIterator<Item = u8>, seed: Option<u64>) -> u64 {
    let mut hash = seed.unwrap_or(0xcbf2_9ce4_8422_2325);
    for byte in bytes {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// Reads points from a float32/float64 `.npy` of shape (n, d) or (n, H, W, C), C order (a
/// Fortran-order file is transposed). Rejects other dtypes and ranks, empty arrays and NaN/inf
/// entries (naming the first one).
pub fn read_inputs(path: &Path, arg: &str) -> Result<InputArray> {
    let npy = open_npy(path, arg)?;
    let shape = npy.shape().to_vec();
    let fortran = npy.order() == npyz::Order::Fortran;
    if !(shape.len() == 2 || shape.len() == 4) {
        return Err(usage(format!(
            "{arg}: {} has shape {shape:?}; expected (n, d) or NHWC (n, H, W, C)",
            path.display()
        )));
    }
    let rows = shape[0] as usize;
    let cols: usize = shape[1..].iter().product::<u64>() as usize;
    if rows == 0 || cols == 0 {
        return Err(usage(format!(
            "{arg}: {} is empty (shape {shape:?})",
            path.display()
        )));
    }
    let values = read_floats(npy, arg, path)?;
    if let Some(index) = values.iter().position(|v| !v.is_finite()) {
        return Err(usage(format!(
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
    let mut fingerprint = fnv1a(format!("{rows}x{cols}").into_bytes(), None);
    for i in 0..rows {
        for j in 0..cols {
            fingerprint = fnv1a(matrix[(i, j)].to_le_bytes(), Some(fingerprint));
        }
    }
    Ok(InputArray {
        shape,
        matrix,
        fingerprint,
    })
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
            return Err(usage(format!(
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
                return Err(usage(format!(
                    "{arg}: {} has unsupported label dtype {ts}",
                    path.display()
                )));
            }
        }
        .map_err(|e| usage(format!("{arg}: cannot read {}: {e}", path.display())))?;
        if labels.is_empty() {
            return Err(usage(format!("{arg}: {} is empty", path.display())));
        }
        if let Some(bad) = labels.iter().position(|&l| l < 0) {
            return Err(usage(format!(
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
        return Err(usage(format!(
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
        return Err(usage(format!(
            "{arg}: {} has a non-finite entry at flat index {index}",
            path.display()
        )));
    }
    Ok((Mat::from_fn(rows, cols, |i, j| values[i * cols + j]), None))
}

/// The `.npy` header (format 1.0, C order) of a `rows` × `cols` array of `dtype`, as `npyz`
/// writes it.
pub fn header_bytes(rows: usize, cols: usize, dtype: Dtype) -> Result<Vec<u8>> {
    let type_str: npyz::TypeStr = dtype
        .descr()
        .parse()
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let mut header = Vec::new();
    npyz::WriteOptions::new_header_only()
        .dtype(npyz::DType::Plain(type_str))
        .shape(&[rows as u64, cols as u64])
        .writer(&mut header)
        .write_header_only()?;
    Ok(header)
}

/// A `rows` × `cols` float matrix stored in a `.npy` file, read and written by positioned I/O.
#[derive(Debug)]
pub struct NpyMatrixFile {
    file: File,
    path: PathBuf,
    offset: u64,
    rows: usize,
    cols: usize,
    dtype: Dtype,
}

impl NpyMatrixFile {
    /// Creates (truncates) `path` as a zero-filled `rows` × `cols` array: header, then the data
    /// region preallocated to its final size (`set_len`; sparse until written).
    pub fn create(path: &Path, rows: usize, cols: usize, dtype: Dtype) -> Result<Self> {
        let header = header_bytes(rows, cols, dtype)?;
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .map_err(|e| usage(format!("cannot create {}: {e}", path.display())))?;
        file.write_all(&header)
            .and_then(|_| file.set_len(header.len() as u64 + (rows * cols * dtype.size()) as u64))
            .map_err(|e| usage(format!("cannot write {}: {e}", path.display())))?;
        Ok(Self {
            file,
            path: path.to_path_buf(),
            offset: header.len() as u64,
            rows,
            cols,
            dtype,
        })
    }

    /// Opens an existing matrix file for reading (and writing, if `write`), checking that its
    /// header is that of a `rows` × `cols` float matrix (of `dtype`, if given) and that its size
    /// matches.
    pub fn open(path: &Path, write: bool, expect: Option<(usize, usize, Dtype)>) -> Result<Self> {
        let npy = open_npy(path, "kernel")?;
        let shape = npy.shape().to_vec();
        let ts = type_string(&npy);
        let dtype = match ts.as_str() {
            "<f4" => Dtype::F32,
            "<f8" => Dtype::F64,
            _ => {
                return Err(usage(format!(
                    "{}: kernel files must be little-endian float32/float64, found {ts}",
                    path.display()
                )));
            }
        };
        if shape.len() != 2 || npy.order() != npyz::Order::C {
            return Err(usage(format!(
                "{}: expected a C-order matrix, found shape {shape:?}",
                path.display()
            )));
        }
        let (rows, cols) = (shape[0] as usize, shape[1] as usize);
        if let Some((r, c, d)) = expect
            && (r, c, d) != (rows, cols, dtype)
        {
            return Err(usage(format!(
                "{}: expected a {r}×{c} {d:?} matrix, found {rows}×{cols} {dtype:?}",
                path.display()
            )));
        }
        let file = OpenOptions::new()
            .read(true)
            .write(write)
            .open(path)
            .map_err(|e| usage(format!("cannot open {}: {e}", path.display())))?;
        let len = file.metadata()?.len();
        let data = (rows * cols * dtype.size()) as u64;
        if len < data {
            return Err(usage(format!("{} is truncated", path.display())));
        }
        Ok(Self {
            file,
            path: path.to_path_buf(),
            offset: len - data,
            rows,
            cols,
            dtype,
        })
    }

    /// Rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Columns.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Storage type.
    pub fn dtype(&self) -> Dtype {
        self.dtype
    }

    /// Encodes `block` (row-major; its transpose if `transpose`) in the storage type, rows in
    /// parallel (rayon).
    pub fn encode(&self, block: MatRef<'_, f64>, transpose: bool) -> Vec<u8> {
        use rayon::prelude::*;
        let (r, c) = if transpose {
            (block.ncols(), block.nrows())
        } else {
            (block.nrows(), block.ncols())
        };
        let size = self.dtype.size();
        let mut bytes = vec![0u8; r * c * size];
        if c == 0 {
            return bytes;
        }
        let dtype = self.dtype;
        bytes
            .par_chunks_mut(c * size)
            .enumerate()
            .for_each(|(i, row)| {
                for (j, out) in row.chunks_exact_mut(size).enumerate() {
                    let v = if transpose {
                        block[(j, i)]
                    } else {
                        block[(i, j)]
                    };
                    match dtype {
                        Dtype::F32 => out.copy_from_slice(&(v as f32).to_le_bytes()),
                        Dtype::F64 => out.copy_from_slice(&v.to_le_bytes()),
                    }
                }
            });
        bytes
    }

    /// Writes an encoded row-major block (`n_rows` rows of `width` elements) at (row0, col0).
    pub fn write_block(&self, row0: usize, col0: usize, width: usize, bytes: &[u8]) -> Result<()> {
        let row_bytes = width * self.dtype.size();
        for (k, chunk) in bytes.chunks(row_bytes).enumerate() {
            let at = self.offset + (((row0 + k) * self.cols + col0) * self.dtype.size()) as u64;
            self.file
                .write_all_at(chunk, at)
                .map_err(|e| usage(format!("cannot write {}: {e}", self.path.display())))?;
        }
        Ok(())
    }

    /// Reads the raw bytes of the block rows × cols (row-major).
    pub fn read_block_bytes(
        &self,
        rows: std::ops::Range<usize>,
        cols: std::ops::Range<usize>,
    ) -> Result<Vec<u8>> {
        let size = self.dtype.size();
        let width = cols.len() * size;
        let mut bytes = vec![0u8; rows.len() * width];
        if cols.len() == self.cols {
            let at = self.offset + (rows.start * self.cols * size) as u64;
            self.file
                .read_exact_at(&mut bytes, at)
                .with_context(|| format!("cannot read {}", self.path.display()))?;
            return Ok(bytes);
        }
        for (k, chunk) in bytes.chunks_mut(width.max(1)).enumerate() {
            let at = self.offset + (((rows.start + k) * self.cols + cols.start) * size) as u64;
            self.file
                .read_exact_at(chunk, at)
                .with_context(|| format!("cannot read {}", self.path.display()))?;
        }
        Ok(bytes)
    }

    /// The block rows × cols as float64 (row-major in a faer matrix).
    pub fn read_block(
        &self,
        rows: std::ops::Range<usize>,
        cols: std::ops::Range<usize>,
    ) -> Result<Mat<f64>> {
        let (r, c) = (rows.len(), cols.len());
        let bytes = self.read_block_bytes(rows, cols)?;
        let size = self.dtype.size();
        let value = |k: usize| -> f64 {
            let b = &bytes[k * size..(k + 1) * size];
            match self.dtype {
                Dtype::F32 => f64::from(f32::from_le_bytes(b.try_into().expect("4 bytes"))),
                Dtype::F64 => f64::from_le_bytes(b.try_into().expect("8 bytes")),
            }
        };
        Ok(Mat::from_fn(r, c, |i, j| value(i * c + j)))
    }

    /// Flushes written data to disk.
    pub fn sync(&self) -> Result<()> {
        self.file
            .sync_all()
            .map_err(|e| usage(format!("cannot sync {}: {e}", self.path.display())))
    }
}

/// Writes a small matrix to `path` atomically (a temporary file beside it, then rename).
pub fn write_matrix(path: &Path, m: MatRef<'_, f64>, dtype: Dtype) -> Result<()> {
    let tmp = path.with_extension("npy.tmp");
    {
        let file = NpyMatrixFile::create(&tmp, m.nrows(), m.ncols(), dtype)?;
        let bytes = file.encode(m, false);
        file.write_block(0, 0, m.ncols(), &bytes)?;
        file.sync()?;
    }
    std::fs::rename(&tmp, path).map_err(|e| {
        usage(format!(
            "cannot rename {} to {}: {e}",
            tmp.display(),
            path.display()
        ))
    })
}
