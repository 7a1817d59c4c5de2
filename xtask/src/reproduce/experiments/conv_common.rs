//! Shared pieces of the convolutional experiments (`cnn-vs-cntk`, `cntk-at-init`,
//! `gap-vs-flatten`): image data with a seeded train/validation/test split, Arora et al.'s
//! vanilla CNN/CNTK architecture, kernel regression on one-hot targets with the ridge chosen on
//! the validation split, finite CNN training, and test-set intervals (Wilson score interval,
//! paired percentile bootstrap over the test images).

use crate::reproduce::experiment::{Claim, Scale};
use anyhow::{Context as _, anyhow};
use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatRef, Par};
use ntk_bounds::digits::Digits;
use ntk_bounds::fashion_mnist::{FASHION_MNIST_SIDE, FashionMnist, ImageSet};
use ntk_dynamics::optim::{ClassifierConfig, train_classifier};
use ntk_kernels::regression::Cholesky;
use ntk_kernels::{Activation, ConvArchitecture, ConvLayer, Padding, Parameterization};
use ntk_nets::{Classifier, ConvNet};
use rand::RngExt;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// Number of classes of both data sets.
pub const CLASSES: usize = 10;
/// Ridges tried, as fractions of the mean diagonal of the train kernel (λ = r·tr K / n).
pub const RIDGE_FRACTIONS: [f64; 7] = [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0];
/// Bootstrap resamples of the test set.
pub const BOOTSTRAP_RESAMPLES: usize = 2000;

/// A labelled image data set split into training pool, validation and test images (NHWC rows,
/// one channel, standardised by the training pool's pixel mean and standard deviation).
pub struct ImageSplit {
    pub name: &'static str,
    pub side: usize,
    pub train: Mat<f64>,
    pub train_labels: Vec<usize>,
    pub val: Mat<f64>,
    pub val_labels: Vec<usize>,
    pub test: Mat<f64>,
    pub test_labels: Vec<usize>,
}

impl ImageSplit {
    /// (h, w, c) of the images.
    pub fn shape(&self) -> (usize, usize, usize) {
        (self.side, self.side, 1)
    }

    /// The first `n` training images and their labels (the learning curve uses nested prefixes).
    pub fn train_prefix(&self, n: usize) -> (MatRef<'_, f64>, &[usize]) {
        (self.train.as_ref().subrows(0, n), &self.train_labels[..n])
    }

    /// Validation images stacked over test images (the "rest" block of a kernel).
    pub fn val_and_test(&self) -> Mat<f64> {
        let (v, t) = (self.val.nrows(), self.test.nrows());
        Mat::from_fn(v + t, self.train.ncols(), |i, j| {
            if i < v {
                self.val[(i, j)]
            } else {
                self.test[(i - v, j)]
            }
        })
    }
}

fn permutation(n: usize, rng: &mut ChaCha8Rng) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(rng);
    order
}

/// Mean of `factor × factor` blocks of a `side × side` image.
fn downsample(row: &[f64], side: usize, factor: usize) -> Vec<f64> {
    let out = side / factor;
    let mut res = vec![0.0; out * out];
    for (i, v) in res.iter_mut().enumerate() {
        let (oy, ox) = (i / out, i % out);
        let mut s = 0.0;
        for dy in 0..factor {
            for dx in 0..factor {
                s += row[(oy * factor + dy) * side + ox * factor + dx];
            }
        }
        *v = s / (factor * factor) as f64;
    }
    res
}

fn rows_of(
    pixels: MatRef<'_, f64>,
    rows: &[usize],
    side: usize,
    factor: usize,
) -> (Mat<f64>, usize) {
    let out = side / factor;
    let mut m = Mat::<f64>::zeros(rows.len(), out * out);
    let mut row = vec![0.0; side * side];
    for (i, &r) in rows.iter().enumerate() {
        for (j, v) in row.iter_mut().enumerate() {
            *v = pixels[(r, j)];
        }
        for (j, v) in downsample(&row, side, factor).into_iter().enumerate() {
            m[(i, j)] = v;
        }
    }
    (m, out)
}

/// Standardises all three parts by the mean and standard deviation of the training pixels.
fn standardise(train: &mut Mat<f64>, others: [&mut Mat<f64>; 2]) -> anyhow::Result<()> {
    let count = (train.nrows() * train.ncols()) as f64;
    let mean = (0..train.ncols())
        .map(|j| (0..train.nrows()).map(|i| train[(i, j)]).sum::<f64>())
        .sum::<f64>()
        / count;
    let var = (0..train.ncols())
        .map(|j| {
            (0..train.nrows())
                .map(|i| (train[(i, j)] - mean).powi(2))
                .sum::<f64>()
        })
        .sum::<f64>()
        / count;
    if var <= 0.0 || !var.is_finite() {
        return Err(anyhow!("training pixels have no variance"));
    }
    let sd = var.sqrt();
    for m in std::iter::once(train).chain(others) {
        for j in 0..m.ncols() {
            for i in 0..m.nrows() {
                m[(i, j)] = (m[(i, j)] - mean) / sd;
            }
        }
    }
    Ok(())
}

