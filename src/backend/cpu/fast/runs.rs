//! The run primitives of the fast path's data movement ([`super::phases`],
//! [`super::winograd`]): copy, add, the stride-2 split and merge of a row, and the
//! transpose of a matrix. Most runs there are 1-32 floats long, too
//! short for `memcpy` calls or for loops with scalar tails, so on x86-64 CPUs with AVX-512
//! each run is a few masked 16-lane loads and stores; elsewhere plain loops. Both versions do
//! the same float operations on every element (a copy, or one addition), so they give the
//! same bits.
//!
//! Owns: these primitives and the choice between their versions. Must not touch: indexing.

/// The primitives, as one type per instruction set. `copy` and `add` write all of `dst` from
/// the first `dst.len()` floats of `src` (which may be longer, never shorter); `split2` and
/// `merge2` take `even`/`odd` of `ceil(n / 2)` and `floor(n / 2)`, `n` the row's length.
///
/// [`Avx512`]'s methods run AVX-512F instructions: they may only be called from a function
/// compiled for AVX-512F on a CPU that has it, which is what `with_runs!` arranges (and why
/// the type is private to `ops`).
pub(super) trait Runs {
    fn copy(dst: &mut [f32], src: &[f32]);
    fn add(dst: &mut [f32], src: &[f32]);
    /// `row[2j] -> even[j]`, `row[2j + 1] -> odd[j]`.
    fn split2(row: &[f32], even: &mut [f32], odd: &mut [f32]);
    /// `even[j] -> row[2j]`, `odd[j] -> row[2j + 1]`.
    fn merge2(row: &mut [f32], even: &[f32], odd: &[f32]);
    /// `dst (cols, rows) = src (rows, cols)`, both row-major and exactly that long, in blocks
    /// of 16 x 16 taken [`Along`] the rows of one side.
    fn transpose(src: &[f32], rows: usize, cols: usize, dst: &mut [f32], along: Along);
}

/// Which side's rows a transpose walks from start to end, 16 at a time: the side that lies
/// out of cache (an image read from, or written to, the activations), so that its memory
/// moves as 16 sequential streams and not as one line per row and block. Either order gives
/// the same bits.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Along {
    Src,
    Dst,
}

/// The 16 x 16 blocks of a `rows x cols` transpose, `(r0, c0)`, in `along`'s order.
#[inline(always)]
fn blocks(rows: usize, cols: usize, along: Along) -> impl Iterator<Item = (usize, usize)> {
    let (outer, inner) = match along {
        Along::Src => (rows, cols),
        Along::Dst => (cols, rows),
    };
    (0..outer).step_by(16).flat_map(move |a| (0..inner).step_by(16).map(move |b| if along == Along::Src { (a, b) } else { (b, a) }))
}

/// [`Runs::transpose`]'s plain loops, in blocks of 16 x 16.
#[inline(always)]
fn transpose_blocks(src: &[f32], rows: usize, cols: usize, dst: &mut [f32], along: Along) {
    assert!(src.len() == rows * cols && dst.len() == rows * cols);
    for (r0, c0) in blocks(rows, cols, along) {
        for r in r0..(r0 + 16).min(rows) {
            for c in c0..(c0 + 16).min(cols) {
                dst[c * rows + r] = src[r * cols + c];
            }
        }
    }
}

/// Plain loops: any CPU.
pub(super) struct Portable;

