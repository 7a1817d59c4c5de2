//! # ntk-kernels: infinite-width kernels of fully-connected networks
//!
//! The NNGP kernel Σ⁽ʰ⁾ and the neural tangent kernel Θ⁽ᴸ⁾ of deep fully-connected networks
//! (Lee et al. 2018, arXiv:1711.00165; Jacot et al. 2018, arXiv:1806.07572; Arora et al. 2019,
//! arXiv:1904.11955 Thm 3.1):
//!
//! $$ \Sigma^{(h)}(x,x') = w^2\,\mathbb E_{(u,v)\sim\mathcal N(0,\Lambda^{(h)})}[\sigma(u)\sigma(v)] + b^2, \qquad
//!    \Theta^{(h)} = \Sigma^{(h)} + w^2\,\dot\Sigma^{(h)}\,\Theta^{(h-1)} $$
//!
//! with neural-tangents' conventions (Σ⁽⁰⁾ = xᵀx'/d), the two-layer forms of the lecture material
//! (Bietti & Mairal 2019; Du et al. 2019), random-feature and neural-tangent kernels with their
//! finite-N versions, kernel regression and the NTK-GP of a network trained by gradient flow
//! (Lee et al. 2019, arXiv:1902.06720), and Mercer spectra of dot-product kernels on the sphere.
//!
//! Kernels larger than memory are written tile by tile to NumPy `.npy` files within a memory
//! budget, resumably ([`stream`], with the file I/O in [`npy`]).

pub mod activation;
pub mod analytic;
pub mod architecture;
pub mod conv;
pub mod error;
pub mod mercer;
pub mod monte_carlo;
pub mod npy;
pub mod random_features;
pub mod regression;
pub mod stream;
pub mod tile_shards;
pub mod tiled;
pub mod two_layer;

pub use activation::Activation;
pub use architecture::{Architecture, Layer, Parameterization};
pub use conv::{ConvArchitecture, ConvLayer, Padding};
pub use error::{Error, Result};
