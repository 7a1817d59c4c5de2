//! Fashion-MNIST (Xiao, Rasul & Vollgraf 2017, arXiv:1708.07747; Zalando SE, MIT licence):
//! 70 000 grayscale 28×28 images of clothing in 10 classes (60 000 train, 10 000 test), read from
//! the original IDX files (gzip-compressed), with the fixed stratified subset shipped in
//! `data/fashion-mnist/` and the preprocessing of the kernel literature.
//!
//! IDX format (LeCun et al., <http://yann.lecun.com/exdb/mnist/>): a big-endian header
//! `0x00 0x00 0x08 ndim`, then `ndim` big-endian u32 sizes, then the u8 entries in row-major
//! order. Images are n × 28 × 28, i.e. NHWC with C = 1, so a row of [`ImageSet::pixels`] is
//! already the NHWC flattening that `ntk-nets`' convolutional networks take.
//!
//! Sources, in the order [`FashionMnist::load_full`] tries them: a directory given by the user,
//! then the Debian/Ubuntu package `dataset-fashion-mnist`, which installs the four original
//! files in [`DEBIAN_DIR`]. Every file is identified by the SHA-256 of its decompressed
//! contents; a missing file is [`Error::Io`] naming the path, a file with other contents is
//! [`Error::Checksum`] naming the path and both digests.
//!
//! Provenance of the shipped subset: `data/README.md` (first 1000 images of each class of the
//! training file and first 200 of each class of the test file, in file order).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use faer::{Mat, MatRef};

use crate::error::{Error, Result};
use crate::sha256::sha256_hex;

/// Image side (28) and number of pixels per image (784).
pub const FASHION_MNIST_SIDE: usize = 28;
/// Number of pixels per image.
pub const FASHION_MNIST_DIM: usize = FASHION_MNIST_SIDE * FASHION_MNIST_SIDE;
/// Number of classes.
pub const FASHION_MNIST_CLASSES: usize = 10;
/// Class names, by label.
pub const CLASS_NAMES: [&str; 10] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];
/// Where Debian's `dataset-fashion-mnist` package puts the original files.
pub const DEBIAN_DIR: &str = "/usr/share/datasets/fashion-mnist";
/// Training images per class in the shipped subset.
pub const SUBSET_TRAIN_PER_CLASS: usize = 1000;
/// Test images per class in the shipped subset.
pub const SUBSET_TEST_PER_CLASS: usize = 200;

/// One IDX file: its name and the SHA-256 of its decompressed contents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdxFile {
    /// File name inside the data directory.
    pub name: &'static str,
    /// SHA-256 (hex) of the decompressed bytes.
    pub sha256: &'static str,
}

/// The four files of one copy of the data: train images, train labels, test images, test labels.
pub type IdxFiles = [IdxFile; 4];

