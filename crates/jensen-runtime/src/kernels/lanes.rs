//! Eight `f64` lanes as one value, for kernels written once and run on the widest vector
//! unit the CPU has, chosen at run time: one AVX-512 register, two AVX2 registers, or a
//! plain array elsewhere (and under `JENSEN_SIMD=portable`; `JENSEN_SIMD=avx2` takes the AVX2
//! form on a CPU that also has AVX-512).
//!
//! Every form does the same arithmetic per lane (the multiply-add is fused in all three;
//! see [`fused`] for builds without the instruction), so a kernel gives bit-identical
//! results whichever form runs it. Kernels are generic over
//! [`Lanes`] and `#[inline(always)]`; [`dispatch`] instantiates them inside a function
//! compiled for the chosen instruction set.

/// Rows per tile: one value of [`Lanes`].
pub(crate) const LANES: usize = 8;

/// Eight `f64` lanes.
pub(crate) trait Lanes: Copy {
    /// Values of this type the CPU holds in registers at once (kernels that keep blocks of
    /// sums in registers size them by it).
    const REGISTERS: usize;
    fn splat(v: f64) -> Self;
    fn load(s: &[f64; LANES]) -> Self;
    fn store(self, s: &mut [f64; LANES]);
    fn add(self, o: Self) -> Self;
    fn sub(self, o: Self) -> Self;
    fn mul(self, o: Self) -> Self;
    /// `self · b + c`, rounded once.
    fn mul_add(self, b: Self, c: Self) -> Self;
    /// `c − self · b`, rounded once.
    fn neg_mul_add(self, b: Self, c: Self) -> Self;
    /// Lane `I` in every lane (in registers: no store and load).
    fn lane<const I: usize>(self) -> Self;
    /// The sum of the lanes, `((v₀ + v₄) + (v₂ + v₆)) + ((v₁ + v₅) + (v₃ + v₇))`: halves, then
    /// quarters, then the last pair (in registers on the vector forms, the same order and so
    /// the same bits on every form).
    fn sum(self) -> f64;
    /// `self > o ? self : o`, lane by lane: `o` where either is NaN, as x86's `max`.
    fn max_of(self, o: Self) -> Self;
    /// `self < o ? self : o`, lane by lane: `o` where either is NaN, as x86's `min`.
    fn min_of(self, o: Self) -> Self;
    /// `self`, with 0 in the lanes where `x < bound` (a NaN is never below).
    fn zero_where_below(self, x: Self, bound: Self) -> Self;
    /// `self`, with 0 in the lanes that are infinite or NaN.
    fn finite_or_zero(self) -> Self;
    /// The double whose bits are `self`'s plus the low 16 bits of `r`'s moved to the top
    /// (bits 48 to 63, wrapping): for a lane of `r` whose low 16 bits hold `16 m + j`,
    /// `j < 16`, `m` is added to the biased exponent and `j` to the mantissa's top four
    /// bits. Integer arithmetic, no rounding.
    fn add_low_bits_on_top(self, r: Self) -> Self;
    /// `table[b & 15]` for each lane's bits `b` (a permutation in registers on AVX-512).
    fn lookup16(self, table: &[f64; 16]) -> Self;
    /// The eight values as the columns of an 8 × 8 block: lane `i` of result `j` is lane `j`
    /// of `rows[i]` (shuffles in registers on the vector forms).
    fn transpose(rows: [Self; LANES]) -> [Self; LANES];
}

/// Whether the kernels' AVX2 forms run: the CPU has AVX2 and FMA, and `JENSEN_SIMD` is not
/// `portable` (for kernels written for AVX2 apart from [`Lanes`]; [`dispatch`] takes AVX-512
/// first where the CPU has it).
#[cfg(target_arch = "x86_64")]
pub(crate) fn avx2() -> bool {
    x86::avx2()
}

/// A kernel generic over the lane type.
pub(crate) trait Kernel {
    type Output;
    fn run<V: Lanes>(self) -> Self::Output;
}