impl Runs for Portable {
    #[inline(always)]
    fn copy(dst: &mut [f32], src: &[f32]) {
        dst.copy_from_slice(&src[..dst.len()]);
    }
    #[inline(always)]
    fn add(dst: &mut [f32], src: &[f32]) {
        let src = &src[..dst.len()];
        dst.iter_mut().zip(src).for_each(|(v, &s)| *v += s);
    }
    #[inline(always)]
    fn split2(row: &[f32], even: &mut [f32], odd: &mut [f32]) {
        assert!(even.len() == row.len().div_ceil(2) && odd.len() == row.len() / 2);
        even.iter_mut().zip(row.iter().step_by(2)).for_each(|(v, &x)| *v = x);
        odd.iter_mut().zip(row.iter().skip(1).step_by(2)).for_each(|(v, &x)| *v = x);
    }
    #[inline(always)]
    fn merge2(row: &mut [f32], even: &[f32], odd: &[f32]) {
        assert!(even.len() >= row.len().div_ceil(2) && odd.len() >= row.len() / 2);
        row.iter_mut().step_by(2).zip(even).for_each(|(v, &x)| *v = x);
        row.iter_mut().skip(1).step_by(2).zip(odd).for_each(|(v, &x)| *v = x);
    }
    #[inline(always)]
    fn transpose(src: &[f32], rows: usize, cols: usize, dst: &mut [f32], along: Along) {
        transpose_blocks(src, rows, cols, dst, along);
    }
}

/// Whether this CPU has AVX-512F, the instruction set of every AVX-512 loop of the fast path.
pub(super) fn has_avx512() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Runs the body `$body` (a call generic over [`Runs`], with `$r` standing for the type) with
/// AVX-512 when the CPU has it, else with [`Portable`].
macro_rules! with_runs {
    (fn $name:ident($($arg:ident: $ty:ty),*) $body:block as $r:ident) => {
        // The group functions take a group's every part (shape, weights, images, outputs,
        // epilogue, scratch) as it is.
        #[allow(clippy::too_many_arguments)]
        pub(super) fn $name($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                #[allow(clippy::too_many_arguments)]
                #[target_feature(enable = "avx512f")]
                fn fast($($arg: $ty),*) {
                    type $r = $crate::backend::cpu::fast::runs::Avx512;
                    $body
                }
                if $crate::backend::cpu::fast::runs::has_avx512() {
                    // SAFETY: the CPU has AVX-512F, the one feature `fast` is compiled for.
                    return unsafe { fast($($arg),*) };
                }
            }
            type $r = $crate::backend::cpu::fast::runs::Portable;
            $body
        }
    };
}
pub(super) use with_runs;

