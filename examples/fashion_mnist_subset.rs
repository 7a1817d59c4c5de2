//! Re-derives the shipped Fashion-MNIST subset `data/fashion-mnist/` from the original files:
//! the first 1000 training and 200 test images of every class, in file order (deterministic).
//!
//! ```text
//! cargo run --release --example fashion_mnist_subset -- [SOURCE_DIR] [OUT_DIR]
//! ```
//!
//! SOURCE_DIR defaults to Debian's `/usr/share/datasets/fashion-mnist`
//! (`apt-get install dataset-fashion-mnist`), OUT_DIR to `data/fashion-mnist`. Prints the SHA-256
//! of the decompressed files, which must equal `ntk_bounds::fashion_mnist::SUBSET_FILES`.

use ntk_lab::bounds::fashion_mnist::{self, FashionMnist, SUBSET_FILES};
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let source = args.next().map(PathBuf::from);
    let out = args
        .next()
        .map(PathBuf::from)
        .unwrap_or_else(fashion_mnist::bundled_fashion_mnist_dir);
    let full = FashionMnist::load_full(source.as_deref())?;
    let digests = fashion_mnist::write_subset(&full, &out)?;
    let mut all_match = true;
    for (file, digest) in SUBSET_FILES.iter().zip(&digests) {
        let status = if *digest == file.sha256 {
            "ok"
        } else {
            "DIFFERS"
        };
        all_match &= *digest == file.sha256;
        println!("{digest}  {} ({status})", out.join(file.name).display());
    }
    if !all_match {
        return Err("the written subset differs from the digests in SUBSET_FILES".into());
    }
    Ok(())
}
