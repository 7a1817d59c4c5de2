//! A kernel matrix in a `.npy` file, read and written by positioned I/O.

use super::read::{open_npy, type_string};
use super::{Dtype, file_error};
use crate::error::IoCause;
use crate::{Error, Result};
use faer::{Mat, MatRef};
use npyz::WriterBuilder;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// The `.npy` header (format 1.0, C order) of a `rows` × `cols` array of `dtype`, as `npyz`
/// writes it.
pub fn header_bytes(rows: usize, cols: usize, dtype: Dtype) -> Result<Vec<u8>> {
    let type_str: npyz::TypeStr = dtype
        .descr()
        .parse()
        .map_err(|e| file_error(format!("the .npy type string {}: {e:?}", dtype.descr())))?;
    let mut header = Vec::new();
    npyz::WriteOptions::new_header_only()
        .dtype(npyz::DType::Plain(type_str))
        .shape(&[rows as u64, cols as u64])
        .writer(&mut header)
        .write_header_only()
        .map_err(|e| file_error(format!("cannot encode a .npy header: {e}")))?;
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
            .map_err(|e| file_error(format!("cannot create {}: {e}", path.display())))?;
        file.write_all(&header)
            .and_then(|_| file.set_len(header.len() as u64 + (rows * cols * dtype.size()) as u64))
            .map_err(|e| file_error(format!("cannot write {}: {e}", path.display())))?;
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
                return Err(file_error(format!(
                    "{}: kernel files must be little-endian float32/float64, found {ts}",
                    path.display()
                )));
            }
        };
        if shape.len() != 2 || npy.order() != npyz::Order::C {
            return Err(file_error(format!(
                "{}: expected a C-order matrix, found shape {shape:?}",
                path.display()
            )));
        }
        let (rows, cols) = (shape[0] as usize, shape[1] as usize);
        if let Some((r, c, d)) = expect
            && (r, c, d) != (rows, cols, dtype)
        {
            return Err(file_error(format!(
                "{}: expected a {r}×{c} {d:?} matrix, found {rows}×{cols} {dtype:?}",
                path.display()
            )));
        }
        let file = OpenOptions::new()
            .read(true)
            .write(write)
            .open(path)
            .map_err(|e| file_error(format!("cannot open {}: {e}", path.display())))?;
        let len = file
            .metadata()
            .map_err(|e| Error::KernelIo {
                message: format!("cannot read the size of {}", path.display()),
                cause: IoCause(e.to_string()),
            })?
            .len();
        let data = (rows * cols * dtype.size()) as u64;
        if len < data {
            return Err(file_error(format!("{} is truncated", path.display())));
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

    fn read_error(&self, e: std::io::Error) -> Error {
        Error::KernelIo {
            message: format!("cannot read {}", self.path.display()),
            cause: IoCause(e.to_string()),
        }
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
                .map_err(|e| file_error(format!("cannot write {}: {e}", self.path.display())))?;
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
                .map_err(|e| self.read_error(e))?;
            return Ok(bytes);
        }
        for (k, chunk) in bytes.chunks_mut(width.max(1)).enumerate() {
            let at = self.offset + (((rows.start + k) * self.cols + cols.start) * size) as u64;
            self.file
                .read_exact_at(chunk, at)
                .map_err(|e| self.read_error(e))?;
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
            .map_err(|e| file_error(format!("cannot sync {}: {e}", self.path.display())))
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
        file_error(format!(
            "cannot rename {} to {}: {e}",
            tmp.display(),
            path.display()
        ))
    })
}