/// The original Zalando release (digests of the decompressed files, as installed by Debian's
/// `dataset-fashion-mnist` 0.0~git20200523.55506a9-1).
pub const ORIGINAL_FILES: IdxFiles = [
    IdxFile {
        name: "train-images-idx3-ubyte.gz",
        sha256: "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    },
    IdxFile {
        name: "train-labels-idx1-ubyte.gz",
        sha256: "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    },
    IdxFile {
        name: "t10k-images-idx3-ubyte.gz",
        sha256: "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    },
    IdxFile {
        name: "t10k-labels-idx1-ubyte.gz",
        sha256: "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    },
];

/// The shipped subset in `data/fashion-mnist/` (digests of the decompressed files, which
/// [`write_subset`] reproduces from the original files).
pub const SUBSET_FILES: IdxFiles = [
    IdxFile {
        name: "train-images-idx3-ubyte.gz",
        sha256: SUBSET_SHA256[0],
    },
    IdxFile {
        name: "train-labels-idx1-ubyte.gz",
        sha256: SUBSET_SHA256[1],
    },
    IdxFile {
        name: "t10k-images-idx3-ubyte.gz",
        sha256: SUBSET_SHA256[2],
    },
    IdxFile {
        name: "t10k-labels-idx1-ubyte.gz",
        sha256: SUBSET_SHA256[3],
    },
];

const SUBSET_SHA256: [&str; 4] = [
    "d33512cfdc636a0d8972818e6659995be209a88891df7fa2109d7895922c8985",
    "620cb8e3b9348037c5ff9a07b02d773ab165330e072dfd19e0d21c59f8042dcf",
    "15a92dd1e9b16ea361928086e77df4dfa890c255c00b5a8c8162c1040ce8eef1",
    "234596aeb6eb48133ec99a62541f90bc0728c9559a681f1e0638037462458f2c",
];

/// Directory of the bundled subset, `data/fashion-mnist/`.
pub fn bundled_fashion_mnist_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/fashion-mnist")
}

/// Labelled images: one image per row of `pixels` (raw intensities 0..255, row-major 28 × 28,
/// i.e. NHWC with one channel), its class 0..9 in `labels`.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageSet {
    /// n × 784 raw pixel intensities.
    pub pixels: Mat<f64>,
    /// Class of each row.
    pub labels: Vec<u8>,
}

/// The training and test sets.
#[derive(Debug, Clone, PartialEq)]
pub struct FashionMnist {
    /// Training images (60 000 in the full set, 10 000 in the shipped subset).
    pub train: ImageSet,
    /// Test images (10 000 in the full set, 2 000 in the shipped subset).
    pub test: ImageSet,
}

fn io_error(path: &Path, reason: impl ToString) -> Error {
    Error::Io {
        path: path.display().to_string(),
        reason: reason.to_string(),
    }
}

/// Reads and decompresses `path`, and checks the SHA-256 of the decompressed bytes.
fn read_verified(path: &Path, sha256: &str) -> Result<Vec<u8>> {
    let file = std::fs::File::open(path).map_err(|e| io_error(path, e))?;
    let mut bytes = Vec::new();
    flate2::read::GzDecoder::new(std::io::BufReader::new(file))
        .read_to_end(&mut bytes)
        .map_err(|e| io_error(path, format!("gzip: {e}")))?;
    let found = sha256_hex(&bytes);
    if found != sha256 {
        return Err(Error::Checksum {
            path: path.display().to_string(),
            expected: sha256.to_string(),
            found,
        });
    }
    Ok(bytes)
}

/// Parses an IDX file of u8 entries: its sizes and its entries.
fn parse_idx<'a>(path: &Path, bytes: &'a [u8]) -> Result<(Vec<usize>, &'a [u8])> {
    if bytes.len() < 4 || bytes[0] != 0 || bytes[1] != 0 || bytes[2] != 0x08 {
        return Err(io_error(path, "not an IDX file of unsigned bytes"));
    }
    let ndim = usize::from(bytes[3]);
    let header = 4 + 4 * ndim;
    if bytes.len() < header {
        return Err(io_error(path, "truncated IDX header"));
    }
    let dims: Vec<usize> = (0..ndim)
        .map(|k| {
            let b = &bytes[4 + 4 * k..8 + 4 * k];
            u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize
        })
        .collect();
    let len: usize = dims.iter().product();
    if bytes.len() != header + len {
        return Err(io_error(
            path,
            format!(
                "IDX sizes {dims:?} need {} bytes, file has {}",
                header + len,
                bytes.len()
            ),
        ));
    }
    Ok((dims, &bytes[header..]))
}

fn load_pair(dir: &Path, images: IdxFile, labels: IdxFile) -> Result<ImageSet> {
    let image_path = dir.join(images.name);
    let label_path = dir.join(labels.name);
    let image_bytes = read_verified(&image_path, images.sha256)?;
    let label_bytes = read_verified(&label_path, labels.sha256)?;
    let (image_dims, pixels) = parse_idx(&image_path, &image_bytes)?;
    let (label_dims, label_values) = parse_idx(&label_path, &label_bytes)?;
    if image_dims.len() != 3 || image_dims[1..] != [FASHION_MNIST_SIDE, FASHION_MNIST_SIDE] {
        return Err(io_error(
            &image_path,
            format!("expected n × 28 × 28 images, found sizes {image_dims:?}"),
        ));
    }
    if label_dims != [image_dims[0]] {
        return Err(io_error(
            &label_path,
            format!(
                "expected {} labels, found sizes {label_dims:?}",
                image_dims[0]
            ),
        ));
    }
    if let Some(bad) = label_values
        .iter()
        .position(|&c| usize::from(c) >= FASHION_MNIST_CLASSES)
    {
        return Err(io_error(
            &label_path,
            format!("label {bad} is not in 0..=9"),
        ));
    }
    let n = image_dims[0];
    if n == 0 {
        return Err(Error::Empty { arg: "IDX images" });
    }
    Ok(ImageSet {
        pixels: Mat::from_fn(n, FASHION_MNIST_DIM, |i, j| {
            f64::from(pixels[i * FASHION_MNIST_DIM + j])
        }),
        labels: label_values.to_vec(),
    })
}

impl FashionMnist {
    /// Loads the four IDX files `files` from `dir`, checking each file's SHA-256.
    pub fn load_files(dir: &Path, files: &IdxFiles) -> Result<Self> {
        Ok(Self {
            train: load_pair(dir, files[0], files[1])?,
            test: load_pair(dir, files[2], files[3])?,
        })
    }

    /// The shipped subset (10 000 train + 2 000 test images) from `data/fashion-mnist/`.
    pub fn load_bundled() -> Result<Self> {
        Self::load_files(&bundled_fashion_mnist_dir(), &SUBSET_FILES)
    }

    /// The full 70 000 images from the original files in `dir`, or, with `None`, from
    /// [`DEBIAN_DIR`] (`apt-get install dataset-fashion-mnist`).
    pub fn load_full(dir: Option<&Path>) -> Result<Self> {
        let dir = dir.unwrap_or_else(|| Path::new(DEBIAN_DIR));
        Self::load_files(dir, &ORIGINAL_FILES)
    }
}

impl ImageSet {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True if there are no images.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The images `rows`, in that order.
    pub fn select(&self, rows: &[usize]) -> Result<Self> {
        if let Some(&bad) = rows.iter().find(|&&r| r >= self.len()) {
            return Err(Error::InvalidParameter {
                arg: "rows",
                value: bad as f64,
                reason: "row index out of range",
            });
        }
        Ok(Self {
            pixels: Mat::from_fn(rows.len(), self.pixels.ncols(), |i, j| {
                self.pixels[(rows[i], j)]
            }),
            labels: rows.iter().map(|&r| self.labels[r]).collect(),
        })
    }

    /// Stratified subset: the first `per_class` images of every class, kept in file order.
    /// Deterministic (no randomness); errors if a class has fewer images.
    pub fn stratified(&self, per_class: usize) -> Result<Self> {
        let mut taken = [0usize; FASHION_MNIST_CLASSES];
        let mut rows = Vec::with_capacity(per_class * FASHION_MNIST_CLASSES);
        for (i, &c) in self.labels.iter().enumerate() {
            let c = usize::from(c);
            if c < FASHION_MNIST_CLASSES && taken[c] < per_class {
                taken[c] += 1;
                rows.push(i);
            }
        }
        if taken.iter().any(|&t| t < per_class) {
            return Err(Error::InvalidParameter {
                arg: "per_class",
                value: per_class as f64,
                reason: "a class has fewer images than requested",
            });
        }
        self.select(&rows)
    }

    /// The IDX bytes (uncompressed) of the images and of the labels.
    pub fn to_idx(&self) -> (Vec<u8>, Vec<u8>) {
        let n = self.len() as u32;
        let mut images = vec![0, 0, 8, 3];
        for size in [n, FASHION_MNIST_SIDE as u32, FASHION_MNIST_SIDE as u32] {
            images.extend_from_slice(&size.to_be_bytes());
        }
        for i in 0..self.len() {
            for j in 0..FASHION_MNIST_DIM {
                images.push(self.pixels[(i, j)].clamp(0.0, 255.0) as u8);
            }
        }
        let mut labels = vec![0, 0, 8, 1];
        labels.extend_from_slice(&n.to_be_bytes());
        labels.extend_from_slice(&self.labels);
        (images, labels)
    }
}

fn write_gz(path: &Path, bytes: &[u8]) -> Result<()> {
    let file = std::fs::File::create(path).map_err(|e| io_error(path, e))?;
    // mtime 0 and no file name in the header: the output depends on the contents only.
    let mut encoder = flate2::GzBuilder::new()
        .mtime(0)
        .write(file, flate2::Compression::best());
    encoder
        .write_all(bytes)
        .and_then(|_| encoder.finish().map(drop))
        .map_err(|e| io_error(path, e))
}

/// Writes the shipped subset (the first [`SUBSET_TRAIN_PER_CLASS`] training and
/// [`SUBSET_TEST_PER_CLASS`] test images of every class, file order) of the full data set into
/// `out_dir` as four gzipped IDX files named as the originals, and returns the SHA-256 of the
/// decompressed contents of each (to compare with [`SUBSET_FILES`]).
pub fn write_subset(full: &FashionMnist, out_dir: &Path) -> Result<[String; 4]> {
    std::fs::create_dir_all(out_dir).map_err(|e| io_error(out_dir, e))?;
    let train = full.train.stratified(SUBSET_TRAIN_PER_CLASS)?;
    let test = full.test.stratified(SUBSET_TEST_PER_CLASS)?;
    let (train_images, train_labels) = train.to_idx();
    let (test_images, test_labels) = test.to_idx();
    let contents = [train_images, train_labels, test_images, test_labels];
    let mut digests: [String; 4] = Default::default();
    for ((file, bytes), digest) in SUBSET_FILES.iter().zip(&contents).zip(&mut digests) {
        write_gz(&out_dir.join(file.name), bytes)?;
        *digest = sha256_hex(bytes);
    }
    Ok(digests)
}

/// Preprocessing of the inputs, as in the kernel literature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preprocessing {
    /// x / 255 (pixels in [0, 1]).
    Scale,
    /// Per-image centring and L2 normalisation to the norm √d of a unit-variance image:
    ///
    /// $$ x \leftarrow \sqrt d\,\frac{x - \bar x\,\mathbf 1}{\lVert x - \bar x\,\mathbf 1\rVert}, \qquad \bar x = \tfrac1d\textstyle\sum_j x_j, $$
    ///
    /// so that Σ⁽⁰⁾(x, x) = ‖x‖²/d = 1 in neural-tangents' input convention (Arora et al. 2019,
    /// arXiv:1904.11955, §5; Novak et al. 2019, arXiv:1810.05148, §A.6 standardise images the same
    /// way). A constant image (zero after centring) gives [`Error::ZeroNorm`].
    Standardize,
}

