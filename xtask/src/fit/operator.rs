//! A kernel matrix stored in a `.npy` file as an operator: products K[rows, cols]·V computed in
//! row blocks read by positioned I/O, within a memory budget.
//!
//! Each block of rows is read in one call, then split into fixed chunks of [`CHUNK_ROWS`] rows
//! processed in parallel (rayon); a chunk is converted to float64 and multiplied by V with a
//! sequential faer GEMM. Every output row is produced by the same operations whatever the thread
//! count, so products (and the solvers built on them) are bit-identical for 1 or 2 threads.

use crate::npy::NpyMatrixFile;
use faer::{Accum, Mat, MatRef, Par};
use ntk_kernels::Error;
use ntk_kernels::regression::SymmetricOperator;
use rayon::prelude::*;
use std::ops::Range;

/// Rows per parallel task.
pub const CHUNK_ROWS: usize = 64;

/// The block K[rows, cols] of a stored matrix.
#[derive(Debug)]
pub struct FileOperator<'a> {
    file: &'a NpyMatrixFile,
    rows: Range<usize>,
    cols: Range<usize>,
    block_rows: usize,
}

impl<'a> FileOperator<'a> {
    /// The block rows × cols of `file`, read `budget` bytes (raw + float64 chunks) at a time.
    pub fn new(
        file: &'a NpyMatrixFile,
        rows: Range<usize>,
        cols: Range<usize>,
        budget: u64,
    ) -> Self {
        let per_row = (file.cols() * file.dtype().size()) as u64;
        let block_rows = ((budget / per_row.max(1)) as usize / CHUNK_ROWS).max(1) * CHUNK_ROWS;
        Self {
            file,
            rows,
            cols,
            block_rows,
        }
    }

    /// K[rows, cols]·v for v of size |cols| × c.
    pub fn product(&self, v: MatRef<'_, f64>) -> ntk_kernels::Result<Mat<f64>> {
        if v.nrows() != self.cols.len() {
            return Err(Error::ShapeMismatch {
                arg: "v",
                expected: format!("{} rows", self.cols.len()),
                found: format!("{} rows", v.nrows()),
            });
        }
        let (n_rows, c) = (self.rows.len(), v.ncols());
        let mut out = Mat::<f64>::zeros(n_rows, c);
        let size = self.file.dtype().size();
        let width = self.file.cols();
        let mut start = 0;
        while start < n_rows {
            let len = self.block_rows.min(n_rows - start);
            let first = self.rows.start + start;
            // Whole rows: one contiguous read; the columns are selected per chunk.
            let bytes = self
                .file
                .read_block_bytes(first..first + len, 0..width)
                .map_err(|e| Error::Io(e.to_string()))?;
            let chunks: Vec<Mat<f64>> = bytes
                .par_chunks(CHUNK_ROWS * width * size)
                .map(|chunk| {
                    let r = chunk.len() / (width * size);
                    let values: Vec<f64> = if size == 4 {
                        chunk
                            .chunks_exact(4)
                            .map(|b| f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]])))
                            .collect()
                    } else {
                        chunk
                            .chunks_exact(8)
                            .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")))
                            .collect()
                    };
                    let k = MatRef::from_row_major_slice(&values, r, width)
                        .subcols(self.cols.start, self.cols.len());
                    let mut part = Mat::<f64>::zeros(r, c);
                    faer::linalg::matmul::matmul(
                        part.as_mut(),
                        Accum::Replace,
                        k,
                        v,
                        1.0,
                        Par::Seq,
                    );
                    part
                })
                .collect();
            let mut row = start;
            for part in chunks {
                out.as_mut()
                    .submatrix_mut(row, 0, part.nrows(), c)
                    .copy_from(part.as_ref());
                row += part.nrows();
            }
            start += len;
        }
        Ok(out)
    }
}

impl SymmetricOperator for FileOperator<'_> {
    fn dim(&self) -> usize {
        self.rows.len()
    }

    fn apply(&self, v: MatRef<'_, f64>) -> ntk_kernels::Result<Mat<f64>> {
        self.product(v)
    }

    fn diagonal(&self) -> ntk_kernels::Result<Vec<f64>> {
        (0..self.rows.len())
            .map(|k| {
                let (i, j) = (self.rows.start + k, self.cols.start + k);
                self.file
                    .read_block(i..i + 1, j..j + 1)
                    .map(|m| m[(0, 0)])
                    .map_err(|e| Error::Io(e.to_string()))
            })
            .collect()
    }
}