/// Sizes of a split.
#[derive(Debug, Clone, Copy)]
pub struct SplitSizes {
    pub n_train: usize,
    pub n_val: usize,
    pub n_test: usize,
}

/// Fashion-MNIST (the shipped 10k+2k subset, or with `full` the 70 000 images of Debian's
/// `dataset-fashion-mnist`), images averaged over `factor × factor` blocks (28 / factor pixels a
/// side). Validation and training images are disjoint draws from the training file, test images
/// from the test file, all by seeded permutations. A test set larger than the test file (the
/// shipped subset has 2 000 test images) is topped up with further images of the training file,
/// disjoint from the training and validation images: the same distribution (Xiao et al. 2017
/// split one pool at random), so the test error stays unbiased and its interval narrows.
pub fn fashion_mnist(
    sizes: SplitSizes,
    factor: usize,
    full: bool,
    seed: u64,
) -> anyhow::Result<ImageSplit> {
    let data = if full {
        FashionMnist::load_full(None).context(
            "full scale needs the 70 000 Fashion-MNIST images (apt-get install dataset-fashion-mnist)",
        )?
    } else {
        FashionMnist::load_bundled().context("loading the shipped Fashion-MNIST subset")?
    };
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let from_test = sizes.n_test.min(data.test.labels.len());
    let top_up = sizes.n_test - from_test;
    if sizes.n_train + sizes.n_val + top_up > data.train.labels.len() {
        return Err(anyhow!(
            "split {sizes:?} larger than the data ({} train, {} test)",
            data.train.labels.len(),
            data.test.labels.len()
        ));
    }
    // One permutation of the training file: validation, training, then (if asked) the test
    // top-up images, in that order, so the top-up changes none of the other draws.
    let train_order = permutation(data.train.labels.len(), &mut rng);
    let test_rows = &permutation(data.test.labels.len(), &mut rng)[..from_test];
    let (order, rest) = train_order.split_at(sizes.n_train + sizes.n_val);
    let (val_rows, train_rows) = order.split_at(sizes.n_val);
    let side = FASHION_MNIST_SIDE;
    let (mut train, out) = rows_of(data.train.pixels.as_ref(), train_rows, side, factor);
    let (mut val, _) = rows_of(data.train.pixels.as_ref(), val_rows, side, factor);
    let (test_part, _) = rows_of(data.test.pixels.as_ref(), test_rows, side, factor);
    let labels =
        |set: &ImageSet, rows: &[usize]| rows.iter().map(|&r| set.labels[r] as usize).collect();
    let mut test_labels: Vec<usize> = labels(&data.test, test_rows);
    let mut test = if top_up == 0 {
        test_part
    } else {
        let extra_rows = &rest[..top_up];
        let (extra, _) = rows_of(data.train.pixels.as_ref(), extra_rows, side, factor);
        test_labels.extend(extra_rows.iter().map(|&r| data.train.labels[r] as usize));
        let mut both = Mat::<f64>::zeros(sizes.n_test, out * out);
        both.as_mut()
            .subrows_mut(0, from_test)
            .copy_from(test_part.as_ref());
        both.as_mut()
            .subrows_mut(from_test, top_up)
            .copy_from(extra.as_ref());
        both
    };
    standardise(&mut train, [&mut val, &mut test])?;
    Ok(ImageSplit {
        name: "Fashion-MNIST",
        side: out,
        train,
        train_labels: labels(&data.train, train_rows),
        val,
        val_labels: labels(&data.train, val_rows),
        test,
        test_labels,
    })
}

