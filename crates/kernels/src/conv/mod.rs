//! Convolutional networks: architectures and their infinite-width kernels, the CNN-GP (NNGP)
//! and the CNTK.
//!
//! The recursion of the dense kernels runs on covariances indexed by pairs of spatial
//! positions: with Σ⁽⁰⁾(x, x′)(p, p′) = Σ_c x(p, c)x′(p′, c)/C and Θ⁽⁰⁾ = 0,
//!
//! $$ \text{Conv: } \Sigma \leftarrow w^2\,\mathcal A(\Sigma) + b^2,\ \Theta \leftarrow \Sigma + w^2\,\mathcal A(\Theta);\qquad
//!    \sigma:\ \Sigma_{pp'} \leftarrow \mathbb E\,\sigma(u)\sigma(v),\ \Theta_{pp'} \leftarrow \mathbb E\,\sigma'(u)\sigma'(v)\,\Theta_{pp'} $$
//!
//! with 𝒜 the mean over filter taps of both positions shifted together (`stencil`), then a
//! `Flatten` (mean of Σ(p, p)) or `GlobalAvgPool` (mean of all Σ(p, p′)) readout and the dense
//! layers (Novak et al. 2019, arXiv:1810.05148; Arora et al. 2019, arXiv:1904.11955, App.
//! "CNTK"). Without pooling only same-position covariances are needed (`diagonal`); pooling
//! needs every pair (`full`). [`kernel`] chooses the form from the architecture.
//!
//! Modules: `architecture` (the layer vocabulary, shared with the finite networks of
//! `ntk-nets`), `plan` (an architecture compiled for one image shape: tap tables, form),
//! `stencil` (the separable conv and pooling steps), `diagonal` and `full` (the two forms),
//! `pair` (per-position variances of activations), `kernel` (the all-pairs evaluation),
//! [`monte_carlo`] (the empirical NNGP of random finite CNNs, for validation).

pub mod architecture;
mod diagonal;
mod full;
mod kernel;
pub mod monte_carlo;
mod pair;
mod plan;
mod stencil;

pub use architecture::{ConvArchitecture, ConvLayer, Padding, Shape};
pub use kernel::{kernel, kernel_with_form};
pub use plan::Form;
