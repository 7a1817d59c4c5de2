//! Convolutional networks: architectures (and, in submodules, their infinite-width kernels).

pub mod architecture;

pub use architecture::{ConvArchitecture, ConvLayer, Padding, Shape};