/// Applies `preprocessing` to every row of `pixels` (one image per row).
pub fn preprocess(pixels: MatRef<'_, f64>, preprocessing: Preprocessing) -> Result<Mat<f64>> {
    let (n, d) = (pixels.nrows(), pixels.ncols());
    if n == 0 || d == 0 {
        return Err(Error::Empty { arg: "pixels" });
    }
    let mut out = Mat::<f64>::zeros(n, d);
    for i in 0..n {
        let row: Vec<f64> = (0..d).map(|j| pixels[(i, j)]).collect();
        if let Some(j) = row.iter().position(|v| !v.is_finite()) {
            return Err(Error::NonFinite {
                arg: "pixels",
                index: i * d + j,
                value: row[j],
            });
        }
        match preprocessing {
            Preprocessing::Scale => {
                for j in 0..d {
                    out[(i, j)] = row[j] / 255.0;
                }
            }
            Preprocessing::Standardize => {
                let mean = row.iter().sum::<f64>() / d as f64;
                let norm = row.iter().map(|v| (v - mean).powi(2)).sum::<f64>().sqrt();
                if norm.is_nan() || norm <= 0.0 {
                    return Err(Error::ZeroNorm {
                        arg: "pixels",
                        index: i,
                    });
                }
                let scale = (d as f64).sqrt() / norm;
                for j in 0..d {
                    out[(i, j)] = (row[j] - mean) * scale;
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> ImageSet {
        ImageSet {
            pixels: Mat::from_fn(30, FASHION_MNIST_DIM, |i, j| ((i * 7 + j * 3) % 256) as f64),
            labels: (0..30).map(|i| (i % 10) as u8).collect(),
        }
    }

    /// Writing and reading IDX round-trips exactly, and the digest written is the digest read.
    #[test]
    fn idx_round_trip_and_checksums() {
        let dir = std::env::temp_dir().join(format!("ntk-fmnist-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let set = tiny();
        let (images, labels) = set.to_idx();
        write_gz(&dir.join("i.gz"), &images).unwrap();
        write_gz(&dir.join("l.gz"), &labels).unwrap();
        let files = |si: &'static str, sl: &'static str| {
            (
                IdxFile {
                    name: "i.gz",
                    sha256: si,
                },
                IdxFile {
                    name: "l.gz",
                    sha256: sl,
                },
            )
        };
        let si: &'static str = Box::leak(sha256_hex(&images).into_boxed_str());
        let sl: &'static str = Box::leak(sha256_hex(&labels).into_boxed_str());
        let (fi, fl) = files(si, sl);
        let back = load_pair(&dir, fi, fl).unwrap();
        assert_eq!(back, set);
        // A wrong digest names the path and both digests.
        let (fi, fl) = files(ORIGINAL_FILES[0].sha256, sl);
        match load_pair(&dir, fi, fl) {
            Err(Error::Checksum {
                path,
                expected,
                found,
            }) => {
                assert!(path.ends_with("i.gz"));
                assert_eq!(expected, ORIGINAL_FILES[0].sha256);
                assert_eq!(found, si);
            }
            other => panic!("expected a checksum error, got {other:?}"),
        }
        // A missing file is an Io error naming it.
        let missing = IdxFile {
            name: "absent.gz",
            sha256: si,
        };
        match load_pair(&dir, missing, fl) {
            Err(Error::Io { path, .. }) => assert!(path.ends_with("absent.gz")),
            other => panic!("expected an Io error, got {other:?}"),
        }
        // Corrupt gzip is an Io error, not a panic.
        std::fs::write(dir.join("bad.gz"), b"\x1f\x8b\x08garbage").unwrap();
        let bad = IdxFile {
            name: "bad.gz",
            sha256: si,
        };
        assert!(matches!(load_pair(&dir, bad, fl), Err(Error::Io { .. })));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn stratified_takes_first_of_each_class() {
        let set = tiny();
        let sub = set.stratified(2).unwrap();
        assert_eq!(sub.len(), 20);
        assert_eq!(sub.labels[..10], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
        assert_eq!(sub.pixels[(10, 5)], set.pixels[(10, 5)]);
        assert!(set.stratified(4).is_err());
    }

    /// Standardised images have mean 0 and squared norm d (up to rounding, 1e-12 relative).
    #[test]
    fn standardize_centres_and_normalises() {
        let set = tiny();
        let x = preprocess(set.pixels.as_ref(), Preprocessing::Standardize).unwrap();
        for i in 0..x.nrows() {
            let row: Vec<f64> = (0..x.ncols()).map(|j| x[(i, j)]).collect();
            let mean = row.iter().sum::<f64>() / row.len() as f64;
            let norm2 = row.iter().map(|v| v * v).sum::<f64>();
            assert!(mean.abs() <= 1e-12);
            assert!((norm2 / FASHION_MNIST_DIM as f64 - 1.0).abs() <= 1e-12);
        }
        let constant = Mat::from_fn(2, 4, |_, _| 3.0);
        assert!(matches!(
            preprocess(constant.as_ref(), Preprocessing::Standardize),
            Err(Error::ZeroNorm { .. })
        ));
    }

    /// The shipped subset loads with its checksums, 1000/200 images per class.
    #[test]
    fn bundled_subset_is_stratified() {
        let data = FashionMnist::load_bundled().unwrap();
        assert_eq!(data.train.len(), 10 * SUBSET_TRAIN_PER_CLASS);
        assert_eq!(data.test.len(), 10 * SUBSET_TEST_PER_CLASS);
        for c in 0..10u8 {
            let count = data.train.labels.iter().filter(|&&l| l == c).count();
            assert_eq!(count, SUBSET_TRAIN_PER_CLASS);
        }
    }
}
