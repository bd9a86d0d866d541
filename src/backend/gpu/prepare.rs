//! Turning an op's dispatch into a recorded one: its pipeline (with the tile's
//! specialisation), its parameter uniforms and its bind group, made once per loaded program.

use std::sync::Arc;

use super::{GpuBackend, GpuError, context, tiles};
use crate::ops::tiling::Tile;
use crate::ops::{Bind, Dispatch, Work};
use crate::program::Program;

/// A recorded dispatch: pipeline, bind group and workgroup counts.
pub(super) struct Prepared {
    pub(super) pipeline: Arc<context::Pipeline>,
    pub(super) bind_group: wgpu::BindGroup,
    pub(super) groups: (u32, u32),
    /// Bytes of the parameter uniforms this dispatch owns.
    pub(super) uniform_bytes: u64,
    /// A tiled dispatch's label and tile.
    pub(super) tile: Option<(String, Tile)>,
}

/// Workgroup width of every kernel run as [`Work::Items`] (`@workgroup_size(64)`).
const WORKGROUP: u64 = 64;

/// Workgroup counts for `groups` workgroups, spilling into y past the per-dimension limit.
fn groups_for(groups: u64, max_per_dim: u32) -> (u32, u32) {
    let groups = groups.max(1);
    let x = groups.min(max_per_dim as u64);
    (x as u32, groups.div_ceil(x) as u32)
}

impl GpuBackend {
    pub(super) fn prepare(&self, program: &Program, dispatch: Dispatch) -> Result<Prepared, GpuError> {
        let device = &self.ctx.device;
        let (groups, constants, chosen) = match dispatch.work {
            Work::Items(n) => (n.div_ceil(WORKGROUP), Vec::new(), None),
            Work::Tiled(gemm) => {
                let tile = tiles::pick(&gemm, &self.ctx.limits, self.force_tile, dispatch.shader.name)?;
                let label = program_label(program, &dispatch);
                log::debug!("{label}: {gemm:?} in {}x{}x{} tiles, {} workgroups", tile.tm, tile.tn, tile.tk, tile.workgroups(&gemm));
                (tile.workgroups(&gemm), tile.constants(), Some((label, tile)))
            }
        };
        // Packed f16 weights: the kernel's twin, its own module and pipelines (the cache is keyed
        // by shader name). `weights::packed_buffers` packs only buffers whose kernels have one.
        let packed = dispatch.binds.iter().any(|b| matches!(b, Bind::Weights(id) if self.buffers[id.0].f16));
        let shader = match dispatch.shader.f16_weights {
            Some(twin) if packed => twin,
            _ => dispatch.shader,
        };
        let pipeline = self.ctx.pipeline(shader, dispatch.entry, &dispatch.binds, &constants);
        // Parameter uniforms live as long as the bind group that holds them.
        let uniforms: Vec<Option<wgpu::Buffer>> = dispatch
            .binds
            .iter()
            .map(|b| match b {
                Bind::Params(block) => {
                    let buf = device.create_buffer(&wgpu::BufferDescriptor {
                        label: Some(dispatch.shader.name),
                        size: (block.bytes.len() as u64).next_multiple_of(16),
                        usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
                        mapped_at_creation: false,
                    });
                    self.ctx.queue.write_buffer(&buf, 0, &block.bytes);
                    Some(buf)
                }
                _ => None,
            })
            .collect();
        let entries: Vec<wgpu::BindGroupEntry> = dispatch
            .binds
            .iter()
            .zip(&uniforms)
            .enumerate()
            .map(|(i, (b, u))| wgpu::BindGroupEntry {
                binding: i as u32,
                resource: match b {
                    Bind::Params(_) => u.as_ref().expect("a uniform per parameter block").as_entire_binding(),
                    Bind::Step => self.step.as_entire_binding(),
                    Bind::Read(None) => self.placeholder.as_entire_binding(),
                    Bind::Read(Some(id)) | Bind::Write(id) | Bind::Weights(id) => self.buffers[id.0].buffer.as_entire_binding(),
                },
            })
            .collect();
        let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(&program_label(program, &dispatch)),
            layout: &pipeline.layout,
            entries: &entries,
        });
        let uniform_bytes = uniforms.iter().flatten().map(wgpu::Buffer::size).sum();
        Ok(Prepared {
            pipeline,
            bind_group,
            groups: groups_for(groups, self.ctx.limits.max_compute_workgroups_per_dimension),
            uniform_bytes,
            tile: chosen,
        })
    }
}

/// A bind group's label: the kernel and the buffer it writes.
fn program_label(program: &Program, dispatch: &Dispatch) -> String {
    let out = dispatch.binds.iter().rev().find_map(|b| match b {
        Bind::Write(id) => Some(program.buffers[id.0].label.as_str()),
        _ => None,
    });
    format!("{} -> {}", dispatch.shader.name, out.unwrap_or("?"))
}