/// The UCI digits (1797 images of 8 × 8) as two folds for cross-fitting. Fold 0 is split by one
/// seeded permutation into test, validation and training images; fold 1 exchanges the roles of
/// its test pool and its training pool: fold 0's validation and training images are fold 1's
/// test images, and fold 1 draws its validation and training images (same sizes) from fold 0's
/// test images, continuing the same permutation. No image is a test image twice, so the pooled
/// test predictions of the two folds are observations on disjoint images, each made by a model
/// that did not see it (cross-fitting; Chernozhukov et al. 2018, *Econometrics J.* 21, §3). It
/// needs at least as many test images as training and validation images together.
pub fn digits_two_folds(sizes: SplitSizes, seed: u64) -> anyhow::Result<[ImageSplit; 2]> {
    let data = Digits::load_bundled().context("loading the bundled UCI digits")?;
    let n = data.labels.len();
    if sizes.n_train + sizes.n_val + sizes.n_test > n {
        return Err(anyhow!("split {sizes:?} larger than the {n} digits"));
    }
    if sizes.n_test < sizes.n_train + sizes.n_val {
        return Err(anyhow!(
            "two-fold cross-fitting of {sizes:?} needs at least n_train + n_val test images"
        ));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let order = permutation(n, &mut rng);
    let split = |test_rows: &[usize], val_rows: &[usize], train_rows: &[usize]| {
        let (mut train, _) = rows_of(data.pixels.as_ref(), train_rows, 8, 1);
        let (mut val, _) = rows_of(data.pixels.as_ref(), val_rows, 8, 1);
        let (mut test, _) = rows_of(data.pixels.as_ref(), test_rows, 8, 1);
        standardise(&mut train, [&mut val, &mut test])?;
        let labels = |rows: &[usize]| rows.iter().map(|&r| data.labels[r] as usize).collect();
        anyhow::Ok(ImageSplit {
            name: "UCI digits",
            side: 8,
            train,
            train_labels: labels(train_rows),
            val,
            val_labels: labels(val_rows),
            test,
            test_labels: labels(test_rows),
        })
    };
    let [[t0, v0, r0], [t1, v1, r1]] = two_fold_rows(&order, sizes);
    Ok([split(t0, v0, r0)?, split(t1, v1, r1)?])
}

/// The (test, validation, training) rows of the two folds of [`digits_two_folds`], taken from
/// the permutation `order` (`sizes.n_test ≥ sizes.n_train + sizes.n_val`, checked by the caller).
fn two_fold_rows(order: &[usize], sizes: SplitSizes) -> [[&[usize]; 3]; 2] {
    let (test_0, rest) = order.split_at(sizes.n_test);
    let (val_0, rest) = rest.split_at(sizes.n_val);
    let train_0 = &rest[..sizes.n_train];
    // Fold 1: fold 0's validation and training images are the test images; its test pool
    // supplies validation then training images, in permutation order.
    let test_1 = &order[sizes.n_test..sizes.n_test + sizes.n_val + sizes.n_train];
    let (val_1, rest_1) = test_0.split_at(sizes.n_val);
    let train_1 = &rest_1[..sizes.n_train];
    [[test_0, val_0, train_0], [test_1, val_1, train_1]]
}

/// Arora et al.'s vanilla CNN (their §4 and App.): `depth` × [Conv(channels, 3 × 3, stride 1,
/// SAME, W_std = √2, no bias), ReLU], then `readout` (`Flatten` = "CNTK-V", `GlobalAvgPool` =
/// "CNTK-GAP"), then Dense(`outputs`, W_std = 1, no bias), in the NTK parameterization.
///
/// `depth` counts convolutions. Arora et al.'s "depth" (Table 1) also counts the output layer:
/// their released code (github.com/ruosongwang/CNTK, `CNTK.py --depth`, "#conv layers + 1") runs
/// `depth − 1` convolutions, so `depth` = 3 here is their depth 4.
pub fn arora_cnn(
    depth: usize,
    channels: usize,
    readout: ConvLayer,
    outputs: usize,
) -> anyhow::Result<ConvArchitecture> {
    let mut layers = Vec::with_capacity(2 * depth + 2);
    for _ in 0..depth {
        layers.push(ConvLayer::Conv {
            channels,
            filter: (3, 3),
            strides: (1, 1),
            padding: Padding::Same,
            w_std: std::f64::consts::SQRT_2,
            b_std: None,
        });
        layers.push(ConvLayer::Activation(Activation::Relu));
    }
    layers.push(readout);
    layers.push(ConvLayer::Dense {
        width: outputs,
        w_std: 1.0,
        b_std: None,
    });
    Ok(ConvArchitecture::new(layers, Parameterization::Ntk)?)
}

/// The fully-connected counterpart: `depth` × [Dense(W_std = √2, no bias), ReLU], Dense(1).
pub fn fc_architecture(depth: usize) -> anyhow::Result<ntk_kernels::Architecture> {
    use ntk_kernels::Layer;
    let mut layers = Vec::with_capacity(2 * depth + 1);
    for _ in 0..depth {
        layers.push(Layer::Dense {
            width: 1,
            w_std: std::f64::consts::SQRT_2,
            b_std: None,
        });
        layers.push(Layer::Activation(Activation::Relu));
    }
    layers.push(Layer::Dense {
        width: 1,
        w_std: 1.0,
        b_std: None,
    });
    Ok(ntk_kernels::Architecture::new(
        layers,
        Parameterization::Ntk,
    )?)
}

/// NNGP and NTK blocks of one kernel: train × train (n × n) and (validation, test) × train.
pub struct KernelBlocks {
    pub nngp_train: Mat<f64>,
    pub nngp_rest: Mat<f64>,
    pub ntk_train: Mat<f64>,
    pub ntk_rest: Mat<f64>,
    /// Wall time of both evaluations.
    pub seconds: f64,
    /// Pairs evaluated: n(n+1)/2 + n·(n_val + n_test).
    pub pairs: usize,
}

fn blocks_from(
    train: ntk_kernels::analytic::Kernel,
    rest: ntk_kernels::analytic::Kernel,
    seconds: f64,
    n: usize,
    m: usize,
) -> anyhow::Result<KernelBlocks> {
    let take = |k: Option<Mat<f64>>, what: &str| k.ok_or_else(|| anyhow!("{what} not computed"));
    Ok(KernelBlocks {
        nngp_train: take(train.nngp, "NNGP")?,
        ntk_train: take(train.ntk, "NTK")?,
        nngp_rest: take(rest.nngp, "NNGP")?,
        ntk_rest: take(rest.ntk, "NTK")?,
        seconds,
        pairs: n * (n + 1) / 2 + n * m,
    })
}

const BOTH: ntk_kernels::analytic::Get = ntk_kernels::analytic::Get {
    nngp: true,
    ntk: true,
};

/// The CNN-GP and CNTK of `arch` on the first `n` training images against themselves and
/// against the validation and test images.
pub fn conv_blocks(
    arch: &ConvArchitecture,
    split: &ImageSplit,
    n: usize,
) -> anyhow::Result<KernelBlocks> {
    let (x, _) = split.train_prefix(n);
    let rest = split.val_and_test();
    let start = Instant::now();
    let k_train = ntk_kernels::conv::kernel(arch, x, None, split.shape(), BOTH)?;
    let k_rest = ntk_kernels::conv::kernel(arch, rest.as_ref(), Some(x), split.shape(), BOTH)?;
    let seconds = start.elapsed().as_secs_f64();
    blocks_from(k_train, k_rest, seconds, n, rest.nrows())
}

/// The fully-connected NNGP and NTK of `arch`, blocks as [`conv_blocks`].
pub fn fc_blocks(
    arch: &ntk_kernels::Architecture,
    split: &ImageSplit,
    n: usize,
) -> anyhow::Result<KernelBlocks> {
    let (x, _) = split.train_prefix(n);
    let rest = split.val_and_test();
    let start = Instant::now();
    let k_train = ntk_kernels::analytic::kernel(arch, x, None, BOTH)?;
    let k_rest = ntk_kernels::analytic::kernel(arch, rest.as_ref(), Some(x), BOTH)?;
    let seconds = start.elapsed().as_secs_f64();
    blocks_from(k_train, k_rest, seconds, n, rest.nrows())
}

/// Index of the largest entry of each row (ties: the first).
pub fn argmax_rows(m: MatRef<'_, f64>) -> Vec<usize> {
    (0..m.nrows())
        .map(|i| {
            let mut best = 0;
            for j in 1..m.ncols() {
                if m[(i, j)] > m[(i, best)] {
                    best = j;
                }
            }
            best
        })
        .collect()
}

/// The outcome of one classifier on one test set.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TestOutcome {
    /// Per test image: was it classified correctly?
    pub correct: Vec<bool>,
    /// Validation accuracy of the selected setting.
    pub val_accuracy: f64,
    /// The selected hyper-parameter (ridge fraction for kernels, best epoch for nets).
    pub selected: f64,
    /// How many of `correct` come from each fold (one entry for a single split; see
    /// [`TestOutcome::cross_fit`]). The bootstrap resamples within each fold.
    pub fold_sizes: Vec<usize>,
}

