//! A per-thread pool of the activation, patch and delta buffers of the convolutional passes.
//!
//! As for the MLP (`mlp::pool`): the im2col patch matrices of a batch are tens of MB, and fresh
//! allocations of that size are mapped and page-faulted in by the system allocator at every call.
//! Finished passes return their buffers here and the next pass on the same thread reuses them.
//! Contents are stale: [`take`] is only for buffers the caller overwrites entirely.

use std::cell::RefCell;

/// Most bytes one thread's pool keeps (larger returns are dropped).
const MAX_POOL_BYTES: usize = 256 << 20;

thread_local! {
    static POOL: RefCell<Vec<Vec<f64>>> = const { RefCell::new(Vec::new()) };
}

/// A buffer of `len` entries with stale contents (or a new zero buffer).
pub(crate) fn take(len: usize) -> Vec<f64> {
    POOL.with(|pool| {
        let mut pool = pool.try_borrow_mut().ok()?;
        let index = pool.iter().rposition(|b| b.len() == len)?;
        Some(pool.swap_remove(index))
    })
    .unwrap_or_else(|| vec![0.0; len])
}

/// A zero-filled buffer of `len` entries.
pub(crate) fn take_zeroed(len: usize) -> Vec<f64> {
    let mut buffer = take(len);
    buffer.fill(0.0);
    buffer
}

/// Hands buffers back to this thread's pool (dropped beyond [`MAX_POOL_BYTES`]).
pub(crate) fn give(buffers: impl IntoIterator<Item = Vec<f64>>) {
    POOL.with(|pool| {
        let Ok(mut pool) = pool.try_borrow_mut() else {
            return;
        };
        let mut total: usize = pool.iter().map(|b| b.len() * 8).sum();
        for b in buffers {
            if total + b.len() * 8 <= MAX_POOL_BYTES {
                total += b.len() * 8;
                pool.push(b);
            }
        }
    });
}

#[cfg(test)]
mod tests {
    #[test]
    fn reuses_by_length() {
        let mut a = super::take(10);
        a[3] = 2.0;
        let ptr = a.as_ptr();
        super::give([a]);
        let other = super::take(11);
        assert_ne!(other.as_ptr(), ptr);
        let b = super::take_zeroed(10);
        assert_eq!(b.as_ptr(), ptr);
        assert!(b.iter().all(|&v| v == 0.0));
    }
}
