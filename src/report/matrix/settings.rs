//! What a matrix run is: how it was measured ([`Method`], [`MatrixSettings`]: the models,
//! the noise and the settings every part must share), which part of a sharded run a file
//! holds ([`Shard`]) and where each part ran ([`RunRecord`]).
//!
//! Owns: the matrix's settings and provenance. Must not touch: its rows and cells.

use serde::{Deserialize, Serialize};

use crate::model::Network;
use crate::ops::noise_update::UpdateRule;
use crate::report::probe::update_name;
use crate::stats::{Metric, RowSet, StatsSettings};

/// How the matrix was measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// The full probe of every target: steps up and down its gradient.
    Exact,
    /// The linearised matrix at the starting noise: each image's gradients of every logit.
    FirstOrder,
}

impl Method {
    pub fn name(self) -> &'static str {
        match self {
            Method::Exact => "exact",
            Method::FirstOrder => "first-order",
        }
    }
}

/// A weight file, named by its path and identified by its contents' sha256.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelId {
    pub path: String,
    pub arch: String,
    pub sha256: String,
    /// What was changed in reading it (a classifier's final Sigmoid dropped), where anything was.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl ModelId {
    pub fn of(network: &Network, sha256: String) -> ModelId {
        ModelId { path: network.source.clone(), arch: network.arch.into(), sha256, notes: network.notes.clone() }
    }
}

/// Everything that must agree between the parts of one matrix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MatrixSettings {
    pub method: Method,
    pub images: usize,
    /// Steps each way (exact; 0 for first-order, which takes none).
    pub steps: usize,
    /// `notebook` or `sgd` (exact).
    pub update: String,
    /// Where the starting noise came from (`seed N` or `file PATH`), and the sha256 of its
    /// f32 values (little-endian), which is what parts are checked by.
    pub noise: String,
    pub noise_sha256: String,
    pub generator: ModelId,
    pub classifier: ModelId,
    /// The rows the cells use (exact): `pooled`, `up` or `down`.
    pub direction: RowSet,
    /// The metric the summary ranks by, the heatmap draws and the CSV's interval is of.
    pub rank_by: Metric,
    pub statistics: StatsSettings,
    /// Every target of the whole matrix, in order (a part holds some of them).
    pub targets: Vec<usize>,
}

/// Which part of a sharded run this is: targets `index, index + count, ...` of the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    /// Parses `K/N` (0 <= K < N).
    pub fn parse(s: &str) -> Result<Shard, String> {
        let bad = || format!("--shard {s}: expected K/N with 0 <= K < N, as in 3/40");
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count) = (k.trim().parse::<usize>().map_err(|_| bad())?, n.trim().parse::<usize>().map_err(|_| bad())?);
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }

    /// The targets of `all` this shard runs.
    pub fn pick(self, all: &[usize]) -> Vec<usize> {
        all.iter().copied().skip(self.index).step_by(self.count).collect()
    }
}

/// Where and how fast (part of) the matrix ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub shard: Option<Shard>,
    pub backend: String,
    pub adapter: String,
    pub weight_precision: String,
    pub targets: usize,
    /// Targets run together, rounds of them, rows per batch.
    pub slots: usize,
    pub rounds: usize,
    pub batch_rows: usize,
    pub seconds: f64,
}

/// The settings of a matrix measured with `method` from these models and noise.
#[allow(clippy::too_many_arguments)]
pub fn settings(
    method: Method,
    generator: ModelId,
    classifier: ModelId,
    noise: (String, &[f32]),
    images: usize,
    steps: usize,
    update: UpdateRule,
    direction: RowSet,
    rank_by: Metric,
    statistics: StatsSettings,
    targets: Vec<usize>,
) -> MatrixSettings {
    MatrixSettings {
        method,
        images,
        steps,
        update: update_name(update),
        noise: noise.0,
        noise_sha256: sha256_hex(bytemuck::cast_slice(noise.1)),
        generator,
        classifier,
        direction,
        rank_by,
        statistics,
        targets,
    }
}

/// The sha256 of `bytes`, lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}
