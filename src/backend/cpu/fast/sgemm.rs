//! The one matrix product of the convolutions' fast CPU path, and the threads it runs on:
//! `bench --peak` times the same call.
//!
//! Owns: the call into the `gemm` crate. Must not touch: what the products compute.

/// A strided view of a matrix: element `(r, c)` at `data[r * rs + c * cs]`.
#[derive(Clone, Copy)]
pub(crate) struct Strided<'a> {
    pub data: &'a [f32],
    pub rs: usize,
    pub cs: usize,
}

impl<'a> Strided<'a> {
    /// A row-major matrix of `cols` columns.
    pub fn rows(data: &'a [f32], cols: usize) -> Self {
        Strided { data, rs: cols, cs: 1 }
    }
    /// A column-major matrix of `rows` rows.
    pub fn cols(data: &'a [f32], rows: usize) -> Self {
        Strided { data, rs: 1, cs: rows }
    }
}

/// Whether a `rows x cols` matrix at strides `rs`, `cs` lies inside `len` floats.
fn fits(len: usize, rows: usize, cols: usize, rs: usize, cs: usize) -> bool {
    rows == 0 || cols == 0 || len > (rows - 1) * rs + (cols - 1) * cs
}

/// `c (m x n) = a (m x k) * b (k x n)`, `c`'s element `(r, j)` at `r * rsc + j * csc`. Every
/// product of the fast path is one call of this; `bench --peak` times it too.
///
/// The `gemm` crate, on the calling thread only (`Parallelism::None`): its AVX-512 kernels
/// (chosen at run time, AVX2/FMA or portable ones elsewhere) take 0.6-0.75x the time of
/// `matrixmultiply`'s sgemm on this project's layer shapes. Its blocking and summation order
/// depend on the shape, the strides and the machine (its instruction set and cache sizes)
/// alone, so on one machine the same product always gives the same bits.
#[allow(clippy::too_many_arguments)]
pub(crate) fn gemm(m: usize, k: usize, n: usize, a: Strided, b: Strided, c: &mut [f32], rsc: usize, csc: usize) {
    assert!(fits(a.data.len(), m, k, a.rs, a.cs) && fits(b.data.len(), k, n, b.rs, b.cs) && fits(c.len(), m, n, rsc, csc));
    // SAFETY: the assert above keeps every index the product forms inside the three slices;
    // `c` is written only (`read_dst` false), never read.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            csc as isize,
            rsc as isize,
            false,
            a.data.as_ptr(),
            a.cs as isize,
            a.rs as isize,
            b.data.as_ptr(),
            b.cs as isize,
            b.rs as isize,
            0.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

/// The threads the fast path splits an op's images over (at most one per image); `bench
/// --peak` runs one product on each.
pub(crate) fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |t| t.get())
}
