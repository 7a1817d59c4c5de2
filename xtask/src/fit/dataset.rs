//! Built-in data sets of `cargo xtask fit --dataset NAME`: the images are read by the project's
//! loader, preprocessed, and written once as `.npy` files into `OUT/data/`, which the fit then
//! reads like any user-given files (so resuming, fingerprints and the summary are the same).
//!
//! - `fashion-mnist`: the full Fashion-MNIST (Xiao, Rasul & Vollgraf 2017, arXiv:1708.07747),
//!   60 000 training and 10 000 test images, from `--data-dir` or from Debian's
//!   `dataset-fashion-mnist` package ([`ntk_bounds::fashion_mnist::DEBIAN_DIR`]); every file is
//!   checked against the SHA-256 of the original release.
//! - `fashion-mnist-subset`: the stratified 10 000 + 2 000 subset shipped in `data/fashion-mnist/`
//!   (needs nothing installed).
//!
//! Images are rows of 784 pixels (28 × 28 × 1, NHWC flattened), standardised per image by
//! default (centred, scaled to norm √784: the convention of Arora et al. 2019 §5 and Novak et
//! al. 2019 §A.6) or scaled to [0, 1]; labels are written as `uint8` arrays (n,), which the fit
//! one-hot encodes.

use crate::UsageError;
use crate::npy::{Dtype, write_matrix};
use anyhow::Result;
use ntk_bounds::fashion_mnist::{FashionMnist, ImageSet, Preprocessing, preprocess};
use std::path::{Path, PathBuf};

/// A data set `fit` knows by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuiltinDataset {
    /// The full 60 000 + 10 000 images, from this directory or Debian's package.
    FashionMnist { dir: Option<PathBuf> },
    /// The shipped 10 000 + 2 000 subset.
    FashionMnistSubset,
}

/// Names accepted by `--dataset`.
pub const DATASET_NAMES: [&str; 2] = ["fashion-mnist", "fashion-mnist-subset"];

impl BuiltinDataset {
    /// Parses `--dataset NAME` (with `--data-dir` for the full set).
    pub fn parse(name: &str, dir: Option<PathBuf>) -> Result<Self> {
        match name {
            "fashion-mnist" => Ok(Self::FashionMnist { dir }),
            "fashion-mnist-subset" if dir.is_none() => Ok(Self::FashionMnistSubset),
            "fashion-mnist-subset" => Err(UsageError::new(
                "--data-dir: the subset is the shipped one (data/fashion-mnist/); use --dataset fashion-mnist to read another directory".to_string(),
            )
            .into()),
            other => Err(UsageError::new(format!(
                "--dataset: unknown data set {other:?}; known: {}",
                DATASET_NAMES.join(", ")
            ))
            .into()),
        }
    }

    fn load(&self) -> Result<FashionMnist> {
        let loaded = match self {
            Self::FashionMnist { dir } => FashionMnist::load_full(dir.as_deref()),
            Self::FashionMnistSubset => FashionMnist::load_bundled(),
        };
        loaded.map_err(|e| UsageError::new(format!("--dataset: {e}")).into())
    }
}

/// Parses `--preprocess` (`standardize` or `scale`).
pub fn parse_preprocessing(text: &str) -> Result<Preprocessing> {
    match text {
        "standardize" => Ok(Preprocessing::Standardize),
        "scale" => Ok(Preprocessing::Scale),
        other => Err(UsageError::new(format!(
            "--preprocess: expected standardize or scale, found {other:?}"
        ))
        .into()),
    }
}

/// The four files of an exported data set: train X, train Y, test X, test Y.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportedFiles {
    pub train_x: PathBuf,
    pub train_y: PathBuf,
    pub test_x: PathBuf,
    pub test_y: PathBuf,
}