/// Runs `k` with the widest lanes the CPU has (see [`super::tiles::avx512`] for
/// `JENSEN_SIMD=portable`).
#[inline]
pub(crate) fn dispatch<K: Kernel>(k: K) -> K::Output {
    #[cfg(target_arch = "x86_64")]
    {
        if super::tiles::avx512() {
            // SAFETY: the CPU has AVX-512F (checked at run time).
            return unsafe { x86::run_avx512(k) };
        }
        if x86::avx2() {
            // SAFETY: the CPU has AVX2 and FMA (checked at run time).
            return unsafe { x86::run_avx2(k) };
        }
    }
    k.run::<[f64; LANES]>()
}

impl Lanes for [f64; LANES] {
    // (The compiler maps plain arrays to whatever vectors the target has: assume AVX2's 16.)
    const REGISTERS: usize = 8;
    #[inline(always)]
    fn splat(v: f64) -> Self {
        [v; LANES]
    }
    #[inline(always)]
    fn load(s: &[f64; LANES]) -> Self {
        *s
    }
    #[inline(always)]
    fn store(self, s: &mut [f64; LANES]) {
        *s = self;
    }
    #[inline(always)]
    fn add(self, o: Self) -> Self {
        std::array::from_fn(|i| self[i] + o[i])
    }
    #[inline(always)]
    fn sub(self, o: Self) -> Self {
        std::array::from_fn(|i| self[i] - o[i])
    }
    #[inline(always)]
    fn mul(self, o: Self) -> Self {
        std::array::from_fn(|i| self[i] * o[i])
    }
    #[inline(always)]
    fn mul_add(self, b: Self, c: Self) -> Self {
        std::array::from_fn(|i| fused(self[i], b[i], c[i]))
    }
    #[inline(always)]
    fn neg_mul_add(self, b: Self, c: Self) -> Self {
        std::array::from_fn(|i| fused(-self[i], b[i], c[i]))
    }
    #[inline(always)]
    fn lane<const I: usize>(self) -> Self {
        [self[I]; LANES]
    }
    #[inline(always)]
    fn sum(self) -> f64 {
        let v = self;
        ((v[0] + v[4]) + (v[2] + v[6])) + ((v[1] + v[5]) + (v[3] + v[7]))
    }
    #[inline(always)]
    fn max_of(self, o: Self) -> Self {
        std::array::from_fn(|i| if self[i] > o[i] { self[i] } else { o[i] })
    }
    #[inline(always)]
    fn min_of(self, o: Self) -> Self {
        std::array::from_fn(|i| if self[i] < o[i] { self[i] } else { o[i] })
    }
    #[inline(always)]
    fn zero_where_below(self, x: Self, bound: Self) -> Self {
        std::array::from_fn(|i| if x[i] < bound[i] { 0.0 } else { self[i] })
    }
    #[inline(always)]
    fn finite_or_zero(self) -> Self {
        self.map(|v| if v.is_finite() { v } else { 0.0 })
    }
    #[inline(always)]
    fn add_low_bits_on_top(self, r: Self) -> Self {
        std::array::from_fn(|i| {
            f64::from_bits(self[i].to_bits().wrapping_add(r[i].to_bits() << 48))
        })
    }
    #[inline(always)]
    fn lookup16(self, table: &[f64; 16]) -> Self {
        self.map(|v| table[(v.to_bits() & 15) as usize])
    }
    #[inline(always)]
    fn transpose(rows: [Self; LANES]) -> [Self; LANES] {
        std::array::from_fn(|j| std::array::from_fn(|i| rows[i][j]))
    }
}

