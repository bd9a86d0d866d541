//! How a convolution's implicit GEMM is cut into workgroup tiles (`shaders/conv_common.wgsl`).
//!
//! Both convolution kernels compute, for each output phase, `out[m, o] = sum_t A[m, t] B[t, o]`
//! over M output pixels, N output channels and K kernel taps. A workgroup computes a `tm` x `tn`
//! tile of `out`, staging `tk` taps of A and B at a time in workgroup memory; each invocation
//! keeps a 4 x 4 block of the tile in registers (a tile 4 channels wide, whose invocations
//! share no pixel, reads A straight from the input instead). The shape of the tile is a pipeline
//! specialisation (the shader's `override` constants `TM`, `TN`, `TK`), picked per dispatch
//! from the GEMM's shape and the adapter's workgroup limits. Which limits an adapter has is
//! the GPU backend's business (`backend/gpu/tiles.rs`); this module knows only the numbers.
//!
//! Owns: tile shapes, their costs and fit. Must not touch: wgpu, adapters.

/// Register block of one invocation: pixels x channels (`RM`, `RN` in the shader).
pub const BLOCK: u32 = 4;

/// The sizes of one tiled product: `phases` independent GEMMs of at most `m` x `n` outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GemmShape {
    pub phases: u64,
    pub m: u64,
    pub n: u64,
}

/// A workgroup's tile: `tm` output pixels x `tn` output channels, `tk` taps staged at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tile {
    pub tm: u32,
    pub tn: u32,
    pub tk: u32,
}

/// Every tile the kernels are built for, largest first. Each is a power of two in every
/// direction, with `tm` and `tn` multiples of [`BLOCK`].
pub const TILES: [Tile; 6] = [
    // The big layers: 256 invocations, 16 multiply-adds per 2 staged floats.
    Tile { tm: 64, tn: 64, tk: 16 },
    // Few output channels (a first or last layer): long thin tiles.
    Tile { tm: 128, tn: 16, tk: 16 },
    Tile { tm: 256, tn: 4, tk: 8 },
    // Few output pixels (a last layer, small batches).
    Tile { tm: 16, tn: 64, tk: 16 },
    // Middling shapes, and the fallback for adapters with small workgroups.
    Tile { tm: 32, tn: 32, tk: 16 },
    Tile { tm: 16, tn: 16, tk: 8 },
];

/// What an adapter allows one workgroup (the part of its limits the kernels need).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkgroupLimits {
    /// `max_compute_workgroup_storage_size`, bytes.
    pub storage_bytes: u32,
    /// `max_compute_invocations_per_workgroup`.
    pub invocations: u32,
    /// `max_compute_workgroup_size_x` (the kernels' workgroups are one-dimensional).
    pub size_x: u32,
}

impl Default for WorkgroupLimits {
    /// WebGPU's defaults, which every adapter meets.
    fn default() -> Self {
        WorkgroupLimits { storage_bytes: 16384, invocations: 256, size_x: 256 }
    }
}

impl Tile {
    /// Invocations of one workgroup: one per 4 x 4 register block.
    pub fn invocations(&self) -> u32 {
        (self.tm / BLOCK) * (self.tn / BLOCK)
    }

    /// Workgroup memory of the kernel specialised for this tile, in bytes: the staged slices
    /// of A (`tk` x `tm`) and B (`tk` x `tn`), and one `vec4` of geometry per pixel and per tap.
    pub fn storage_bytes(&self) -> u32 {
        4 * self.tk * (self.tm + self.tn) + 16 * (self.tm + self.tk)
    }

    pub fn fits(&self, limits: &WorkgroupLimits) -> bool {
        self.invocations() <= limits.invocations.min(limits.size_x) && self.storage_bytes() <= limits.storage_bytes
    }

    /// Workgroups of one dispatch: every (tile of pixels, tile of channels, phase), flattened,
    /// pixels fastest, in the order the shader decodes them.
    pub fn workgroups(&self, g: &GemmShape) -> u64 {
        g.m.div_ceil(self.tm as u64) * g.n.div_ceil(self.tn as u64) * g.phases
    }

    /// The shader's `override` constants for this tile.
    pub fn constants(&self) -> Vec<(&'static str, u32)> {
        vec![("TM", self.tm), ("TN", self.tn), ("TK", self.tk)]
    }

    /// Relative time of a GEMM under this tile: the multiply-adds of the padded tiles, each
    /// plus the staging work per multiply-add (two floats per `tm` x `tn` products, each
    /// costing about as much as 8 multiply-adds: bounds checks, addresses, a global load and
    /// a store).
    fn score(&self, g: &GemmShape) -> f64 {
        let (tm, tn) = (self.tm as f64, self.tn as f64);
        let padded = (g.m.div_ceil(self.tm as u64) as f64 * tm) * (g.n.div_ceil(self.tn as u64) as f64 * tn);
        padded * (1.0 + 8.0 * (1.0 / tm + 1.0 / tn))
    }
}

/// The tile for `g` on an adapter with `limits`: of the tiles that fit, the one with the least
/// `Tile::score` (ties to the larger tile). `None` when no tile fits the limits.
pub fn choose(g: &GemmShape, limits: &WorkgroupLimits) -> Option<Tile> {
    TILES.iter().filter(|t| t.fits(limits)).min_by(|a, b| a.score(g).total_cmp(&b.score(g))).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiles_are_well_formed() {
        for t in TILES {
            assert!(t.tm.is_power_of_two() && t.tn.is_power_of_two() && t.tk.is_power_of_two(), "{t:?}");
            assert!(t.tm >= BLOCK && t.tn >= BLOCK, "{t:?}");
            assert!(t.fits(&WorkgroupLimits::default()), "{t:?} does not fit WebGPU's default limits");
        }
    }

    #[test]
    fn shapes_pick_fitting_tiles() {
        let d = WorkgroupLimits::default();
        let big = GemmShape { phases: 4, m: 8192, n: 256 };
        assert_eq!(choose(&big, &d), Some(TILES[0]));
        // Three output channels: the thin tile.
        let rgb = GemmShape { phases: 4, m: 8192, n: 3 };
        assert_eq!(choose(&rgb, &d).map(|t| t.tn), Some(4));
        // Eight pixels (a last layer on a small batch): few pixels per tile.
        let last = GemmShape { phases: 1, m: 8, n: 100 };
        assert_eq!(choose(&last, &d).map(|t| t.tm), Some(16));
        // A small adapter: smaller tiles, and none at all below the smallest.
        let small = WorkgroupLimits { storage_bytes: 4096, invocations: 64, size_x: 64 };
        let t = choose(&big, &small).unwrap();
        assert!(t.fits(&small) && t.invocations() <= 64, "{t:?}");
        assert_eq!(choose(&big, &WorkgroupLimits { storage_bytes: 1024, invocations: 256, size_x: 256 }), None);
        assert_eq!(choose(&big, &WorkgroupLimits { storage_bytes: 16384, invocations: 8, size_x: 8 }), None);
    }
}
