//! The UCI optical-recognition handwritten digits (1797 8×8 images, pixels 0..16), two-class
//! subsets on the unit sphere with ±1 labels, seeded label noise and train/test splits.
//!
//! Provenance: `data/README.md` of the workspace (Alpaydin & Kaynak 1998, UCI ML Repository,
//! CC BY 4.0; the copy shipped with scikit-learn).

use std::io::Read;
use std::path::{Path, PathBuf};

use faer::Mat;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::error::{Error, Result};

/// Number of pixels per image.
pub const DIGITS_DIM: usize = 64;

/// Path of the bundled `data/digits.csv.gz`.
pub fn bundled_digits_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/digits.csv.gz")
}

/// The full digits data set: one image per row of `pixels`, its class in `labels`.
#[derive(Debug, Clone, PartialEq)]
pub struct Digits {
    /// n × 64 raw pixel intensities (0..16).
    pub pixels: Mat<f64>,
    /// Class 0..9 of each row.
    pub labels: Vec<u8>,
}

/// A two-class data set: inputs on the unit sphere (one per row), labels ±1.
#[derive(Debug, Clone, PartialEq)]
pub struct BinaryDataset {
    /// n × d inputs with ‖xᵢ‖ = 1.
    pub x: Mat<f64>,
    /// Labels in {−1, +1}.
    pub y: Vec<f64>,
}

impl Digits {
    /// Loads a gzipped CSV with 64 pixel columns and a final class column, no header.
    pub fn load(path: &Path) -> Result<Self> {
        let io = |reason: String| Error::Io {
            path: path.display().to_string(),
            reason,
        };
        let file = std::fs::File::open(path).map_err(|e| io(e.to_string()))?;
        let mut text = String::new();
        flate2::read::GzDecoder::new(file)
            .read_to_string(&mut text)
            .map_err(|e| io(e.to_string()))?;
        let mut values = Vec::new();
        let mut labels = Vec::new();
        for (line_idx, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let fields: Vec<&str> = line.split(',').collect();
            if fields.len() != DIGITS_DIM + 1 {
                return Err(io(format!(
                    "line {}: expected {} fields, found {}",
                    line_idx + 1,
                    DIGITS_DIM + 1,
                    fields.len()
                )));
            }
            for field in &fields[..DIGITS_DIM] {
                let v: f64 = field
                    .trim()
                    .parse()
                    .map_err(|_| io(format!("line {}: bad pixel {field:?}", line_idx + 1)))?;
                if !v.is_finite() {
                    return Err(io(format!("line {}: non-finite pixel", line_idx + 1)));
                }
                values.push(v);
            }
            let label: u8 = fields[DIGITS_DIM]
                .trim()
                .parse()
                .ok()
                .filter(|c| *c <= 9)
                .ok_or_else(|| io(format!("line {}: bad class label", line_idx + 1)))?;
            labels.push(label);
        }
        if labels.is_empty() {
            return Err(Error::Empty { arg: "digits file" });
        }
        let pixels = Mat::from_fn(labels.len(), DIGITS_DIM, |i, j| values[i * DIGITS_DIM + j]);
        Ok(Self { pixels, labels })
    }

    /// Loads the copy bundled with the workspace, `data/digits.csv.gz`.
    pub fn load_bundled() -> Result<Self> {
        Self::load(&bundled_digits_path())
    }

    /// The images of classes `positive` (label +1) and `negative` (label −1), in file order,
    /// each scaled to unit Euclidean norm. A zero image gives [`Error::ZeroNorm`].
    pub fn two_class(&self, positive: u8, negative: u8) -> Result<BinaryDataset> {
        if positive == negative || positive > 9 || negative > 9 {
            return Err(Error::InvalidParameter {
                arg: "positive/negative",
                value: f64::from(positive) * 10.0 + f64::from(negative),
                reason: "need two distinct digits in 0..=9",
            });
        }
        let rows: Vec<usize> = (0..self.labels.len())
            .filter(|&i| self.labels[i] == positive || self.labels[i] == negative)
            .collect();
        if rows.is_empty() {
            return Err(Error::Empty {
                arg: "two-class subset",
            });
        }
        let mut norms = Vec::with_capacity(rows.len());
        for &r in &rows {
            let norm = (0..DIGITS_DIM)
                .map(|j| self.pixels[(r, j)].powi(2))
                .sum::<f64>()
                .sqrt();
            if norm == 0.0 {
                return Err(Error::ZeroNorm {
                    arg: "pixels",
                    index: r,
                });
            }
            norms.push(norm);
        }
        let x = Mat::from_fn(rows.len(), DIGITS_DIM, |i, j| {
            self.pixels[(rows[i], j)] / norms[i]
        });
        let y = rows
            .iter()
            .map(|&r| {
                if self.labels[r] == positive {
                    1.0
                } else {
                    -1.0
                }
            })
            .collect();
        Ok(BinaryDataset { x, y })
    }
}