/// Loads `dataset`, preprocesses the images and writes them (float64) with their labels into
/// `dir` (created if needed), each file atomically. The same data set and preprocessing give
/// the same bytes, so a resumed fit recognises its kernels.
pub fn export(
    dataset: &BuiltinDataset,
    preprocessing: Preprocessing,
    dir: &Path,
) -> Result<ExportedFiles> {
    std::fs::create_dir_all(dir)
        .map_err(|e| UsageError::new(format!("--out: cannot create {}: {e}", dir.display())))?;
    let data = dataset.load()?;
    let files = ExportedFiles {
        train_x: dir.join("train_x.npy"),
        train_y: dir.join("train_y.npy"),
        test_x: dir.join("test_x.npy"),
        test_y: dir.join("test_y.npy"),
    };
    write_set(&data.train, preprocessing, &files.train_x, &files.train_y)?;
    write_set(&data.test, preprocessing, &files.test_x, &files.test_y)?;
    Ok(files)
}

fn write_set(set: &ImageSet, preprocessing: Preprocessing, x: &Path, y: &Path) -> Result<()> {
    let images = preprocess(set.pixels.as_ref(), preprocessing)
        .map_err(|e| UsageError::new(format!("--dataset: {e}")))?;
    write_matrix(x, images.as_ref(), Dtype::F64)?;
    write_labels(y, &set.labels)
}

/// Writes `labels` as a `uint8` `.npy` of shape (n,), atomically.
fn write_labels(path: &Path, labels: &[u8]) -> Result<()> {
    let tmp = path.with_extension("npy.tmp");
    let write = || -> std::io::Result<()> {
        let file = std::fs::File::create(&tmp)?;
        use npyz::WriterBuilder;
        let mut writer = npyz::WriteOptions::<u8>::new()
            .default_dtype()
            .shape(&[labels.len() as u64])
            .writer(std::io::BufWriter::new(file))
            .begin_nd()?;
        writer.extend(labels.iter().copied())?;
        writer.finish()?;
        Ok(())
    };
    write()
        .and_then(|_| std::fs::File::open(&tmp)?.sync_all())
        .and_then(|_| std::fs::rename(&tmp, path))
        .map_err(|e| UsageError::new(format!("cannot write {}: {e}", path.display())).into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::npy::{read_inputs, read_targets};
    use ntk_bounds::fashion_mnist::FASHION_MNIST_DIM;

    #[test]
    fn the_shipped_subset_round_trips_through_npy() {
        let dir = tempfile::tempdir().unwrap();
        let files = export(
            &BuiltinDataset::FashionMnistSubset,
            Preprocessing::Standardize,
            dir.path(),
        )
        .unwrap();
        let data = FashionMnist::load_bundled().unwrap();
        let x = read_inputs(&files.train_x, "x").unwrap().matrix;
        let expected = preprocess(data.train.pixels.as_ref(), Preprocessing::Standardize).unwrap();
        assert_eq!((x.nrows(), x.ncols()), (10_000, FASHION_MNIST_DIM));
        // float64 written and read back: bit-identical.
        assert!(x == expected);
        let (one_hot, labels) = read_targets(&files.test_y, "y", None).unwrap();
        let labels = labels.unwrap();
        assert_eq!(one_hot.ncols(), 10);
        assert!(
            labels
                .iter()
                .zip(&data.test.labels)
                .all(|(&a, &b)| a == b as usize)
        );
        // Exporting again gives the same bytes (resume relies on it).
        let first = std::fs::read(&files.train_y).unwrap();
        export(
            &BuiltinDataset::FashionMnistSubset,
            Preprocessing::Standardize,
            dir.path(),
        )
        .unwrap();
        assert_eq!(std::fs::read(&files.train_y).unwrap(), first);
    }

    #[test]
    fn unknown_names_and_options_are_usage_errors() {
        for (name, dir) in [
            ("mnist", None),
            ("fashion-mnist-subset", Some(PathBuf::from("/tmp"))),
        ] {
            let e = BuiltinDataset::parse(name, dir).unwrap_err();
            assert!(e.downcast_ref::<UsageError>().is_some(), "{e}");
        }
        assert!(parse_preprocessing("zca").is_err());
        let missing = BuiltinDataset::parse("fashion-mnist", Some(PathBuf::from("/nonexistent")))
            .unwrap()
            .load()
            .unwrap_err();
        assert!(missing.to_string().contains("/nonexistent"), "{missing}");
    }
}
