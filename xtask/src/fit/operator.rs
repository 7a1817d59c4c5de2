//! A kernel matrix stored in a `.npy` file as an operator: products K[rows, cols]·V computed
//! from row chunks read by positioned I/O, holding one chunk per worker at a time.
//!
//! The rows are split into fixed chunks of [`CHUNK_ROWS`] rows processed in parallel (rayon):
//! each task reads its chunk with one positioned read per row run (so reading overlaps the
//! arithmetic of the other tasks), converts it to float64 in tiles of [`TILE_COLS`] columns that
//! stay in cache, and accumulates tile × V by a sequential faer GEMM, tiles in column order.
//! Every output row is produced by the same operations whatever the thread count, so products
//! (and the solvers built on them) are bit-identical for 1 or 2 threads. At most
//! `threads × (chunk bytes + one float64 tile)` is held at a time: the kernel itself stays in
//! the page cache (not in the process's resident set).

use crate::npy::NpyMatrixFile;
use faer::{Accum, Mat, MatRef, Par};
use ntk_kernels::Error;
use ntk_kernels::regression::SymmetricOperator;
use rayon::prelude::*;
use std::ops::Range;

/// Rows per parallel task.
pub const CHUNK_ROWS: usize = 64;

/// Columns per float64 conversion tile (64 × 2048 × 8 bytes = 1 MiB, cache-resident).
pub const TILE_COLS: usize = 2048;

/// The block K[rows, cols] of a stored matrix.
#[derive(Debug)]
pub struct FileOperator<'a> {
    file: &'a NpyMatrixFile,
    rows: Range<usize>,
    cols: Range<usize>,
}

impl<'a> FileOperator<'a> {
    /// The block rows × cols of `file`. A product holds at most the worker count times one
    /// chunk ([`CHUNK_ROWS`] rows of the block) plus one tile.
    pub fn new(file: &'a NpyMatrixFile, rows: Range<usize>, cols: Range<usize>) -> Self {
        Self { file, rows, cols }
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
        let starts: Vec<usize> = (0..n_rows).step_by(CHUNK_ROWS).collect();
        let parts: Vec<Mat<f64>> = starts
            .par_iter()
            .map(|&start| {
                let len = CHUNK_ROWS.min(n_rows - start);
                let first = self.rows.start + start;
                self.chunk_product(first..first + len, v)
            })
            .collect::<ntk_kernels::Result<_>>()?;
        let mut out = Mat::<f64>::zeros(n_rows, c);
        for (&start, part) in starts.iter().zip(&parts) {
            out.as_mut()
                .submatrix_mut(start, 0, part.nrows(), c)
                .copy_from(part.as_ref());
        }
        Ok(out)
    }

    /// K[rows, cols]·v for one chunk of rows: one read, then cache-sized float64 tiles.
    fn chunk_product(
        &self,
        rows: Range<usize>,
        v: MatRef<'_, f64>,
    ) -> ntk_kernels::Result<Mat<f64>> {
        let (r, width) = (rows.len(), self.cols.len());
        let bytes = self
            .file
            .read_block_bytes(rows, self.cols.clone())
            .map_err(|e| Error::Io(e.to_string()))?;
        let size = self.file.dtype().size();
        let mut part = Mat::<f64>::zeros(r, v.ncols());
        let mut tile = vec![0.0f64; r * TILE_COLS];
        for col0 in (0..width).step_by(TILE_COLS) {
            let tile_width = TILE_COLS.min(width - col0);
            for i in 0..r {
                let source =
                    &bytes[(i * width + col0) * size..(i * width + col0 + tile_width) * size];
                let target = &mut tile[i * tile_width..(i + 1) * tile_width];
                if size == 4 {
                    for (t, b) in target.iter_mut().zip(source.chunks_exact(4)) {
                        *t = f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]]));
                    }
                } else {
                    for (t, b) in target.iter_mut().zip(source.chunks_exact(8)) {
                        *t = f64::from_le_bytes(b.try_into().expect("8 bytes"));
                    }
                }
            }
            let k = MatRef::from_row_major_slice(&tile[..r * tile_width], r, tile_width);
            let accum = if col0 == 0 {
                Accum::Replace
            } else {
                Accum::Add
            };
            faer::linalg::matmul::matmul(
                part.as_mut(),
                accum,
                k,
                v.subrows(col0, tile_width),
                1.0,
                Par::Seq,
            );
        }
        Ok(part)
    }
}

impl SymmetricOperator for FileOperator<'_> {
    fn dim(&self) -> usize {
        self.rows.len()
    }

    fn apply(&self, v: MatRef<'_, f64>) -> ntk_kernels::Result<Mat<f64>> {
        self.product(v)
    }

    /// K[rows, cols.start + idx]: for a diagonal block (rows = cols) of a symmetric stored
    /// kernel these are the stored rows cols.start + idx restricted to `rows` (contiguous
    /// reads); otherwise one product with the selecting unit vectors.
    fn columns(&self, idx: &[usize]) -> ntk_kernels::Result<Mat<f64>> {
        let n = self.cols.len();
        if let Some(&bad) = idx.iter().find(|&&i| i >= n) {
            return Err(Error::InvalidParameter {
                arg: "idx",
                value: bad.to_string(),
                reason: "column index out of range",
            });
        }
        if self.rows != self.cols {
            let selector = Mat::<f64>::from_fn(n, idx.len(), |i, k| f64::from(idx[k] == i));
            return self.product(selector.as_ref());
        }
        let rows: Vec<Mat<f64>> = idx
            .par_iter()
            .map(|&k| {
                let i = self.cols.start + k;
                self.file
                    .read_block(i..i + 1, self.rows.clone())
                    .map_err(|e| Error::Io(e.to_string()))
            })
            .collect::<ntk_kernels::Result<_>>()?;
        Ok(Mat::from_fn(self.rows.len(), idx.len(), |i, k| {
            rows[k][(0, i)]
        }))
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