/// Normalises each row of `x` to unit Euclidean norm; a zero row gives [`Error::ZeroNorm`].
pub fn normalize_rows(x: &Mat<f64>) -> Result<Mat<f64>> {
    let mut norms = Vec::with_capacity(x.nrows());
    for i in 0..x.nrows() {
        let norm = (0..x.ncols())
            .map(|j| x[(i, j)].powi(2))
            .sum::<f64>()
            .sqrt();
        if !norm.is_finite() {
            return Err(Error::NonFinite {
                arg: "x",
                index: i,
                value: norm,
            });
        }
        if norm == 0.0 {
            return Err(Error::ZeroNorm { arg: "x", index: i });
        }
        norms.push(norm);
    }
    Ok(Mat::from_fn(x.nrows(), x.ncols(), |i, j| {
        x[(i, j)] / norms[i]
    }))
}

/// A seeded uniformly random permutation of 0..n (Fisher–Yates on ChaCha8).
fn permutation(n: usize, rng: &mut ChaCha8Rng) -> Vec<usize> {
    let mut p: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = rng.random_range(0..=i);
        p.swap(i, j);
    }
    p
}

impl BinaryDataset {
    /// Number of points.
    pub fn len(&self) -> usize {
        self.y.len()
    }

    /// Whether the data set is empty.
    pub fn is_empty(&self) -> bool {
        self.y.is_empty()
    }

    /// The rows `idx` in that order.
    pub fn select(&self, idx: &[usize]) -> BinaryDataset {
        BinaryDataset {
            x: Mat::from_fn(idx.len(), self.x.ncols(), |i, j| self.x[(idx[i], j)]),
            y: idx.iter().map(|&i| self.y[i]).collect(),
        }
    }

    /// A copy with exactly round(p·n) labels flipped, at indices drawn uniformly without
    /// replacement from a ChaCha8 stream seeded with `seed`. Returns the copy and the flipped
    /// indices (ascending).
    pub fn with_label_noise(&self, p: f64, seed: u64) -> Result<(BinaryDataset, Vec<usize>)> {
        if !(0.0..=1.0).contains(&p) {
            return Err(Error::InvalidParameter {
                arg: "p",
                value: p,
                reason: "flip fraction must lie in [0, 1]",
            });
        }
        let n = self.len();
        let n_flip = (p * n as f64).round() as usize;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut flipped: Vec<usize> = permutation(n, &mut rng)[..n_flip].to_vec();
        flipped.sort_unstable();
        let mut noisy = self.clone();
        for &i in &flipped {
            noisy.y[i] = -noisy.y[i];
        }
        Ok((noisy, flipped))
    }

    /// A seeded random split: round(test_fraction·n) points go to the test set, the rest to
    /// the training set (both must be non-empty). Returns `(train, test)`.
    pub fn train_test_split(
        &self,
        test_fraction: f64,
        seed: u64,
    ) -> Result<(BinaryDataset, BinaryDataset)> {
        let n = self.len();
        let n_test = (test_fraction * n as f64).round() as usize;
        if !(test_fraction > 0.0 && test_fraction < 1.0) || n_test == 0 || n_test >= n {
            return Err(Error::InvalidParameter {
                arg: "test_fraction",
                value: test_fraction,
                reason: "must leave both the train and the test set non-empty",
            });
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let perm = permutation(n, &mut rng);
        let (test, train) = perm.split_at(n_test);
        Ok((self.select(train), self.select(test)))
    }
}
