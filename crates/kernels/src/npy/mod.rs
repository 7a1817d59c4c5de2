//! NumPy `.npy` files in and out: input arrays (n × d or NHWC n × H × W × C, float32/float64),
//! regression targets, and kernel matrices written tile by tile into a preallocated file.
//!
//! Headers are parsed and written by the `npyz` crate (NEP 1, format version 1.0). A kernel file
//! is created whole: `npyz` writes its header, the data region is preallocated to its final size,
//! and tiles are written at their offsets by positioned writes (`pwrite`,
//! [`std::os::unix::fs::FileExt`]); solvers read row blocks back by positioned reads. Memory
//! mapping (e.g. `memmap2`) would need `unsafe` (the mapping's soundness depends on no other
//! process truncating the file), which this workspace forbids (`unsafe_code = "forbid"`);
//! positioned I/O through the page cache gives the same access pattern, costs one copy per block,
//! and keeps the file out of the process's RSS.
//!
//! A file that cannot be used is an [`Error::KernelFile`] naming it; a
//! failed read of a stored kernel an [`Error::KernelIo`].

mod matrix_file;
mod read;

pub use matrix_file::{NpyMatrixFile, header_bytes, write_matrix};
pub use read::{InputArray, read_inputs, read_targets};

use crate::Error;

/// Storage type of a written kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dtype {
    F32,
    F64,
}

impl Dtype {
    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            Dtype::F32 => 4,
            Dtype::F64 => 8,
        }
    }

    /// The NumPy type string (little-endian).
    pub fn descr(self) -> &'static str {
        match self {
            Dtype::F32 => "<f4",
            Dtype::F64 => "<f8",
        }
    }

    /// `f32`/`float32` or `f64`/`float64`; `None` for anything else.
    pub fn from_name(text: &str) -> Option<Self> {
        match text {
            "f32" | "float32" => Some(Dtype::F32),
            "f64" | "float64" => Some(Dtype::F64),
            _ => None,
        }
    }
}

/// FNV-1a 64 over `bytes`, starting from `seed` (default: the FNV offset basis) — a
/// fingerprint, not a cryptographic hash:
///
/// $$ h_0 = \text{0xcbf29ce484222325}, \qquad h_{k+1} = (h_k \oplus b_k)\cdot \text{0x100000001b3} \bmod 2^{64}. $$
///
/// # Reference
/// Fowler, Noll & Vo, draft-eastlake-fnv (IETF), §2.
pub fn fnv1a(bytes: impl IntoIterator<Item = u8>, seed: Option<u64>) -> u64 {
    let mut hash = seed.unwrap_or(0xcbf2_9ce4_8422_2325);
    for byte in bytes {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

pub(crate) fn file_error(message: String) -> Error {
    Error::KernelFile { message }
}