/// `a · b + c`, rounded once where the build's target has the instruction (x86-64-v3, the
/// default here, and aarch64); a build for an older x86 CPU rounds twice rather than call
/// the C library's `fma` (its plain-array results then differ from the vector forms' in the
/// last bits).
#[inline(always)]
pub(crate) fn fused(a: f64, b: f64, c: f64) -> f64 {
    if cfg!(any(target_feature = "fma", target_arch = "aarch64")) {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use super::{Kernel, Lanes, LANES};

    /// Whether the CPU has AVX2 and FMA (and `JENSEN_SIMD` is not `portable`).
    pub(super) fn avx2() -> bool {
        use std::sync::OnceLock;
        static AVX2: OnceLock<bool> = OnceLock::new();
        *AVX2.get_or_init(|| {
            std::env::var("JENSEN_SIMD").map_or(true, |v| v != "portable")
                && std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
        })
    }

    #[target_feature(enable = "avx512f")]
    pub(super) fn run_avx512<K: Kernel>(k: K) -> K::Output {
        k.run::<Avx512>()
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) fn run_avx2<K: Kernel>(k: K) -> K::Output {
        k.run::<Avx2>()
    }

    /// One AVX-512 register. (Only made inside [`run_avx512`].)
    #[derive(Clone, Copy)]
    pub(super) struct Avx512(__m512d);

    /// Two AVX2 registers. (Only made inside [`run_avx2`].)
    #[derive(Clone, Copy)]
    pub(super) struct Avx2(__m256d, __m256d);

    // SAFETY (every method below): these values exist only inside `run_avx512` and
    // `run_avx2`, which the dispatcher calls after checking that the CPU has the
    // instructions, and the methods are inlined into those functions.
    impl Lanes for Avx512 {
        const REGISTERS: usize = 32;
        #[inline(always)]
        fn splat(v: f64) -> Self {
            unsafe { Self(_mm512_set1_pd(v)) }
        }
        #[inline(always)]
        fn load(s: &[f64; LANES]) -> Self {
            unsafe { Self(_mm512_loadu_pd(s.as_ptr())) }
        }
        #[inline(always)]
        fn store(self, s: &mut [f64; LANES]) {
            unsafe { _mm512_storeu_pd(s.as_mut_ptr(), self.0) }
        }
        #[inline(always)]
        fn add(self, o: Self) -> Self {
            unsafe { Self(_mm512_add_pd(self.0, o.0)) }
        }
        #[inline(always)]
        fn sub(self, o: Self) -> Self {
            unsafe { Self(_mm512_sub_pd(self.0, o.0)) }
        }
        #[inline(always)]
        fn mul(self, o: Self) -> Self {
            unsafe { Self(_mm512_mul_pd(self.0, o.0)) }
        }
        #[inline(always)]
        fn mul_add(self, b: Self, c: Self) -> Self {
            unsafe { Self(_mm512_fmadd_pd(self.0, b.0, c.0)) }
        }
        #[inline(always)]
        fn neg_mul_add(self, b: Self, c: Self) -> Self {
            unsafe { Self(_mm512_fnmadd_pd(self.0, b.0, c.0)) }
        }
        #[inline(always)]
        fn lane<const I: usize>(self) -> Self {
            unsafe { Self(_mm512_permutexvar_pd(_mm512_set1_epi64(I as i64), self.0)) }
        }
        #[inline(always)]
        fn sum(self) -> f64 {
            unsafe {
                let halves = _mm256_add_pd(
                    _mm512_castpd512_pd256(self.0),
                    _mm512_extractf64x4_pd::<1>(self.0),
                );
                Avx2(halves, halves).sum_half()
            }
        }
        #[inline(always)]
        fn max_of(self, o: Self) -> Self {
            unsafe { Self(_mm512_max_pd(self.0, o.0)) }
        }
        #[inline(always)]
        fn min_of(self, o: Self) -> Self {
            unsafe { Self(_mm512_min_pd(self.0, o.0)) }
        }
        #[inline(always)]
        fn zero_where_below(self, x: Self, bound: Self) -> Self {
            // (The lanes to keep as one comparison, "not less than", true where either is
            // NaN: the complement of `<` without a separate negation of the mask.)
            unsafe {
                let keep = _mm512_cmp_pd_mask::<_CMP_NLT_UQ>(x.0, bound.0);
                Self(_mm512_maskz_mov_pd(keep, self.0))
            }
        }
        #[inline(always)]
        fn finite_or_zero(self) -> Self {
            // (`v − v` is 0 for a finite `v`, NaN otherwise.)
            unsafe {
                let zero = _mm512_setzero_pd();
                let difference = _mm512_sub_pd(self.0, self.0);
                let keep = _mm512_cmp_pd_mask::<_CMP_ORD_Q>(difference, zero);
                Self(_mm512_maskz_mov_pd(keep, self.0))
            }
        }
        #[inline(always)]
        fn add_low_bits_on_top(self, r: Self) -> Self {
            unsafe {
                let top = _mm512_slli_epi64::<48>(_mm512_castpd_si512(r.0));
                Self(_mm512_castsi512_pd(_mm512_add_epi64(
                    _mm512_castpd_si512(self.0),
                    top,
                )))
            }
        }
        #[inline(always)]
        fn lookup16(self, table: &[f64; 16]) -> Self {
            // (`vpermt2pd` reads the low four bits of each index: three for the element,
            // one for the register.)
            unsafe {
                Self(_mm512_permutex2var_pd(
                    _mm512_loadu_pd(table.as_ptr()),
                    _mm512_castpd_si512(self.0),
                    _mm512_loadu_pd(table.as_ptr().add(LANES)),
                ))
            }
        }
        #[inline(always)]
        fn transpose(rows: [Self; LANES]) -> [Self; LANES] {
            // Three rounds of eight shuffles: pairs of rows lane by lane, then pairs of
            // lanes, then halves. (`vpermt2pd` indexes the first operand with 0..7 and the
            // second with 8..15.)
            unsafe {
                let r = [
                    rows[0].0, rows[1].0, rows[2].0, rows[3].0, rows[4].0, rows[5].0, rows[6].0,
                    rows[7].0,
                ];
                // t[2p] = r[2p]₀ r[2p+1]₀ r[2p]₂ r[2p+1]₂ …, t[2p+1] the odd lanes.
                let t = [
                    _mm512_unpacklo_pd(r[0], r[1]),
                    _mm512_unpackhi_pd(r[0], r[1]),
                    _mm512_unpacklo_pd(r[2], r[3]),
                    _mm512_unpackhi_pd(r[2], r[3]),
                    _mm512_unpacklo_pd(r[4], r[5]),
                    _mm512_unpackhi_pd(r[4], r[5]),
                    _mm512_unpacklo_pd(r[6], r[7]),
                    _mm512_unpackhi_pd(r[6], r[7]),
                ];
                // Lanes 0, 1 of each pair of 128-bit blocks, and lanes 2, 3.
                let low = _mm512_set_epi64(13, 12, 5, 4, 9, 8, 1, 0);
                let high = _mm512_set_epi64(15, 14, 7, 6, 11, 10, 3, 2);
                // u[j] (j < 4): column j of rows 0..3 in lanes 0..3, column j + 4 in 4..7;
                // u[j + 4] the same for rows 4..7.
                let u = [
                    _mm512_permutex2var_pd(t[0], low, t[2]),
                    _mm512_permutex2var_pd(t[1], low, t[3]),
                    _mm512_permutex2var_pd(t[0], high, t[2]),
                    _mm512_permutex2var_pd(t[1], high, t[3]),
                    _mm512_permutex2var_pd(t[4], low, t[6]),
                    _mm512_permutex2var_pd(t[5], low, t[7]),
                    _mm512_permutex2var_pd(t[4], high, t[6]),
                    _mm512_permutex2var_pd(t[5], high, t[7]),
                ];
                [
                    Self(_mm512_shuffle_f64x2::<0b01_00_01_00>(u[0], u[4])),
                    Self(_mm512_shuffle_f64x2::<0b01_00_01_00>(u[1], u[5])),
                    Self(_mm512_shuffle_f64x2::<0b01_00_01_00>(u[2], u[6])),
                    Self(_mm512_shuffle_f64x2::<0b01_00_01_00>(u[3], u[7])),
                    Self(_mm512_shuffle_f64x2::<0b11_10_11_10>(u[0], u[4])),
                    Self(_mm512_shuffle_f64x2::<0b11_10_11_10>(u[1], u[5])),
                    Self(_mm512_shuffle_f64x2::<0b11_10_11_10>(u[2], u[6])),
                    Self(_mm512_shuffle_f64x2::<0b11_10_11_10>(u[3], u[7])),
                ]
            }
        }
    }

    impl Lanes for Avx2 {
        // Two of the sixteen registers each.
        const REGISTERS: usize = 8;
        #[inline(always)]
        fn splat(v: f64) -> Self {
            unsafe { Self(_mm256_set1_pd(v), _mm256_set1_pd(v)) }
        }
        #[inline(always)]
        fn load(s: &[f64; LANES]) -> Self {
            unsafe {
                Self(
                    _mm256_loadu_pd(s.as_ptr()),
                    _mm256_loadu_pd(s.as_ptr().add(4)),
                )
            }
        }
        #[inline(always)]
        fn store(self, s: &mut [f64; LANES]) {
            unsafe {
                _mm256_storeu_pd(s.as_mut_ptr(), self.0);
                _mm256_storeu_pd(s.as_mut_ptr().add(4), self.1);
            }
        }
        #[inline(always)]
        fn add(self, o: Self) -> Self {
            unsafe { Self(_mm256_add_pd(self.0, o.0), _mm256_add_pd(self.1, o.1)) }
        }
        #[inline(always)]
        fn sub(self, o: Self) -> Self {
            unsafe { Self(_mm256_sub_pd(self.0, o.0), _mm256_sub_pd(self.1, o.1)) }
        }
        #[inline(always)]
        fn mul(self, o: Self) -> Self {
            unsafe { Self(_mm256_mul_pd(self.0, o.0), _mm256_mul_pd(self.1, o.1)) }
        }
        #[inline(always)]
        fn mul_add(self, b: Self, c: Self) -> Self {
            unsafe {
                Self(
                    _mm256_fmadd_pd(self.0, b.0, c.0),
                    _mm256_fmadd_pd(self.1, b.1, c.1),
                )
            }
        }
        #[inline(always)]
        fn neg_mul_add(self, b: Self, c: Self) -> Self {
            unsafe {
                Self(
                    _mm256_fnmadd_pd(self.0, b.0, c.0),
                    _mm256_fnmadd_pd(self.1, b.1, c.1),
                )
            }
        }
        #[inline(always)]
        fn lane<const I: usize>(self) -> Self {
            let half = if I < 4 { self.0 } else { self.1 };
            let v = unsafe {
                match I % 4 {
                    0 => _mm256_permute4x64_pd::<0x00>(half),
                    1 => _mm256_permute4x64_pd::<0x55>(half),
                    2 => _mm256_permute4x64_pd::<0xaa>(half),
                    _ => _mm256_permute4x64_pd::<0xff>(half),
                }
            };
            Self(v, v)
        }
        #[inline(always)]
        fn sum(self) -> f64 {
            unsafe { Self(_mm256_add_pd(self.0, self.1), self.1).sum_half() }
        }
        #[inline(always)]
        fn max_of(self, o: Self) -> Self {
            unsafe { Self(_mm256_max_pd(self.0, o.0), _mm256_max_pd(self.1, o.1)) }
        }
        #[inline(always)]
        fn min_of(self, o: Self) -> Self {
            unsafe { Self(_mm256_min_pd(self.0, o.0), _mm256_min_pd(self.1, o.1)) }
        }
        #[inline(always)]
        fn zero_where_below(self, x: Self, bound: Self) -> Self {
            unsafe {
                Self(
                    _mm256_andnot_pd(_mm256_cmp_pd::<_CMP_LT_OQ>(x.0, bound.0), self.0),
                    _mm256_andnot_pd(_mm256_cmp_pd::<_CMP_LT_OQ>(x.1, bound.1), self.1),
                )
            }
        }
        #[inline(always)]
        fn finite_or_zero(self) -> Self {
            // (`v − v` is 0 for a finite `v`, NaN otherwise.)
            unsafe {
                let zero = _mm256_setzero_pd();
                let low = _mm256_cmp_pd::<_CMP_ORD_Q>(_mm256_sub_pd(self.0, self.0), zero);
                let high = _mm256_cmp_pd::<_CMP_ORD_Q>(_mm256_sub_pd(self.1, self.1), zero);
                Self(_mm256_and_pd(low, self.0), _mm256_and_pd(high, self.1))
            }
        }
        #[inline(always)]
        fn add_low_bits_on_top(self, r: Self) -> Self {
            // (Written out for each register: a closure might be compiled out of line,
            // without the target's instructions.)
            unsafe {
                let (low, high) = (
                    _mm256_slli_epi64::<48>(_mm256_castpd_si256(r.0)),
                    _mm256_slli_epi64::<48>(_mm256_castpd_si256(r.1)),
                );
                Self(
                    _mm256_castsi256_pd(_mm256_add_epi64(_mm256_castpd_si256(self.0), low)),
                    _mm256_castsi256_pd(_mm256_add_epi64(_mm256_castpd_si256(self.1), high)),
                )
            }
        }
        #[inline(always)]
        fn lookup16(self, table: &[f64; 16]) -> Self {
            unsafe {
                let mask = _mm256_set1_epi64x(15);
                let low = _mm256_and_si256(_mm256_castpd_si256(self.0), mask);
                let high = _mm256_and_si256(_mm256_castpd_si256(self.1), mask);
                Self(
                    _mm256_i64gather_pd::<8>(table.as_ptr(), low),
                    _mm256_i64gather_pd::<8>(table.as_ptr(), high),
                )
            }
        }
        #[inline(always)]
        fn transpose(rows: [Self; LANES]) -> [Self; LANES] {
            // Four 4 × 4 transposes: the first halves of rows 0..3 give the first halves of
            // columns 0..3, those of rows 4..7 their second halves, and the second halves of
            // the rows columns 4..7 alike.
            unsafe {
                let low = [rows[0].0, rows[1].0, rows[2].0, rows[3].0];
                let a = transpose4(low);
                let low = [rows[4].0, rows[5].0, rows[6].0, rows[7].0];
                let b = transpose4(low);
                let high = [rows[0].1, rows[1].1, rows[2].1, rows[3].1];
                let c = transpose4(high);
                let high = [rows[4].1, rows[5].1, rows[6].1, rows[7].1];
                let d = transpose4(high);
                [
                    Self(a[0], b[0]),
                    Self(a[1], b[1]),
                    Self(a[2], b[2]),
                    Self(a[3], b[3]),
                    Self(c[0], d[0]),
                    Self(c[1], d[1]),
                    Self(c[2], d[2]),
                    Self(c[3], d[3]),
                ]
            }
        }
    }

    /// A 4 × 4 block's columns from its rows.
    #[inline(always)]
    unsafe fn transpose4(r: [__m256d; 4]) -> [__m256d; 4] {
        unsafe {
            let t0 = _mm256_unpacklo_pd(r[0], r[1]);
            let t1 = _mm256_unpackhi_pd(r[0], r[1]);
            let t2 = _mm256_unpacklo_pd(r[2], r[3]);
            let t3 = _mm256_unpackhi_pd(r[2], r[3]);
            [
                _mm256_permute2f128_pd::<0x20>(t0, t2),
                _mm256_permute2f128_pd::<0x20>(t1, t3),
                _mm256_permute2f128_pd::<0x31>(t0, t2),
                _mm256_permute2f128_pd::<0x31>(t1, t3),
            ]
        }
    }

    impl Avx2 {
        /// The sum of the first register's four lanes `h`, as `(h₀ + h₂) + (h₁ + h₃)`.
        #[inline(always)]
        fn sum_half(self) -> f64 {
            unsafe {
                let quarters = _mm_add_pd(
                    _mm256_castpd256_pd128(self.0),
                    _mm256_extractf128_pd::<1>(self.0),
                );
                _mm_cvtsd_f64(_mm_add_sd(quarters, _mm_unpackhi_pd(quarters, quarters)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Sample<'a>(&'a [f64; LANES], &'a [f64; LANES], &'a [f64; LANES]);

    impl Kernel for Sample<'_> {
        type Output = [f64; LANES];
        fn run<V: Lanes>(self) -> [f64; LANES] {
            let (a, b, c) = (V::load(self.0), V::load(self.1), V::load(self.2));
            let v = a
                .mul_add(b, c)
                .sub(a.neg_mul_add(c, b))
                .mul(a)
                .add(V::splat(0.1))
                .add(b.lane::<0>().mul(c.lane::<5>()))
                .sub(a.lane::<3>().mul(b.lane::<7>()));
            let mut out = [0.0; LANES];
            v.store(&mut out);
            // The sums of lanes, in the last lanes.
            out[6] = v.sum();
            out[7] = a.mul(b).sum();
            out
        }
    }

    /// The selections and the operations on bits, each form's results as rows.
    struct Selections<'a>(&'a [f64; LANES], &'a [f64; LANES]);

    impl Kernel for Selections<'_> {
        type Output = [[u64; LANES]; 7];
        fn run<V: Lanes>(self) -> [[u64; LANES]; 7] {
            let (a, b) = (V::load(self.0), V::load(self.1));
            let table: [f64; 16] = std::array::from_fn(|j| 1.0 + j as f64 / 16.0);
            // Lanes whose low 16 bits hold 16 m + j.
            let rounded = V::load(&[
                6_755_399_441_055_744.0 + 16_368.0,
                6_755_399_441_055_744.0 + 16_368.0 + 37.0,
                6_755_399_441_055_744.0 + 32.0,
                6_755_399_441_055_744.0 + 32_733.0,
                6_755_399_441_055_744.0 + 16_368.0 - 1.0,
                6_755_399_441_055_744.0 + 16_368.0 + 15.0,
                6_755_399_441_055_744.0 + 16_368.0 + 16.0,
                6_755_399_441_055_744.0 + 100.0,
            ]);
            let rows = [
                a.max_of(b),
                a.min_of(b),
                a.zero_where_below(a, b),
                a.finite_or_zero(),
                V::splat(0.0).add_low_bits_on_top(rounded),
                rounded.lookup16(&table),
                a.lookup16(&table),
            ];
            rows.map(|v| {
                let mut out = [0.0; LANES];
                v.store(&mut out);
                out.map(f64::to_bits)
            })
        }
    }

    #[test]
    fn the_selections_and_bit_operations_agree_on_every_form() {
        let nan = f64::NAN;
        let a = [1.0, -2.0, nan, 3.0, nan, -0.0, f64::NEG_INFINITY, 7.0];
        let b = [0.5, 4.0, 1.0, nan, nan, 0.0, -1.0, 7.0];
        let portable = Selections(&a, &b).run::<[f64; LANES]>();
        let f = |row: [u64; LANES]| row.map(f64::from_bits);
        // `max_of` and `min_of` give the second argument where either is NaN.
        let max = f(portable[0]);
        assert_eq!(&max[..2], &[1.0, 4.0]);
        assert!(max[2] == 1.0 && max[3].is_nan() && max[4].is_nan() && max[6] == -1.0);
        let min = f(portable[1]);
        assert!(min[0] == 0.5 && min[1] == -2.0 && min[2] == 1.0 && min[3].is_nan());
        // Zero where below; a NaN is never below.
        let zeroed = f(portable[2]);
        assert!(zeroed[1] == 0.0 && zeroed[6] == 0.0 && zeroed[0] == 1.0 && zeroed[2].is_nan());
        // 0 plus 16 m + j on top: 2^(m − 1023) (1 + j / 16).
        // Zero where infinite or NaN; the rest, -0.0 included, as they are.
        let finite = portable[3];
        let want = [1.0, -2.0, 0.0, 3.0, 0.0, -0.0, 0.0, 7.0].map(f64::to_bits);
        assert_eq!(finite, want);
        let powers = f(portable[4]);
        let sixteenths = |j: f64| 1.0 + j / 16.0;
        assert_eq!(
            powers[..4],
            [
                1.0,
                4.0 * sixteenths(5.0),
                2f64.powi(-1021),
                2f64.powi(1022) * sixteenths(13.0)
            ]
        );
        assert_eq!(
            powers[4..],
            [
                0.5 * sixteenths(15.0),
                sixteenths(15.0),
                2.0,
                2f64.powi(-1017) * sixteenths(4.0)
            ]
        );
        let looked_up = f(portable[5]);
        assert_eq!(looked_up[..3], [1.0, 1.0 + 5.0 / 16.0, 1.0]);
        assert_eq!(looked_up[4..7], [1.0 + 15.0 / 16.0, 1.0 + 15.0 / 16.0, 1.0]);
        let forms = [
            Some(dispatch(Selections(&a, &b))),
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the CPU has AVX2 and FMA (checked first).
            x86::avx2().then(|| unsafe { x86::run_avx2(Selections(&a, &b)) }),
        ];
        for form in forms.into_iter().flatten() {
            assert_eq!(form, portable);
        }
    }

    /// An 8 × 8 block through `transpose`, each form's result as rows.
    struct Transpose<'a>(&'a [[f64; LANES]; LANES]);

    impl Kernel for Transpose<'_> {
        type Output = [[f64; LANES]; LANES];
        fn run<V: Lanes>(self) -> [[f64; LANES]; LANES] {
            let columns = V::transpose(self.0.map(|row| V::load(&row)));
            let mut out = [[0.0; LANES]; LANES];
            for (c, o) in columns.iter().zip(out.iter_mut()) {
                c.store(o);
            }
            out
        }
    }

    #[test]
    fn every_form_transposes_a_block() {
        let block: [[f64; LANES]; LANES] =
            std::array::from_fn(|i| std::array::from_fn(|j| (10 * i + j) as f64));
        let want: [[f64; LANES]; LANES] =
            std::array::from_fn(|j| std::array::from_fn(|i| (10 * i + j) as f64));
        assert_eq!(Transpose(&block).run::<[f64; LANES]>(), want);
        assert_eq!(dispatch(Transpose(&block)), want);
        #[cfg(target_arch = "x86_64")]
        if x86::avx2() {
            // SAFETY: the CPU has AVX2 and FMA (checked just above).
            assert_eq!(unsafe { x86::run_avx2(Transpose(&block)) }, want);
        }
    }

    #[test]
    fn every_form_gives_the_same_bits() {
        let a = [0.1, -2.5, 3.0e10, 1.0 / 3.0, 7.0, -0.0, 1e-300, 5.5];
        let b = [1.0 / 7.0, 0.3, -1.0e-10, 3.0, 2.0 / 3.0, 4.0, 1e300, -1.25];
        let c = [0.7, 1.0 / 9.0, 5.0, -1.0, 1e-17, 2.0, -3.0, 0.0];
        let portable = Sample(&a, &b, &c).run::<[f64; LANES]>();
        let dispatched = dispatch(Sample(&a, &b, &c));
        // (Where the build does not target FMA the plain arrays round twice: see `fused`.)
        if cfg!(any(target_feature = "fma", target_arch = "aarch64")) {
            for (p, d) in portable.iter().zip(&dispatched) {
                assert_eq!(p.to_bits(), d.to_bits());
            }
            #[cfg(target_arch = "x86_64")]
            if x86::avx2() {
                // SAFETY: the CPU has AVX2 and FMA (checked just above).
                let two = unsafe { x86::run_avx2(Sample(&a, &b, &c)) };
                for (p, d) in portable.iter().zip(&two) {
                    assert_eq!(p.to_bits(), d.to_bits());
                }
            }
        }
    }
}
