//! Joining the parts of a sharded matrix run into the whole: every part must come from the
//! same models, noise and settings, no two may hold the same target, and together they must
//! hold every target. The q-values are recomputed over the merged matrix.
//!
//! Owns: reading parts, the checks, the join. Must not touch: how a row is computed.

use std::collections::BTreeMap;
use std::path::Path;

use super::{KIND, MatrixReport, MatrixSettings, VERSION};

/// Why parts could not be merged; every message names the file.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("cannot read {path}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a gan-bias matrix part")]
    Parse {
        path: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("{path}: {detail}")]
    Refused { path: String, detail: String },
    #[error("no parts to merge")]
    Empty,
}

/// Reads one part (or whole matrix) written with `--json`.
pub fn read_part(path: &Path) -> Result<MatrixReport, MergeError> {
    let p = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| MergeError::Read { path: p.clone(), source })?;
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|source| MergeError::Parse { path: p.clone(), source })?;
    let refused = |detail: String| MergeError::Refused { path: p.clone(), detail };
    match value.get("kind").and_then(|k| k.as_str()) {
        Some(KIND) => {}
        Some(other) => return Err(refused(format!("is a {other:?}, not a {KIND:?} (a probe's --json cannot be merged)"))),
        None => return Err(refused(format!("has no \"kind\": not a {KIND:?} (a probe's --json cannot be merged)"))),
    }
    match value.get("version").and_then(|v| v.as_u64()) {
        Some(v) if v == VERSION as u64 => {}
        v => return Err(refused(format!("has matrix version {v:?}; this gan-bias reads version {VERSION}"))),
    }
    let report: MatrixReport = serde_json::from_value(value).map_err(|source| MergeError::Parse { path: p.clone(), source })?;
    if let Some(detail) = report.misfit() {
        return Err(refused(detail));
    }
    Ok(report)
}

/// The first difference between two parts' settings that forbids merging them, in words.
fn difference(a: &MatrixSettings, b: &MatrixSettings) -> Option<String> {
    if a.generator.sha256 != b.generator.sha256 || a.classifier.sha256 != b.classifier.sha256 {
        let (ga, gb) = (&a.generator.sha256, &b.generator.sha256);
        let (ca, cb) = (&a.classifier.sha256, &b.classifier.sha256);
        return Some(if ga != gb {
            format!("comes from another generator (sha256 {} ..., not {} ...)", &gb[..gb.len().min(12)], &ga[..ga.len().min(12)])
        } else {
            format!("comes from another classifier (sha256 {} ..., not {} ...)", &cb[..cb.len().min(12)], &ca[..ca.len().min(12)])
        });
    }
    if a.noise_sha256 != b.noise_sha256 || a.images != b.images {
        return Some(format!("comes from other starting noise ({}, {} images; not {}, {} images)", b.noise, b.images, a.noise, a.images));
    }
    let differs = [
        ("method", a.method.name().to_string(), b.method.name().to_string()),
        ("steps", a.steps.to_string(), b.steps.to_string()),
        ("update", a.update.clone(), b.update.clone()),
        ("direction", a.direction.name().to_string(), b.direction.name().to_string()),
        ("rank-by", a.rank_by.name().to_string(), b.rank_by.name().to_string()),
        ("bootstrap", a.statistics.bootstrap.to_string(), b.statistics.bootstrap.to_string()),
        ("bootstrap-seed", a.statistics.seed.to_string(), b.statistics.seed.to_string()),
        ("ci", a.statistics.ci.to_string(), b.statistics.ci.to_string()),
        ("alpha", a.statistics.alpha.to_string(), b.statistics.alpha.to_string()),
        ("targets", format!("{:?}", a.targets), format!("{:?}", b.targets)),
    ];
    differs.into_iter().find(|(_, x, y)| x != y).map(|(what, x, y)| format!("has other settings: {what} {y}, not {x}"))
}

/// Merges `parts` (each with the file it came from, for messages) into the whole matrix.
pub fn merge(parts: Vec<(String, MatrixReport)>) -> Result<MatrixReport, MergeError> {
    let mut parts = parts.into_iter();
    let (first_path, first) = parts.next().ok_or(MergeError::Empty)?;
    let refused = |path: &str, detail: String| MergeError::Refused { path: path.to_string(), detail };
    let mut holder: BTreeMap<usize, String> = BTreeMap::new();
    let mut rows = Vec::new();
    let mut runs = Vec::new();
    let mut add = |path: &str, part: MatrixReport, rows: &mut Vec<_>, runs: &mut Vec<_>| -> Result<(), MergeError> {
        for row in &part.rows {
            if !part.settings.targets.contains(&row.target) {
                return Err(refused(path, format!("holds target {} that its settings do not list", row.feature)));
            }
            if let Some(other) = holder.insert(row.target, path.to_string()) {
                return Err(refused(path, format!("target {} is also in {other}: the parts overlap", row.feature)));
            }
        }
        rows.extend(part.rows);
        runs.extend(part.runs);
        Ok(())
    };
    let (settings, features) = (first.settings.clone(), first.features.clone());
    add(&first_path, first, &mut rows, &mut runs)?;
    for (path, part) in parts {
        if let Some(d) = difference(&settings, &part.settings) {
            return Err(refused(&path, format!("{d} than {first_path}")));
        }
        if part.features != features {
            return Err(refused(&path, format!("names its features differently from {first_path}")));
        }
        add(&path, part, &mut rows, &mut runs)?;
    }
    let missing: Vec<(usize, usize)> =
        settings.targets.iter().enumerate().filter(|(_, t)| !holder.contains_key(t)).map(|(k, &t)| (k, t)).collect();
    if !missing.is_empty() {
        let shards: Vec<String> = runs.iter().filter_map(|r: &super::RunRecord| r.shard).map(|s| s.count.to_string()).collect();
        let names: Vec<String> = missing.iter().take(5).map(|&(_, t)| features[t].clone()).collect();
        let more = if missing.len() > 5 { format!(" and {} more", missing.len() - 5) } else { String::new() };
        let hint = match shards.first().and_then(|c| c.parse::<usize>().ok()) {
            Some(count) => {
                let mut idx: Vec<usize> = missing.iter().map(|&(k, _)| k % count).collect();
                idx.dedup();
                format!(" (shard {} of {count} missing?)", idx.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(", "))
            }
            None => String::new(),
        };
        return Err(refused(&first_path, format!("the parts miss targets {}{more}{hint}", names.join(", "))));
    }
    let order: BTreeMap<usize, usize> = settings.targets.iter().enumerate().map(|(k, &t)| (t, k)).collect();
    rows.sort_by_key(|r: &super::TargetRow| order[&r.target]);
    let mut whole = MatrixReport { version: VERSION, kind: KIND.into(), settings, shard: None, runs, features, rows, cells: Vec::new() };
    whole.cells = whole.compute_cells();
    Ok(whole)
}
