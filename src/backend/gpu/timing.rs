//! Device timing for `bench`: timestamp queries around each op, inside one pass where the
//! adapter allows it, else one pass per op.
//!
//! Owns: timestamp queries. Must not touch: what is timed.

use super::GpuBackend;
use super::GpuError;
use super::prepare::Prepared;
use crate::backend::{Backend, BackendError, DeviceTimer, DeviceTimes};
use crate::ops::StepParams;
use crate::program::Phase;

/// A timestamp query set and the buffer its values resolve into.
pub(super) struct Queries {
    set: wgpu::QuerySet,
    resolve: wgpu::Buffer,
    pub(super) count: u32,
}

impl GpuBackend {
    /// A query set of at least `count` timestamps.
    pub(super) fn queries(&mut self, count: u32) -> &Queries {
        if self.queries.as_ref().is_none_or(|q| q.count < count) {
            let set = self.ctx.device.create_query_set(&wgpu::QuerySetDescriptor {
                label: Some("bench timestamps"),
                ty: wgpu::QueryType::Timestamp,
                count,
            });
            let resolve = self.ctx.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("bench timestamps"),
                size: count as u64 * 8,
                usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
                mapped_at_creation: false,
            });
            self.queries = Some(Queries { set, resolve, count });
            self.peak_bytes = self.peak_bytes.max(self.held_bytes());
        }
        self.queries.as_ref().expect("made above")
    }
}

impl GpuBackend {
    /// Ops `range` of `phase` with timestamps around each, submitted, waited for and read back.
    pub(super) fn submit_timed(
        &mut self,
        phase: Phase,
        range: std::ops::Range<usize>,
        params: StepParams,
    ) -> Result<DeviceTimes, BackendError> {
        let timer = self.timer.ok_or(BackendError::NoTimer)?;
        let n = range.len();
        if self.phases.get(&phase).and_then(|ops| ops.get(range.clone())).is_none_or(|ops| ops.is_empty()) {
            return Err(BackendError::NotLoaded);
        }
        let wanted = match timer {
            DeviceTimer::InsidePasses => n + 1,
            DeviceTimer::PerPass => 2 * n,
        };
        let max = wgpu::QUERY_SET_MAX_QUERIES;
        let count = u32::try_from(wanted).ok().filter(|&c| c <= max).ok_or(GpuError::TooManyQueries {
            ops: n,
            queries: wanted.min(u32::MAX as usize) as u32,
            max,
        })?;
        self.queries(count);
        let (ops, queries) = (&self.phases[&phase][range], self.queries.as_ref().expect("made above"));
        self.ctx.queue.write_buffer(&self.step, 0, bytemuck::bytes_of(&params));
        let mut encoder = self.ctx.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("timed phase") });
        let dispatch = |pass: &mut wgpu::ComputePass<'_>, op: &Prepared| {
            pass.set_pipeline(&op.pipeline.pipeline);
            pass.set_bind_group(0, &op.bind_group, &[]);
            pass.dispatch_workgroups(op.groups.0, op.groups.1, 1);
        };
        match timer {
            DeviceTimer::InsidePasses => {
                let mut pass =
                    encoder.begin_compute_pass(&wgpu::ComputePassDescriptor { label: Some("timed phase"), timestamp_writes: None });
                pass.write_timestamp(&queries.set, 0);
                for (i, op) in ops.iter().enumerate() {
                    dispatch(&mut pass, op);
                    pass.write_timestamp(&queries.set, i as u32 + 1);
                }
            }
            DeviceTimer::PerPass => {
                for (i, op) in ops.iter().enumerate() {
                    let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                        label: Some("timed op"),
                        timestamp_writes: Some(wgpu::ComputePassTimestampWrites {
                            query_set: &queries.set,
                            beginning_of_pass_write_index: Some(2 * i as u32),
                            end_of_pass_write_index: Some(2 * i as u32 + 1),
                        }),
                    });
                    dispatch(&mut pass, op);
                }
            }
        }
        encoder.resolve_query_set(&queries.set, 0..count, &queries.resolve, 0);
        let start = std::time::Instant::now();
        self.ctx.queue.submit([encoder.finish()]);
        self.wait()?;
        let wall = start.elapsed().as_secs_f64();
        let queries = self.queries.as_ref().expect("made above");
        let ticks: Vec<u64> = bytemuck::pod_collect_to_vec(&self.ctx.read_bytes(&queries.resolve, count as u64 * 8)?);
        let period = self.ctx.queue.get_timestamp_period() as f64 * 1e-9;
        // A clock that runs backwards between two writes reads as zero time, never as negative.
        let span = |a: u64, b: u64| b.saturating_sub(a) as f64 * period;
        let (op_times, total) = match timer {
            DeviceTimer::InsidePasses => (ticks.windows(2).map(|w| span(w[0], w[1])).collect(), span(ticks[0], ticks[n])),
            DeviceTimer::PerPass => (ticks.chunks(2).map(|c| span(c[0], c[1])).collect(), span(ticks[0], ticks[2 * n - 1])),
        };
        Ok(DeviceTimes { ops: op_times, total, wall })
    }
}