impl TestOutcome {
    /// Test error.
    pub fn error(&self) -> f64 {
        self.correct.iter().filter(|&&c| !c).count() as f64 / self.correct.len() as f64
    }

    /// 95% Wilson score interval of the test error.
    pub fn wilson(&self) -> (f64, f64) {
        let n = self.correct.len();
        wilson(self.correct.iter().filter(|&&c| !c).count(), n)
    }

    /// One model's outcomes on the folds of a cross-fitting design, pooled: the test images of
    /// all folds in fold order (`fold_sizes` records the folds), the mean of the folds'
    /// validation accuracies (the folds have equally many validation images) and the mean of
    /// their selected hyper-parameters.
    pub fn cross_fit(folds: &[&TestOutcome]) -> anyhow::Result<TestOutcome> {
        if folds.is_empty() {
            return Err(anyhow!("cross-fitting needs at least one fold"));
        }
        let k = folds.len() as f64;
        Ok(TestOutcome {
            correct: folds
                .iter()
                .flat_map(|f| f.correct.iter().copied())
                .collect(),
            val_accuracy: folds.iter().map(|f| f.val_accuracy).sum::<f64>() / k,
            selected: folds.iter().map(|f| f.selected).sum::<f64>() / k,
            fold_sizes: folds
                .iter()
                .flat_map(|f| f.fold_sizes.iter().copied())
                .collect(),
        })
    }
}

