//! Kernel matrices computed tile by tile, for data sets whose kernel does not fit in memory.
//!
//! A [`TilePlan`] cuts the n₁ × n₂ matrix K(x1, x2) into square tiles of side `tile` (the last
//! row and column of tiles may be smaller) and fixes their order once and for all:
//!
//! $$ \text{tile } k \leftrightarrow (b_i, b_j),\quad \text{rows } [b_i s, (b_i+1)s) \cap [0, n_1),
//!    \quad \text{cols } [b_j s, (b_j+1)s) \cap [0, n_2), $$
//!
//! enumerated row-major over the block indices (b_i, b_j), and for a self kernel (x2 = x1) over
//! the upper block triangle b_j ≥ b_i only: the lower tiles are the transposes of the upper ones
//! (K is symmetric). Tile indices k = 0, 1, … are stable for a given (n₁, n₂, s, symmetric), so a
//! manifest of finished tiles (resume) or a split of the indices among jobs (sharding) can refer
//! to them.
//!
//! A [`TileKernel`] computes one tile from its row and column ranges; [`AnalyticTiles`] is the
//! fully-connected analytic kernel ([`crate::analytic::kernel`]). Tile sides are multiples of
//! [`TILE_ALIGN`], the block size of the in-memory recursion, so every entry of a tile is computed
//! by exactly the same operations as in one in-memory call: a streamed kernel equals the in-memory
//! kernel bit for bit (checked in the tests). A diagonal tile of a self kernel is evaluated as a
//! self kernel, so its diagonal Σ(x, x) is exact there too.

use crate::analytic::{Get, Kernel, kernel};
use crate::{Architecture, Error, Result};
use faer::MatRef;
use std::ops::Range;

/// Tile sides are multiples of this (the block size of [`crate::analytic::kernel`]).
pub const TILE_ALIGN: usize = 128;

/// One tile of a [`TilePlan`]: its index in the fixed order and its row and column ranges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TileRange {
    /// Position in the plan's order (0-based).
    pub index: usize,
    /// Rows of K (indices into x1).
    pub rows: Range<usize>,
    /// Columns of K (indices into x2, or x1 for a self kernel).
    pub cols: Range<usize>,
}

impl TileRange {
    /// Whether the tile straddles the diagonal of a self kernel (same row and column block).
    pub fn is_diagonal(&self) -> bool {
        self.rows == self.cols
    }

    /// Number of entries of the tile.
    pub fn entries(&self) -> usize {
        self.rows.len() * self.cols.len()
    }
}

/// The tiles of an n₁ × n₂ kernel matrix in a fixed order (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TilePlan {
    n_rows: usize,
    n_cols: usize,
    tile: usize,
    symmetric: bool,
}

impl TilePlan {
    /// A plan of `tile` × `tile` tiles over an `n_rows` × `n_cols` matrix; `symmetric` (a self
    /// kernel, n_rows = n_cols) keeps only the upper block triangle.
    ///
    /// # Errors
    /// Empty matrix, `tile` zero or not a multiple of [`TILE_ALIGN`] (unless it covers the whole
    /// matrix), a symmetric plan of a non-square matrix.
    pub fn new(n_rows: usize, n_cols: usize, tile: usize, symmetric: bool) -> Result<Self> {
        if n_rows == 0 || n_cols == 0 {
            return Err(Error::Empty {
                arg: "kernel matrix",
            });
        }
        if tile == 0 || (!tile.is_multiple_of(TILE_ALIGN) && tile < n_rows.max(n_cols)) {
            return Err(Error::InvalidParameter {
                arg: "tile",
                value: tile.to_string(),
                reason: "must be a positive multiple of 128 (or cover the whole matrix)",
            });
        }
        if symmetric && n_rows != n_cols {
            return Err(Error::ShapeMismatch {
                arg: "symmetric tile plan",
                expected: format!("{n_rows}x{n_rows}"),
                found: format!("{n_rows}x{n_cols}"),
            });
        }
        Ok(Self {
            n_rows,
            n_cols,
            tile: tile.min(n_rows.max(n_cols)),
            symmetric,
        })
    }

    /// The largest tile side (a multiple of [`TILE_ALIGN`], at least one block) whose working
    /// memory `side² · bytes_per_entry` fits in `budget_bytes`, capped at the matrix size.
    pub fn side_for_budget(budget_bytes: u64, bytes_per_entry: u64, n_max: usize) -> usize {
        let entries = budget_bytes / bytes_per_entry.max(1);
        let side = (entries as f64).sqrt() as usize;
        let aligned = (side / TILE_ALIGN).max(1) * TILE_ALIGN;
        if aligned >= n_max {
            n_max.div_ceil(TILE_ALIGN) * TILE_ALIGN
        } else {
            aligned
        }
    }

