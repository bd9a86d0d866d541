//! Which tile a tiled kernel gets on this device: the policy that ties [`crate::ops::tiling`]'s
//! tile shapes to the limits the device was opened with.
//!
//! Owns: the tile policy of this device. Must not touch: the tile shapes (crate::ops::tiling).

use super::GpuError;
use crate::ops::tiling::{self, GemmShape, Tile, WorkgroupLimits};

/// The part of a device's limits the tiled kernels need.
pub fn workgroup_limits(l: &wgpu::Limits) -> WorkgroupLimits {
    WorkgroupLimits {
        storage_bytes: l.max_compute_workgroup_storage_size,
        invocations: l.max_compute_invocations_per_workgroup,
        size_x: l.max_compute_workgroup_size_x,
    }
}

/// The tile for `gemm` on a device with `limits`: `forced` when given (it must fit all the
/// same), else [`tiling::choose`]'s. Fails, naming `kernel`, when no tile fits.
pub fn pick(gemm: &GemmShape, limits: &wgpu::Limits, forced: Option<Tile>, kernel: &'static str) -> Result<Tile, GpuError> {
    let limits = workgroup_limits(limits);
    let tile = match forced {
        Some(t) => Some(t).filter(|t| t.fits(&limits)),
        None => tiling::choose(gemm, &limits),
    };
    tile.ok_or(GpuError::NoTile { kernel, limits })
}