/// Kernel regression of one-hot targets (eᵧ − 1/k) on the first `n` training images with the
/// train block `k_train` (n_max × n_max) and the (validation, test) block `k_rest`: the ridge
/// λ = r·tr(K)/n with r from [`RIDGE_FRACTIONS`] of highest validation accuracy (ties: the
/// smallest r), then the test predictions. Ridges whose Cholesky factorisation fails are skipped.
///
/// $$ \hat f(x) = k(x, X)\,(K + \lambda I)^{-1} Y $$
///
/// # Reference
/// Arora et al. 2019, arXiv:1904.11955, §6 (kernel regression on one-hot labels).
pub fn ridge_classify(
    k_train: &Mat<f64>,
    k_rest: &Mat<f64>,
    split: &ImageSplit,
    n: usize,
) -> anyhow::Result<TestOutcome> {
    let k = k_train.as_ref().submatrix(0, 0, n, n);
    let n_val = split.val.nrows();
    let n_test = split.test.nrows();
    let k_val = k_rest.as_ref().submatrix(0, 0, n_val, n);
    let k_test = k_rest.as_ref().submatrix(n_val, 0, n_test, n);
    let y = Mat::from_fn(n, CLASSES, |i, j| {
        if split.train_labels[i] == j {
            1.0 - 1.0 / CLASSES as f64
        } else {
            -1.0 / CLASSES as f64
        }
    });
    let mean_diag = (0..n).map(|i| k[(i, i)]).sum::<f64>() / n as f64;
    let mut best: Option<(f64, f64, Mat<f64>)> = None;
    for &r in &RIDGE_FRACTIONS {
        let factor = match Cholesky::factor(k, r * mean_diag, Par::Seq) {
            Ok(f) => f,
            Err(_) => continue,
        };
        let alpha = factor.solve(y.as_ref(), Par::Seq)?;
        let mut val_out = Mat::<f64>::zeros(n_val, CLASSES);
        matmul(
            val_out.as_mut(),
            Accum::Replace,
            k_val,
            alpha.as_ref(),
            1.0,
            Par::Seq,
        );
        let pred = argmax_rows(val_out.as_ref());
        let acc = pred
            .iter()
            .zip(&split.val_labels)
            .filter(|(a, b)| a == b)
            .count() as f64
            / n_val as f64;
        if best.as_ref().is_none_or(|(_, a, _)| acc > *a) {
            best = Some((r, acc, alpha));
        }
    }
    let (r, acc, alpha) =
        best.ok_or_else(|| anyhow!("no ridge gave a positive-definite system"))?;
    let mut test_out = Mat::<f64>::zeros(n_test, CLASSES);
    matmul(
        test_out.as_mut(),
        Accum::Replace,
        k_test,
        alpha.as_ref(),
        1.0,
        Par::Seq,
    );
    Ok(TestOutcome {
        correct: hits(test_out.as_ref(), &split.test_labels),
        val_accuracy: acc,
        selected: r,
        fold_sizes: vec![n_test],
    })
}

/// Whether the largest score of each row (the predicted class) is the row's label.
pub fn hits(scores: MatRef<'_, f64>, labels: &[usize]) -> Vec<bool> {
    argmax_rows(scores)
        .iter()
        .zip(labels)
        .map(|(a, b)| a == b)
        .collect()
}

/// Trains a [`ConvNet`] of `arch` (initialised from `seed`) on the first `n` training images
/// with early stopping on the validation images, and classifies the test images.
pub fn train_convnet(
    arch: &ConvArchitecture,
    split: &ImageSplit,
    n: usize,
    config: &ClassifierConfig,
    seed: u64,
) -> anyhow::Result<TestOutcome> {
    let t = train_convnet_logits(arch, split, n, config, seed)?;
    Ok(TestOutcome {
        correct: hits(t.test_logits.as_ref(), &split.test_labels),
        val_accuracy: t.val_accuracy,
        selected: t.best_epoch as f64,
        fold_sizes: vec![split.test_labels.len()],
    })
}

/// A trained CNN's logits on the validation and test images, its validation accuracy and the
/// epoch early stopping selected.
pub struct TrainedLogits {
    pub val_logits: Mat<f64>,
    pub test_logits: Mat<f64>,
    pub val_accuracy: f64,
    pub best_epoch: usize,
}