    /// Rows of the matrix.
    pub fn n_rows(&self) -> usize {
        self.n_rows
    }

    /// Columns of the matrix.
    pub fn n_cols(&self) -> usize {
        self.n_cols
    }

    /// The tile side.
    pub fn tile(&self) -> usize {
        self.tile
    }

    /// Whether only the upper block triangle is planned (self kernel).
    pub fn symmetric(&self) -> bool {
        self.symmetric
    }

    fn blocks(&self) -> (usize, usize) {
        (
            self.n_rows.div_ceil(self.tile),
            self.n_cols.div_ceil(self.tile),
        )
    }

    /// Number of tiles.
    pub fn len(&self) -> usize {
        let (b1, b2) = self.blocks();
        if self.symmetric {
            b1 * (b1 + 1) / 2
        } else {
            b1 * b2
        }
    }

    /// Whether the plan has no tiles (never: the matrix is not empty).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Entries computed by the plan (the upper block triangle only for a self kernel).
    pub fn computed_entries(&self) -> u64 {
        self.tiles().map(|t| t.entries() as u64).sum()
    }

    /// Every tile, in the plan's fixed order.
    pub fn tiles(&self) -> impl Iterator<Item = TileRange> + '_ {
        let (b1, b2) = self.blocks();
        let symmetric = self.symmetric;
        (0..b1)
            .flat_map(move |bi| ((if symmetric { bi } else { 0 })..b2).map(move |bj| (bi, bj)))
            .enumerate()
            .map(|(index, (bi, bj))| TileRange {
                index,
                rows: bi * self.tile..((bi + 1) * self.tile).min(self.n_rows),
                cols: bj * self.tile..((bj + 1) * self.tile).min(self.n_cols),
            })
    }
}

/// Something that computes the kernel on one tile of a [`TilePlan`]: the plug-in point of the
/// streaming drivers (fully-connected analytic kernels here; any other kernel family implements
/// the same three methods).
pub trait TileKernel: Sync {
    /// Rows n₁ of the full matrix (points of x1).
    fn n_rows(&self) -> usize;
    /// Columns n₂ of the full matrix (points of x2, or x1 for a self kernel).
    fn n_cols(&self) -> usize;
    /// Whether this is the self kernel of x1 (symmetric; only upper tiles are computed).
    fn symmetric(&self) -> bool;
    /// The requested kernels on the rows × cols block of K (n_rows(tile) × n_cols(tile)).
    fn compute(&self, tile: &TileRange) -> Result<Kernel>;
}

/// The fully-connected analytic kernels ([`crate::analytic::kernel`]) of `x1` against `x2`
/// (`None`: against itself), tile by tile.
#[derive(Debug, Clone, Copy)]
pub struct AnalyticTiles<'a> {
    pub architecture: &'a Architecture,
    pub x1: MatRef<'a, f64>,
    pub x2: Option<MatRef<'a, f64>>,
    pub get: Get,
}

impl TileKernel for AnalyticTiles<'_> {
    fn n_rows(&self) -> usize {
        self.x1.nrows()
    }

    fn n_cols(&self) -> usize {
        self.x2.unwrap_or(self.x1).nrows()
    }

    fn symmetric(&self) -> bool {
        self.x2.is_none()
    }

    /// K on the tile: the self kernel of the tile's rows for a diagonal tile of a self kernel,
    /// otherwise the cross kernel of `x1[rows]` against `x2[cols]`.
    fn compute(&self, tile: &TileRange) -> Result<Kernel> {
        let other = self.x2.unwrap_or(self.x1);
        if tile.cols.end > other.nrows() || tile.rows.end > self.x1.nrows() {
            return Err(Error::ShapeMismatch {
                arg: "tile",
                expected: format!("within {}x{}", self.x1.nrows(), other.nrows()),
                found: format!("rows {:?}, cols {:?}", tile.rows, tile.cols),
            });
        }
        let rows = self.x1.subrows(tile.rows.start, tile.rows.len());
        if self.symmetric() && tile.is_diagonal() {
            return kernel(self.architecture, rows, None, self.get);
        }
        let cols = other.subrows(tile.cols.start, tile.cols.len());
        kernel(self.architecture, rows, Some(cols), self.get)
    }
}
