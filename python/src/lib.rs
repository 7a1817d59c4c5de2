//! `ntk_lab._native`: the compiled core of the `ntk_lab` Python package.
//!
//! Thin bindings over the ntk-lab crates: NumPy float64 arrays in (borrowed without a copy when
//! C-contiguous) and out (kernels written in place into arrays NumPy allocated), the GIL released
//! while Rust works, every crate error raised as `ValueError` with the crate's message and no
//! panic crossing into Python. The user-facing API (`ntk_lab.stax`, `ntk_lab.predict`, the
//! scikit-learn estimators) is the Python code around it.

mod architecture;
mod arrays;
mod empirical;
mod errors;
mod kernel;
mod mercer;
mod predict;
mod stream;

use pyo3::prelude::*;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<architecture::PyArchitecture>()?;
    m.add_class::<predict::PyGradientDescentMse>()?;
    m.add_function(wrap_pyfunction!(kernel::kernel, m)?)?;
    m.add_function(wrap_pyfunction!(kernel::_input_address, m)?)?;
    m.add_function(wrap_pyfunction!(kernel::_time_rust_kernel, m)?)?;
    m.add_function(wrap_pyfunction!(empirical::init_params, m)?)?;
    m.add_function(wrap_pyfunction!(empirical::n_params, m)?)?;
    m.add_function(wrap_pyfunction!(empirical::apply, m)?)?;
    m.add_function(wrap_pyfunction!(empirical::empirical_ntk, m)?)?;
    m.add_function(wrap_pyfunction!(empirical::empirical_nngp, m)?)?;
    m.add_function(wrap_pyfunction!(mercer::mercer_spectrum, m)?)?;
    m.add_function(wrap_pyfunction!(stream::kernel_to_npy, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