/// [`train_convnet`], returning the logits (for ensembles) instead of the test outcome.
pub fn train_convnet_logits(
    arch: &ConvArchitecture,
    split: &ImageSplit,
    n: usize,
    config: &ClassifierConfig,
    seed: u64,
) -> anyhow::Result<TrainedLogits> {
    let net = ConvNet::new(arch, split.shape())?;
    let theta0 = net.init_params(&mut ChaCha8Rng::seed_from_u64(seed));
    let (x, labels) = split.train_prefix(n);
    let trained = train_classifier(
        &net,
        x,
        labels,
        Some((split.val.as_ref(), &split.val_labels)),
        &theta0,
        config,
        |_| Ok(()),
    )?;
    let val_accuracy = trained
        .history
        .get(trained.best_epoch)
        .and_then(|h| h.validation)
        .map_or(f64::NAN, |(_, a)| a);
    Ok(TrainedLogits {
        val_logits: net.logits(&trained.theta, split.val.as_ref())?,
        test_logits: net.logits(&trained.theta, split.test.as_ref())?,
        val_accuracy,
        best_epoch: trained.best_epoch,
    })
}

/// 95% Wilson score interval for a binomial proportion k/n:
///
/// $$ \frac{\hat p + z^2/2n \pm z\sqrt{\hat p(1-\hat p)/n + z^2/4n^2}}{1 + z^2/n},\quad z = 1.96 $$
///
/// # Reference
/// E. B. Wilson (1927), "Probable inference, the law of succession, and statistical
/// inference", JASA 22(158).
pub fn wilson(k: usize, n: usize) -> (f64, f64) {
    let z = 1.959_963_984_540_054;
    let (nf, p) = (n as f64, k as f64 / n as f64);
    let centre = p + z * z / (2.0 * nf);
    let half = z * (p * (1.0 - p) / nf + z * z / (4.0 * nf * nf)).sqrt();
    let den = 1.0 + z * z / nf;
    ((centre - half) / den, (centre + half) / den)
}

/// Paired percentile bootstrap over the test images of err(b) − err(a): the point estimate and
/// the 95% interval (resampling the same images for both classifiers). Outcomes pooled over the
/// folds of a cross-fitting design ([`TestOutcome::cross_fit`]) are resampled within each fold
/// (a stratified bootstrap: each fold keeps its number of images); a single split is one fold.
///
/// # Reference
/// B. Efron, R. Tibshirani (1993), *An Introduction to the Bootstrap*, §13.3 (paired) and §8.4
/// (stratified resampling, "two-sample problem").
pub fn paired_difference(
    a: &TestOutcome,
    b: &TestOutcome,
    seed: u64,
) -> anyhow::Result<(f64, f64, f64)> {
    let n = a.correct.len();
    if n == 0 || b.correct.len() != n || a.fold_sizes != b.fold_sizes {
        return Err(anyhow!(
            "paired bootstrap needs the same non-empty test images in the same folds ({} in {:?} against {} in {:?})",
            n,
            a.fold_sizes,
            b.correct.len(),
            b.fold_sizes
        ));
    }
    if a.fold_sizes.iter().sum::<usize>() != n || a.fold_sizes.contains(&0) {
        return Err(anyhow!(
            "fold sizes {:?} do not partition {n} test images",
            a.fold_sizes
        ));
    }
    let diff: Vec<f64> = a
        .correct
        .iter()
        .zip(&b.correct)
        .map(|(&ca, &cb)| f64::from(u8::from(!cb)) - f64::from(u8::from(!ca)))
        .collect();
    let point = diff.iter().sum::<f64>() / n as f64;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut stats: Vec<f64> = (0..BOOTSTRAP_RESAMPLES)
        .map(|_| {
            let mut offset = 0;
            let mut sum = 0.0;
            for &m in &a.fold_sizes {
                sum += (0..m)
                    .map(|_| diff[offset + rng.random_range(0..m)])
                    .sum::<f64>();
                offset += m;
            }
            sum / n as f64
        })
        .collect();
    stats.sort_by(f64::total_cmp);
    let q = |p: f64| stats[((p * (BOOTSTRAP_RESAMPLES - 1) as f64).round()) as usize];
    Ok((point, q(0.025), q(0.975)))
}

/// The smallest effect of interest of an ordering "a beats b" (error of a below error of b): half
/// the source's relative gap, applied to the measured error of b,
///
/// $$ \delta = \tfrac12 \cdot \frac{e^{src}_b - e^{src}_a}{e^{src}_b} \cdot \widehat{err}(b). $$
///
/// A paired interval that contains 0 but lies below δ excludes an advantage of the source's kind
/// (at least half its relative size) at this data set and size: the ordering the source reports
/// is absent here, which refutes it for this data even though the sign is not decided. An
/// interval that reaches δ is undecided. The margin is fixed before the measurement, from the
/// source's numbers alone (equivalence-test logic; Wellek 2010, *Testing Statistical Hypotheses
/// of Equivalence and Noninferiority*, ch. 1).
#[derive(Debug, Clone)]
pub struct Margin {
    /// δ, in units of test error.
    pub delta: f64,
    /// Where the source's gap comes from, for the report.
    pub source: String,
    /// The source's relative gap (e_b − e_a)/e_b.
    pub relative_gap: f64,
}

