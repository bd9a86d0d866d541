//! Stage 4 of the pipeline: programs. A [`Program`] is numbered f32 buffers and, per
//! [`Phase`], a list of ops over them; [`lower`] turns a graph into one (the probe's step, a
//! forward pass), each node by its [`rules`], the reverse pass in the order [`reverse`]
//! plans. Programs are data: any backend runs them.
//!
//! Owns: buffer specs, phases, the lowering of graphs to ops. Must not touch: backends,
//! wgpu, the probe's batching and statistics.

pub mod lower;
pub mod reverse;
pub mod rules;

use std::sync::Arc;

use crate::ops::{BufId, Op, OpError};

/// One f32 buffer of a program; `init` holds the contents of constant buffers (weights),
/// shared with the model that owns them.
#[derive(Debug, Clone)]
pub struct BufSpec {
    pub label: String,
    pub len: usize,
    pub init: Option<Arc<Vec<f32>>>,
}

/// When a list of ops runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Once per batch, before the steps (the seed gradient).
    Setup,
    /// Once per probe step: forward, record, backward, noise update.
    Step,
    /// Once per run, after every batch (the covariance).
    Finish,
}

pub const PHASES: [Phase; 3] = [Phase::Setup, Phase::Step, Phase::Finish];

/// Buffers and the op list of each phase.
#[derive(Debug, Clone, Default)]
pub struct Program {
    pub buffers: Vec<BufSpec>,
    pub phases: Vec<(Phase, Vec<Op>)>,
}

impl Program {
    pub fn buffer(&mut self, label: impl Into<String>, len: usize) -> BufId {
        self.buffers.push(BufSpec { label: label.into(), len, init: None });
        BufId(self.buffers.len() - 1)
    }

    /// A constant buffer holding `data`.
    pub fn constant(&mut self, label: impl Into<String>, data: Vec<f32>) -> BufId {
        self.shared(label, Arc::new(data))
    }

    /// A constant buffer holding `data`, shared, not copied.
    pub fn shared(&mut self, label: impl Into<String>, data: Arc<Vec<f32>>) -> BufId {
        self.buffers.push(BufSpec { label: label.into(), len: data.len(), init: Some(data) });
        BufId(self.buffers.len() - 1)
    }

    pub fn push(&mut self, phase: Phase, op: Op) {
        match self.phases.iter_mut().find(|(p, _)| *p == phase) {
            Some((_, ops)) => ops.push(op),
            None => self.phases.push((phase, vec![op])),
        }
    }

    pub fn ops(&self, phase: Phase) -> &[Op] {
        self.phases.iter().find(|(p, _)| *p == phase).map(|(_, o)| o.as_slice()).unwrap_or(&[])
    }

    pub fn len(&self, id: BufId) -> usize {
        self.buffers[id.0].len
    }

    /// Checks every op's shapes against its buffers before anything is recorded.
    pub fn validate(&self) -> Result<(), OpError> {
        for (_, ops) in &self.phases {
            for op in ops {
                op.kernel().check(&|id: BufId| self.buffers.get(id.0).map_or(0, |b| b.len))?;
            }
        }
        Ok(())
    }

    /// Bytes of all buffers.
    pub fn bytes(&self) -> u64 {
        self.buffers.iter().map(|b| b.len as u64 * 4).sum()
    }

    /// Bytes of the constant buffers (what a backend uploads once, at load).
    pub fn constant_bytes(&self) -> u64 {
        self.buffers.iter().filter(|b| b.init.is_some()).map(|b| b.len as u64 * 4).sum()
    }
}
