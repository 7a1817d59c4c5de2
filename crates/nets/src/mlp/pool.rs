//! A per-thread pool of the n × width buffers of the forward and backward passes.
//!
//! Each pass of an MLP allocates one n × n_l matrix per layer for Z⁽ˡ⁾, G⁽ˡ⁾ and δ⁽ˡ⁾ (tens of MB
//! at n = 1024, width 512). Fresh allocations of that size are mapped by the system allocator
//! and page-faulted in on first touch at every call (glibc maps blocks above its mmap threshold
//! and unmaps them on free): measured at 6000 faults and ≈ 25% of the empirical NTK's time at
//! n = 1024. Passes that are done with their buffers hand them back here, and the next pass of
//! the same shapes on the same thread reuses them. Contents are stale: [`take`] is only for
//! buffers the caller overwrites entirely.

use faer::Mat;
use std::cell::RefCell;

/// Most bytes one thread's pool keeps (larger returns are dropped).
const MAX_POOL_BYTES: usize = 256 << 20;

thread_local! {
    static POOL: RefCell<Vec<Mat<f64>>> = const { RefCell::new(Vec::new()) };
}

fn bytes(m: &Mat<f64>) -> usize {
    m.nrows() * m.ncols() * std::mem::size_of::<f64>()
}

/// An `nrows × ncols` matrix that the caller overwrites entirely: a pooled one of that shape
/// (stale contents) or a new zero matrix.
pub(crate) fn take(nrows: usize, ncols: usize) -> Mat<f64> {
    POOL.with(|pool| {
        let mut pool = pool.try_borrow_mut().ok()?;
        let index = pool
            .iter()
            .rposition(|m| m.nrows() == nrows && m.ncols() == ncols)?;
        Some(pool.swap_remove(index))
    })
    .unwrap_or_else(|| Mat::zeros(nrows, ncols))
}

/// Hands matrices back to this thread's pool (each dropped instead if it would exceed
/// [`MAX_POOL_BYTES`]).
pub(crate) fn give(mats: impl IntoIterator<Item = Mat<f64>>) {
    give_within(mats, MAX_POOL_BYTES);
}

/// [`give`] with the bound `max_bytes`.
fn give_within(mats: impl IntoIterator<Item = Mat<f64>>, max_bytes: usize) {
    POOL.with(|pool| {
        let Ok(mut pool) = pool.try_borrow_mut() else {
            return;
        };
        let mut total: usize = pool.iter().map(bytes).sum();
        for m in mats {
            if total + bytes(&m) <= max_bytes {
                total += bytes(&m);
                pool.push(m);
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A returned buffer comes back for the same shape only, and the pool is bounded.
    #[test]
    fn buffers_are_reused_by_shape() {
        let mut a = take(3, 4);
        assert!(a == Mat::<f64>::zeros(3, 4));
        a[(1, 2)] = 7.0;
        let ptr = a.as_ptr();
        give([a]);
        assert_ne!(take(4, 3).as_ptr(), ptr);
        let b = take(3, 4);
        assert_eq!(b.as_ptr(), ptr);
        assert_eq!(b[(1, 2)], 7.0); // stale contents: callers overwrite
        // Beyond the bound a returned buffer is dropped: the next take allocates anew.
        let ptr = b.as_ptr();
        give_within([b], 3 * 4 * 8 - 1);
        let c = take(3, 4);
        assert!(c.as_ptr() != ptr || c == Mat::<f64>::zeros(3, 4));
    }
}