impl Margin {
    /// Half the relative gap of the source's errors `source_a` < `source_b`, applied to the
    /// measured `err_b`.
    pub fn half_source_gap(source_a: f64, source_b: f64, err_b: f64, source: &str) -> Self {
        let relative_gap = (source_b - source_a) / source_b;
        Margin {
            delta: 0.5 * relative_gap * err_b,
            source: source.to_string(),
            relative_gap,
        }
    }
}

/// How a paired 95% interval of err(worse) − err(better) decides "better beats worse".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Interval above 0: the ordering holds.
    Confirmed,
    /// Interval below 0: the ordering is reversed.
    Reversed,
    /// Interval contains 0 but lies below the margin δ: no advantage of the source's size.
    BelowMargin,
    /// Interval contains 0 and reaches the margin.
    Undecided,
}

/// The decision of a paired interval (lo, hi) against the margin `delta` (see [`Margin`]).
pub fn decide(lo: f64, hi: f64, delta: f64) -> Decision {
    if lo > 0.0 {
        Decision::Confirmed
    } else if hi < 0.0 {
        Decision::Reversed
    } else if hi < delta {
        Decision::BelowMargin
    } else {
        Decision::Undecided
    }
}

/// The claim "`point` > 0" judged by its paired 95% interval (lo, hi): above 0 passes, below 0
/// refutes the source (for this data and size), containing 0 but below the margin δ refutes the
/// source's size of effect (for this data and size), containing 0 and reaching δ is undecided —
/// `fail` at default and full scale, `not-judged` (neither pass nor fail, and said so) in a
/// quick-scale smoke run.
pub fn interval_claim(
    id: &str,
    statement: &str,
    (point, lo, hi): (f64, f64, f64),
    criterion: String,
    scale: Scale,
    margin: &Margin,
) -> Claim {
    let expected = "> 0";
    let delta = margin.delta;
    let pct = 100.0 * margin.relative_gap;
    match decide(lo, hi, delta) {
        Decision::Confirmed => Claim::check(id, statement, point, expected, criterion, true),
        Decision::Reversed => Claim::refutes_source(id, statement, point, expected, criterion),
        Decision::BelowMargin => Claim::refutes_source(
            id,
            statement,
            point,
            expected,
            format!(
                "{criterion}; the interval contains 0 but lies below δ = {delta:.4}, half the source's relative gap ({pct:.0}%, {}) of err(b): an advantage of the source's kind is excluded at this size",
                margin.source
            ),
        ),
        Decision::Undecided if scale == Scale::Quick => Claim::not_judged(
            id,
            statement,
            point,
            expected,
            format!(
                "{criterion}; the interval contains 0 and reaches δ = {delta:.4} (half the source's relative gap): quick \
scale is a smoke run too small to decide it: not judged"
            ),
        ),
        Decision::Undecided => Claim::check(
            id,
            statement,
            point,
            expected,
            format!(
                "{criterion}; the interval contains 0 and reaches δ = {delta:.4} (half the source's relative gap, {pct:.0}%, {}): not decided at this size",
                margin.source
            ),
            false,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decide_reads_the_interval_against_zero_and_the_margin() {
        assert_eq!(decide(0.01, 0.03, 0.02), Decision::Confirmed);
        assert_eq!(decide(-0.03, -0.01, 0.02), Decision::Reversed);
        assert_eq!(decide(-0.01, 0.015, 0.02), Decision::BelowMargin);
        assert_eq!(decide(-0.01, 0.025, 0.02), Decision::Undecided);
        // A zero margin leaves only the sign.
        assert_eq!(decide(-0.01, 0.001, 0.0), Decision::Undecided);
    }

    #[test]
    fn margin_is_half_the_source_relative_gap() {
        // The table's 19% against 23%: relative gap 4/23; half of it, of a measured 0.20.
        let m = Margin::half_source_gap(0.19, 0.23, 0.20, "test");
        assert!((m.relative_gap - 4.0 / 23.0).abs() < 1e-15);
        assert!((m.delta - 0.5 * 4.0 / 23.0 * 0.20).abs() < 1e-15);
    }

    /// A test set larger than the subset's 2 000 test-file images is topped up with training-file
    /// images that are neither training nor validation images, and leaves the rest of the split
    /// as it is without the top-up.
    #[test]
    fn fashion_test_top_up_is_disjoint_and_keeps_the_split() {
        let sizes = SplitSizes {
            n_train: 50,
            n_val: 20,
            n_test: 2000,
        };
        let plain = fashion_mnist(sizes, 4, false, 7).unwrap();
        let more = fashion_mnist(
            SplitSizes {
                n_test: 2300,
                ..sizes
            },
            4,
            false,
            7,
        )
        .unwrap();
        assert_eq!(plain.train, more.train);
        assert_eq!(plain.val, more.val);
        assert_eq!(more.test.nrows(), 2300);
        assert_eq!(more.test_labels.len(), 2300);
        assert_eq!(more.test.as_ref().subrows(0, 2000), plain.test.as_ref());
        assert_eq!(&more.test_labels[..2000], &plain.test_labels[..]);
        // No extra test image equals a training or validation image (pixel for pixel).
        let rows = |m: &Mat<f64>| -> Vec<Vec<u64>> {
            (0..m.nrows())
                .map(|i| (0..m.ncols()).map(|j| m[(i, j)].to_bits()).collect())
                .collect()
        };
        let seen: std::collections::HashSet<Vec<u64>> = rows(&more.train)
            .into_iter()
            .chain(rows(&more.val))
            .collect();
        let extra = rows(&more.test).split_off(2000);
        assert!(extra.iter().all(|r| !seen.contains(r)));
        // Asking for more than the training file holds is an error, not a panic.
        assert!(
            fashion_mnist(
                SplitSizes {
                    n_train: 9000,
                    n_val: 500,
                    n_test: 3000,
                },
                4,
                false,
                7
            )
            .is_err()
        );
    }

    /// The folds of the digits' cross-fitting: within each fold test, validation and training
    /// images are disjoint; no image is a test image in both folds; the second fold trains only
    /// on the first fold's test images; sizes are kept.
    #[test]
    fn two_folds_exchange_test_and_training_pools() {
        let sizes = SplitSizes {
            n_train: 30,
            n_val: 10,
            n_test: 50,
        };
        let order: Vec<usize> = (0..100).rev().collect();
        let folds = two_fold_rows(&order, sizes);
        use std::collections::HashSet;
        let set = |r: &[usize]| r.iter().copied().collect::<HashSet<_>>();
        for [test, val, train] in folds {
            assert_eq!((val.len(), train.len()), (10, 30));
            assert!(set(test).is_disjoint(&set(val)));
            assert!(set(test).is_disjoint(&set(train)));
            assert!(set(val).is_disjoint(&set(train)));
        }
        let [[t0, v0, r0], [t1, v1, r1]] = folds;
        assert!(set(t0).is_disjoint(&set(t1)));
        assert_eq!(t0.len() + t1.len(), 90);
        // Fold 1's test images are exactly fold 0's validation and training images.
        assert_eq!(set(t1), &set(v0) | &set(r0));
        assert!(set(v1).is_subset(&set(t0)) && set(r1).is_subset(&set(t0)));
        // The real data: a split that leaves too few test images for the exchange is an error.
        assert!(
            digits_two_folds(
                SplitSizes {
                    n_train: 480,
                    n_val: 150,
                    n_test: 600,
                },
                1
            )
            .is_err()
        );
        let [a, b] = digits_two_folds(sizes, 1).unwrap();
        assert_eq!((a.test.nrows(), b.test.nrows()), (50, 40));
        assert_eq!((b.train.nrows(), b.val.nrows()), (30, 10));
    }

    fn outcome(correct: &[bool], fold_sizes: Vec<usize>) -> TestOutcome {
        TestOutcome {
            correct: correct.to_vec(),
            val_accuracy: 1.0,
            selected: 0.0,
            fold_sizes,
        }
    }

    /// Pooling keeps every fold's images and their order; the stratified bootstrap of pooled
    /// outcomes keeps each fold's count, so a difference confined to one fold of constant sign
    /// has an interval that never reaches past what that fold alone can give; mismatched folds
    /// are an error.
    #[test]
    fn cross_fit_pools_folds_and_the_bootstrap_stays_within_them() {
        // Fold 0: a and b agree everywhere (difference 0 on every image). Fold 1: b is wrong
        // and a right on all 10 images (difference 1). Pooled point estimate 10/30. A plain
        // bootstrap would let the count of fold-1 images vary (interval wider than a point);
        // the stratified one keeps exactly 10 of them in every resample: the interval is the
        // point itself.
        let a0 = outcome(&[true; 20], vec![20]);
        let b0 = outcome(&[true; 20], vec![20]);
        let a1 = outcome(&[true; 10], vec![10]);
        let b1 = outcome(&[false; 10], vec![10]);
        let a = TestOutcome::cross_fit(&[&a0, &a1]).unwrap();
        let b = TestOutcome::cross_fit(&[&b0, &b1]).unwrap();
        assert_eq!(a.fold_sizes, vec![20, 10]);
        assert_eq!(b.correct[20..], [false; 10]);
        let (point, lo, hi) = paired_difference(&a, &b, 3).unwrap();
        assert!((point - 1.0 / 3.0).abs() < 1e-15);
        assert!((lo - point).abs() < 1e-15 && (hi - point).abs() < 1e-15);
        // Unpooled against pooled: not the same images.
        assert!(paired_difference(&a0, &b, 3).is_err());
        assert!(TestOutcome::cross_fit(&[]).is_err());
    }
}
