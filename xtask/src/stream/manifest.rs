//! The manifest beside a streamed kernel (format `ntk-lab-tiles/1`): the library's
//! [`ntk_kernels::stream::manifest`], re-exported under the path the shard code uses.

pub use ntk_kernels::stream::manifest::*;