#[cfg(target_arch = "x86_64")]
pub(super) use avx512::{Avx512, lanes};

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    use super::{Along, Runs};

    /// AVX-512F: only ever used inside a function compiled for it (see `with_runs!`).
    pub(in crate::backend::cpu::fast) struct Avx512;

    /// The first `n` (at most 16) lanes.
    #[inline(always)]
    pub(in crate::backend::cpu::fast) fn lanes(n: usize) -> __mmask16 {
        debug_assert!(n <= 16);
        ((1u32 << n) - 1) as __mmask16
    }

    // SAFETY (every block below): the CPU has AVX-512F (these are only reached from a
    // function compiled for it after the check); every load and store is masked to the
    // lanes that lie inside the slices they name, whose lengths are checked first.
    impl Runs for Avx512 {
        #[inline(always)]
        fn copy(dst: &mut [f32], src: &[f32]) {
            let n = dst.len();
            assert!(src.len() >= n);
            let mut i = 0;
            while i < n {
                let m = lanes((n - i).min(16));
                unsafe {
                    let v = _mm512_maskz_loadu_ps(m, src.as_ptr().add(i));
                    _mm512_mask_storeu_ps(dst.as_mut_ptr().add(i), m, v);
                }
                i += 16;
            }
        }

        #[inline(always)]
        fn add(dst: &mut [f32], src: &[f32]) {
            let n = dst.len();
            assert!(src.len() >= n);
            let mut i = 0;
            while i < n {
                let m = lanes((n - i).min(16));
                unsafe {
                    let a = _mm512_maskz_loadu_ps(m, dst.as_ptr().add(i));
                    let b = _mm512_maskz_loadu_ps(m, src.as_ptr().add(i));
                    _mm512_mask_storeu_ps(dst.as_mut_ptr().add(i), m, _mm512_add_ps(a, b));
                }
                i += 16;
            }
        }

        #[inline(always)]
        fn split2(row: &[f32], even: &mut [f32], odd: &mut [f32]) {
            let n = row.len();
            assert!(even.len() == n.div_ceil(2) && odd.len() == n / 2);
            let mut i = 0;
            while i < n {
                let (m_lo, m_hi) = (lanes((n - i).min(16)), lanes((n - i).saturating_sub(16).min(16)));
                let (m_even, m_odd) = (lanes((n - i).div_ceil(2).min(16)), lanes(((n - i) / 2).min(16)));
                unsafe {
                    let lo = _mm512_maskz_loadu_ps(m_lo, row.as_ptr().add(i));
                    let hi = _mm512_maskz_loadu_ps(m_hi, row.as_ptr().add(i + 16.min(n - i)));
                    let idx_e = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
                    let idx_o = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
                    _mm512_mask_storeu_ps(even.as_mut_ptr().add(i / 2), m_even, _mm512_permutex2var_ps(lo, idx_e, hi));
                    _mm512_mask_storeu_ps(odd.as_mut_ptr().add(i / 2), m_odd, _mm512_permutex2var_ps(lo, idx_o, hi));
                }
                i += 32;
            }
        }

        #[inline(always)]
        fn merge2(row: &mut [f32], even: &[f32], odd: &[f32]) {
            let n = row.len();
            assert!(even.len() >= n.div_ceil(2) && odd.len() >= n / 2);
            let mut i = 0;
            while i < n {
                let (m_lo, m_hi) = (lanes((n - i).min(16)), lanes((n - i).saturating_sub(16).min(16)));
                let (m_even, m_odd) = (lanes((n - i).div_ceil(2).min(16)), lanes(((n - i) / 2).min(16)));
                unsafe {
                    let e = _mm512_maskz_loadu_ps(m_even, even.as_ptr().add(i / 2));
                    let o = _mm512_maskz_loadu_ps(m_odd, odd.as_ptr().add(i / 2));
                    let idx_lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
                    let idx_hi = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
                    _mm512_mask_storeu_ps(row.as_mut_ptr().add(i), m_lo, _mm512_permutex2var_ps(e, idx_lo, o));
                    _mm512_mask_storeu_ps(row.as_mut_ptr().add(i + 16.min(n - i)), m_hi, _mm512_permutex2var_ps(e, idx_hi, o));
                }
                i += 32;
            }
        }

        /// Blocks of 16 x 16 through the registers: pairs of rows interleaved by floats, then
        /// by float pairs, then 128-bit lanes gathered across the block; edges masked.
        #[inline(always)]
        fn transpose(src: &[f32], rows: usize, cols: usize, dst: &mut [f32], along: Along) {
            assert!(src.len() == rows * cols && dst.len() == rows * cols);
            for (r0, c0) in super::blocks(rows, cols, along) {
                let (nr, nc) = ((rows - r0).min(16), (cols - c0).min(16));
                unsafe {
                    let mut r = [_mm512_setzero_ps(); 16];
                    for (i, v) in r.iter_mut().enumerate().take(nr) {
                        *v = _mm512_maskz_loadu_ps(lanes(nc), src.as_ptr().add((r0 + i) * cols + c0));
                    }
                    let mut a = [_mm512_setzero_ps(); 16];
                    for i in 0..8 {
                        a[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
                        a[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
                    }
                    let mut b = [_mm512_setzero_ps(); 16];
                    for i in 0..4 {
                        let pd = |v: __m512| _mm512_castps_pd(v);
                        let (a0, a1, a2, a3) = (pd(a[4 * i]), pd(a[4 * i + 1]), pd(a[4 * i + 2]), pd(a[4 * i + 3]));
                        b[4 * i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a0, a2));
                        b[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a0, a2));
                        b[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(a1, a3));
                        b[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(a1, a3));
                    }
                    // b[4 i + j], lane l: column 4 l + j of rows 4 i..4 i + 4.
                    let mut out = [_mm512_setzero_ps(); 16];
                    for j in 0..4 {
                        let d0 = _mm512_shuffle_f32x4::<0x88>(b[j], b[4 + j]);
                        let d1 = _mm512_shuffle_f32x4::<0xdd>(b[j], b[4 + j]);
                        let e0 = _mm512_shuffle_f32x4::<0x88>(b[8 + j], b[12 + j]);
                        let e1 = _mm512_shuffle_f32x4::<0xdd>(b[8 + j], b[12 + j]);
                        out[j] = _mm512_shuffle_f32x4::<0x88>(d0, e0);
                        out[8 + j] = _mm512_shuffle_f32x4::<0xdd>(d0, e0);
                        out[4 + j] = _mm512_shuffle_f32x4::<0x88>(d1, e1);
                        out[12 + j] = _mm512_shuffle_f32x4::<0xdd>(d1, e1);
                    }
                    for (c, v) in out.iter().enumerate().take(nc) {
                        _mm512_mask_storeu_ps(dst.as_mut_ptr().add((c0 + c) * rows + r0), lanes(nr), *v);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Along, Portable, Runs};

    /// Checks `R`'s primitives against their definitions, every length 0..70 and a few
    /// transposes, both walking orders. `R`'s methods must be callable here: the caller runs
    /// this compiled for the instruction set `R` needs.
    #[inline(always)]
    fn check<R: Runs>(name: &str) {
        for n in 0..70 {
            let src: Vec<f32> = (0..n + 3).map(|i| i as f32 * 0.5 - 7.0).collect();
            let base: Vec<f32> = (0..n + 3).map(|i| 100.0 + i as f32).collect();
            let mut a = base.clone();
            R::copy(&mut a[..n], &src);
            assert!(a[..n] == src[..n] && a[n..] == base[n..], "{name}: copy {n}");
            R::add(&mut a[..n], &src);
            assert!(a[..n].iter().zip(&src).all(|(v, s)| *v == s + s) && a[n..] == base[n..], "{name}: add {n}");
            let (h, l) = (n.div_ceil(2), n / 2);
            let (mut even, mut odd) = (vec![-1.0; h], vec![-1.0; l]);
            R::split2(&src[..n], &mut even, &mut odd);
            assert!(even.iter().enumerate().all(|(j, &v)| v == src[2 * j]), "{name}: split2 {n}: even");
            assert!(odd.iter().enumerate().all(|(j, &v)| v == src[2 * j + 1]), "{name}: split2 {n}: odd");
            let mut row = base.clone();
            R::merge2(&mut row[..n], &even, &odd);
            assert!(row[..n] == src[..n] && row[n..] == base[n..], "{name}: merge2 {n} undoes split2");
        }
        for (rows, cols) in [(0, 5), (1, 1), (3, 17), (16, 16), (17, 33), (31, 2), (40, 47), (64, 196)] {
            let src: Vec<f32> = (0..rows * cols).map(|i| i as f32 * 0.25 - 3.0).collect();
            for along in [Along::Src, Along::Dst] {
                let mut dst = vec![f32::NAN; rows * cols];
                R::transpose(&src, rows, cols, &mut dst, along);
                for (r, c) in (0..rows).flat_map(|r| (0..cols).map(move |c| (r, c))) {
                    assert_eq!(
                        dst[c * rows + r].to_bits(),
                        src[r * cols + c].to_bits(),
                        "{name}: transpose {rows} x {cols} along {along:?}: ({r}, {c})"
                    );
                }
            }
        }
    }

    /// Every version of the primitives this CPU can run: the plain loops everywhere, the
    /// AVX-512 ones where the CPU has AVX-512F (the only version it then runs).
    #[test]
    fn every_version_this_cpu_runs_meets_the_definitions() {
        check::<Portable>("plain loops");
        #[cfg(target_arch = "x86_64")]
        if super::has_avx512() {
            #[target_feature(enable = "avx512f")]
            fn check_avx512() {
                check::<super::Avx512>("AVX-512");
            }
            // SAFETY: the CPU has AVX-512F.
            unsafe { check_avx512() };
        }
    }
}
