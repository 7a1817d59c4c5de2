//! A LeNet-style CNN and an MLP trained on the shipped Fashion-MNIST subset (10 000 training,
//! 2 000 test images; `data/README.md`), with progress bars.
//!
//! ```text
//! cargo run --release --example fashion_mnist_cnn -- [cnn|mlp|both] [EPOCHS] [--full DIR]
//! ```
//!
//! Inputs: per-image centring and L2 normalisation to ‖x‖ = √784 (`Preprocessing::Standardize`).
//! 1 000 of the training images are held out for early stopping (patience 4 on the validation
//! loss); training minibatches are augmented by random horizontal flips and ±2-pixel shifts.
//! Adam (η = 2·10⁻³, warm-up + cosine decay, decoupled weight decay 10⁻⁴), cross-entropy,
//! batch 64, standard parameterization with He initialisation (w_std = √2).
//!
//! CNN: Conv(16, 5×5, SAME) → ReLU → AvgPool(2×2) → Conv(32, 5×5, SAME) → ReLU → AvgPool(2×2)
//! → Flatten → Dense(128) → ReLU → Dense(10). MLP: Flatten → Dense(512) → ReLU → Dense(256) →
//! ReLU → Dense(10).

use indicatif::{ProgressBar, ProgressStyle};
use ntk_lab::bounds::fashion_mnist::{FASHION_MNIST_SIDE, FashionMnist, Preprocessing, preprocess};
use ntk_lab::dynamics::optim::{
    Augmentation, ClassifierConfig, Optimizer, Schedule, Selection, TrainingEvent, evaluate,
    train_classifier, validation_split,
};
use ntk_lab::kernels::{Activation, ConvArchitecture, ConvLayer, Padding, Parameterization};
use ntk_lab::nets::{ClassificationLoss, ConvNet};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::time::Instant;

const HE: f64 = std::f64::consts::SQRT_2;

fn conv(channels: usize) -> ConvLayer {
    ConvLayer::Conv {
        channels,
        filter: (5, 5),
        strides: (1, 1),
        padding: Padding::Same,
        w_std: HE,
        b_std: Some(0.0),
    }
}

fn dense(width: usize, w_std: f64) -> ConvLayer {
    ConvLayer::Dense {
        width,
        w_std,
        b_std: Some(0.0),
    }
}

fn pool() -> ConvLayer {
    ConvLayer::AvgPool {
        window: (2, 2),
        strides: (2, 2),
        padding: Padding::Valid,
    }
}

fn cnn() -> Vec<ConvLayer> {
    let relu = ConvLayer::Activation(Activation::Relu);
    vec![
        conv(16),
        relu,
        pool(),
        conv(32),
        relu,
        pool(),
        ConvLayer::Flatten,
        dense(128, HE),
        relu,
        dense(10, 1.0),
    ]
}

fn mlp() -> Vec<ConvLayer> {
    let relu = ConvLayer::Activation(Activation::Relu);
    vec![
        ConvLayer::Flatten,
        dense(512, HE),
        relu,
        dense(256, HE),
        relu,
        dense(10, 1.0),
    ]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let which = args.first().map_or("both", String::as_str).to_string();
    let epochs: usize = args.get(1).map_or(Ok(20), |s| s.parse())?;
    let full_dir = args
        .iter()
        .position(|a| a == "--full")
        .map(|i| args.get(i + 1).cloned());
    let data = match full_dir {
        Some(dir) => FashionMnist::load_full(dir.as_deref().map(std::path::Path::new))?,
        None => FashionMnist::load_bundled()?,
    };
    let x_all = preprocess(data.train.pixels.as_ref(), Preprocessing::Standardize)?;
    let labels_all: Vec<usize> = data.train.labels.iter().map(|&c| usize::from(c)).collect();
    let x_test = preprocess(data.test.pixels.as_ref(), Preprocessing::Standardize)?;
    let y_test: Vec<usize> = data.test.labels.iter().map(|&c| usize::from(c)).collect();
    let fraction = 1000.0 / x_all.nrows() as f64;
    let ((x, y), (xv, yv)) = validation_split(x_all.as_ref(), &labels_all, fraction, 17)?;
    println!(
        "Fashion-MNIST: {} train, {} validation, {} test images; {} rayon threads",
        x.nrows(),
        xv.nrows(),
        x_test.nrows(),
        rayon::current_num_threads()
    );
    let models: Vec<(&str, Vec<ConvLayer>)> = match which.as_str() {
        "cnn" => vec![("cnn", cnn())],
        "mlp" => vec![("mlp", mlp())],
        _ => vec![("cnn", cnn()), ("mlp", mlp())],
    };
    for (name, layers) in models {
        let arch = ConvArchitecture::new(layers, Parameterization::Standard)?;
        let net = ConvNet::new(&arch, (FASHION_MNIST_SIDE, FASHION_MNIST_SIDE, 1))?;
        let theta0 = net.init_params(&mut ChaCha8Rng::seed_from_u64(2024));
        let config = ClassifierConfig {
            loss: ClassificationLoss::CrossEntropy,
            optimizer: Optimizer::adam(),
            learning_rate: 2e-3,
            schedule: Schedule::WarmupCosine {
                warmup: 0.03,
                final_fraction: 0.0,
            },
            batch_size: Some(64),
            epochs,
            weight_decay: 1e-4,
            seed: 7,
            patience: Some(4),
            selection: Selection::ValidationLoss,
            augmentation: Some(Augmentation {
                image_shape: (FASHION_MNIST_SIDE, FASHION_MNIST_SIDE, 1),
                horizontal_flip: true,
                max_shift: 2,
            }),
        };
        let bar = ProgressBar::new(0);
        bar.set_style(ProgressStyle::with_template(
            "{prefix} [{elapsed_precise}] {bar:30} {pos}/{len} steps {msg}",
        )?);
        bar.set_prefix(format!("{name} ({} params)", net.n_params()));
        let start = Instant::now();
        let trained = train_classifier(
            &net,
            x.as_ref(),
            &y,
            Some((xv.as_ref(), &yv)),
            &theta0,
            &config,
            |event| {
                match event {
                    TrainingEvent::Step {
                        step,
                        total_steps,
                        loss,
                        epoch,
                    } => {
                        bar.set_length(*total_steps as u64);
                        bar.set_position(*step as u64 + 1);
                        if step % 20 == 0 {
                            bar.set_message(format!("epoch {epoch} loss {loss:.3}"));
                        }
                    }
                    TrainingEvent::Epoch(report) => {
                        let (val_loss, val_acc) = report.validation.unwrap_or((f64::NAN, f64::NAN));
                        bar.suspend(|| println!(
                            "{name} epoch {:>2}: train loss {:.4}, validation loss {:.4}, accuracy {:.2}% ({:.0} s)",
                            report.epoch,
                            report.train_loss,
                            val_loss,
                            100.0 * val_acc,
                            start.elapsed().as_secs_f64()
                        ));
                    }
                }
                Ok(())
            },
        )?;
        bar.finish_and_clear();
        let seconds = start.elapsed().as_secs_f64();
        let (test_loss, test_acc) =
            evaluate(&net, &trained.theta, x_test.as_ref(), &y_test, config.loss)?;
        println!(
            "{name}: test accuracy {:.2}% (loss {test_loss:.4}) after {} epochs (best epoch {}, early stop: {}), {seconds:.0} s training",
            100.0 * test_acc,
            trained.history.len(),
            trained.best_epoch,
            trained.stopped_early
        );
    }
    Ok(())
}
