//! NumPy arrays in and out.
//!
//! Inputs: a float64 array of the expected rank. A C-contiguous (row-major) or, for matrices,
//! F-contiguous (column-major) array is read in place through a borrowed slice, without a copy;
//! any other layout (a strided view, a transposed image batch) is copied once into row-major
//! order. Another dtype, another rank or a non-array is a `ValueError` naming the argument.
//!
//! Outputs: C-contiguous float64 arrays allocated by NumPy and written by the kernels in place.

use crate::errors::invalid;
use faer::MatRef;
use numpy::{
    PyArray2, PyArrayDescrMethods, PyArrayDyn, PyArrayMethods, PyReadonlyArrayDyn, PyUntypedArray,
    PyUntypedArrayMethods,
};
use pyo3::prelude::*;

/// How the values of an input are held.
enum Storage<'py> {
    /// Borrowed from the NumPy array (C order, or F order for a matrix).
    Borrowed(PyReadonlyArrayDyn<'py, f64>),
    /// A row-major copy of a non-contiguous array.
    Copied(Vec<f64>),
}

/// A float64 input array of a checked rank.
pub struct Input<'py> {
    storage: Storage<'py>,
    shape: Vec<usize>,
    /// True when the values are in column-major (Fortran) order (borrowed matrices only).
    fortran: bool,
}

impl<'py> Input<'py> {
    /// Checks that `obj` is a float64 NumPy array of rank `rank` (`arg` names it in errors) and
    /// borrows its data where the layout allows.
    pub fn new(obj: &Bound<'py, PyAny>, arg: &str, rank: usize) -> PyResult<Self> {
        let py = obj.py();
        let untyped = obj.cast::<PyUntypedArray>().map_err(|_| {
            invalid(format!(
                "`{arg}` must be a NumPy array of float64, got {}",
                type_name(obj)
            ))
        })?;
        let dtype = untyped.dtype();
        if !dtype.is_equiv_to(&numpy::dtype::<f64>(py)) {
            return Err(invalid(format!(
                "`{arg}` must have dtype float64 (native byte order), got {}; convert it with \
                 `np.asarray({arg}, dtype=np.float64)`",
                dtype
                    .str()
                    .map_or_else(|_| "?".to_string(), |s| s.to_string())
            )));
        }
        if untyped.ndim() != rank {
            return Err(invalid(format!(
                "`{arg}` must have rank {rank} ({}), got shape {:?}",
                match rank {
                    2 => "points x features",
                    4 => "images x height x width x channels, NHWC",
                    _ => "see the docs",
                },
                untyped.shape()
            )));
        }
        let shape = untyped.shape().to_vec();
        let array = obj.cast::<PyArrayDyn<f64>>().map_err(PyErr::from)?;
        let readonly = array.try_readonly().map_err(|e| {
            invalid(format!(
                "`{arg}` is being written elsewhere and cannot be read: {e}"
            ))
        })?;
        let c_order = untyped.is_c_contiguous();
        let fortran = !c_order && rank == 2 && untyped.is_fortran_contiguous();
        let storage = if c_order || fortran {
            Storage::Borrowed(readonly)
        } else {
            // ndarray iterates in logical (row-major) order whatever the strides.
            Storage::Copied(readonly.as_array().iter().copied().collect())
        };
        Ok(Self {
            storage,
            shape,
            fortran,
        })
    }

    /// The shape of the array.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The values in memory order (row-major, or column-major for an F-ordered matrix).
    pub fn values(&self) -> &[f64] {
        match &self.storage {
            Storage::Borrowed(array) => array
                .as_slice()
                .expect("checked contiguous when the input was borrowed"),
            Storage::Copied(values) => values,
        }
    }

    /// The input as a matrix (rank 2 only), viewing the NumPy buffer in place when borrowed.
    pub fn matrix(&self) -> MatRef<'_, f64> {
        let (rows, cols) = (self.shape[0], self.shape[1]);
        if self.fortran {
            MatRef::from_column_major_slice(self.values(), rows, cols)
        } else {
            MatRef::from_row_major_slice(self.values(), rows, cols)
        }
    }

    /// The input (any rank) flattened to rows × (product of the other dimensions), row-major.
    pub fn rows(&self) -> MatRef<'_, f64> {
        if self.shape.len() == 2 {
            return self.matrix();
        }
        let rows = self.shape[0];
        let cols = self.shape[1..].iter().product();
        MatRef::from_row_major_slice(self.values(), rows, cols)
    }

    /// Whether the values are read in place from the NumPy buffer.
    pub fn is_borrowed(&self) -> bool {
        matches!(self.storage, Storage::Borrowed(_))
    }
}

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map_or_else(|_| "?".to_string(), |n| n.to_string())
}

/// An optional input (`None` stays `None`).
pub fn optional_input<'py>(
    obj: Option<&Bound<'py, PyAny>>,
    arg: &str,
    rank: usize,
) -> PyResult<Option<Input<'py>>> {
    match obj {
        Some(o) if !o.is_none() => Input::new(o, arg, rank).map(Some),
        _ => Ok(None),
    }
}

/// An uninitialised n₁ × n₂ C-contiguous float64 array from `numpy.empty` (the caller writes
/// every entry); a failed allocation is Python's `MemoryError`, not a panic.
pub fn empty<'py>(py: Python<'py>, n1: usize, n2: usize) -> PyResult<Bound<'py, PyArray2<f64>>> {
    let numpy = py.import("numpy")?;
    let array = numpy.call_method1("empty", ((n1, n2),))?;
    Ok(array.cast_into::<PyArray2<f64>>()?)
}

/// A new C-contiguous NumPy array holding a copy of `m` (for the small results of
/// factorisations and finite networks, which faer allocates itself).
pub fn to_numpy<'py>(py: Python<'py>, m: MatRef<'_, f64>) -> PyResult<Bound<'py, PyArray2<f64>>> {
    let array = empty(py, m.nrows(), m.ncols())?;
    {
        let mut guard = array.readwrite();
        let slice = guard.as_slice_mut().map_err(|e| invalid(e.to_string()))?;
        let cols = m.ncols();
        for i in 0..m.nrows() {
            for j in 0..cols {
                slice[i * cols + j] = m[(i, j)];
            }
        }
    }
    Ok(array)
}
