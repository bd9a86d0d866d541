//! A bench run as an aligned table and as CSV (the JSON is the serialisation of [`BenchFile`]).
//!
//! Owns: the bench table and CSV layouts. Must not touch: timing.

use super::{BenchFile, BenchRun, Failure, TimingMethod};
use crate::backend::{AdapterIdentity, WeightPrecision};
use crate::output::csv_field;

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1u64 << 20) as f64)
}

/// A number for a table cell, `-` where there is none.
fn cell(v: Option<f64>, width: usize, decimals: usize) -> String {
    match v {
        Some(v) => format!("{v:>width$.decimals$}"),
        None => format!("{:>width$}", "-"),
    }
}

/// The heading of the column of each row's percentage of the run's peak.
pub const PEAK_COLUMN: &str = "% peak";

/// One run as an aligned table under a header naming the adapter, workload, timing method
/// and memory (and the peak, where the run has one: then a last column holds each row's
/// GFLOP/s as a percentage of it).
pub fn table(r: &BenchRun) -> String {
    let w = &r.workload;
    let memory = [r.buffer_bytes.map(|b| format!("buffers {}", mib(b))), r.peak_rss_bytes.map(|b| format!("peak RSS {}", mib(b)))]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>();
    let mut s = format!(
        "# adapter: {}\n# workload: {} generator {} + {} {}, {} images per direction, {} rows; {} warm-up + {} timed runs each\n# precision: {}\n# timing: {} ({})\n# memory: {}\n",
        r.adapter.describe(),
        w.generator.arch,
        w.generator.file,
        w.classifier.arch,
        w.classifier.file,
        w.images,
        w.rows,
        r.warmup,
        r.repeats,
        precision_detail(r.weight_precision),
        r.timing.name(),
        r.timing_detail,
        if memory.is_empty() { "not measured".into() } else { memory.join(", ") },
    );
    if let Some(p) = &r.peak {
        s.push_str(&format!("# peak: {}\n", p.describe()));
    }
    // The fraction of the peak, a last column only where the run has a peak.
    let peak_header = if r.peak.is_some() { format!(" {:>7}", PEAK_COLUMN) } else { String::new() };
    s.push_str(&format!(
        "{:<36} {:<17} {:>10} {:>10} {:>10} {:>10} {:>9} {:>9}{peak_header}\n",
        "op", "kernel", "median ms", "min ms", "max ms", "wall ms", "GFLOP/s", "GB/s"
    ));
    for t in r.kernels.iter().chain([&r.step]) {
        let peak = r.peak_fraction(t).map_or(String::new(), |f| format!(" {:>7.1}", f * 100.0));
        s.push_str(&format!(
            "{:<36} {:<17} {:>10.3} {:>10.3} {:>10.3} {} {:>9.1} {}{peak}\n",
            t.name,
            t.kernel,
            t.median_ms,
            t.min_ms,
            t.max_ms,
            cell(t.wall_median_ms.or((t.timing == TimingMethod::WallClock).then_some(t.median_ms)), 10, 3),
            t.gflop_per_s,
            cell(t.gb_per_s, 9, 1),
        ));
    }
    s.push_str(&format!("# {:.1} image-steps per second\n", r.image_steps_per_s));
    if let Some(p) = r.probe_seconds {
        s.push_str(&format!("# whole probe: {p:.2} s\n"));
    }
    s
}

/// The precision of a run, in words.
pub fn precision_detail(weights: WeightPrecision) -> &'static str {
    match weights {
        WeightPrecision::F32 => "weights f32, sums and activations f32",
        WeightPrecision::F16 => "weights f16 (packed, widened to f32 as staged), sums and activations f32",
    }
}

/// An adapter that failed, as a table section.
pub fn failure_table(f: &Failure) -> String {
    format!("# adapter: {}\n# failed: {}\n", f.adapter.describe(), one_line(&f.error))
}

/// `text` on one line.
pub fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The header of [`csv`].
pub const CSV_HEADER: &str = "adapter,backend,device_type,vendor_id,vendor_name,device_id,driver,driver_info,images,rows,buffer_bytes,peak_rss_bytes,image_steps_per_s,op,kernel,timing,median_ms,min_ms,max_ms,wall_median_ms,gflop,gflop_per_s,gb_per_s,error,weight_precision,peak_gflop_per_s,peak_fraction";

fn identity_fields(a: &AdapterIdentity) -> String {
    [
        csv_field(&a.name),
        csv_field(&a.backend),
        csv_field(&a.device_type),
        format!("{:#06x}", a.vendor_id),
        csv_field(&a.vendor_name),
        format!("{:#06x}", a.device_id),
        csv_field(&a.driver),
        csv_field(&a.driver_info),
    ]
    .join(",")
}

/// Every run as CSV: one row per kernel and one for the step, each with its run's adapter,
/// workload size, memory, weight precision and peak (the last columns, added after the
/// others so their positions stay), empty fields where a value was not measured; then one
/// row per failed adapter, with only its identity and the error.
pub fn csv(f: &BenchFile) -> String {
    let opt = |v: Option<String>| v.unwrap_or_default();
    let mut s = format!("{CSV_HEADER}\n");
    for r in &f.runs {
        let run = [
            identity_fields(&r.adapter),
            r.workload.images.to_string(),
            r.workload.rows.to_string(),
            opt(r.buffer_bytes.map(|b| b.to_string())),
            opt(r.peak_rss_bytes.map(|b| b.to_string())),
            r.image_steps_per_s.to_string(),
        ]
        .join(",");
        let peak = opt(r.peak.as_ref().map(|p| p.gflop_per_s.to_string()));
        for t in r.kernels.iter().chain([&r.step]) {
            s.push_str(&format!(
                "{run},{},{},{},{},{},{},{},{},{},{},,{},{peak},{}\n",
                csv_field(&t.name),
                csv_field(&t.kernel),
                t.timing.name(),
                t.median_ms,
                t.min_ms,
                t.max_ms,
                opt(t.wall_median_ms.map(|v| v.to_string())),
                t.gflop,
                t.gflop_per_s,
                opt(t.gb_per_s.map(|v| v.to_string())),
                r.weight_precision.name(),
                opt(r.peak_fraction(t).map(|f| f.to_string())),
            ));
        }
    }
    for failure in &f.failures {
        s.push_str(&format!("{}{},{},,,\n", identity_fields(&failure.adapter), ",".repeat(15), csv_field(&one_line(&failure.error))));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(name: &str) -> AdapterIdentity {
        AdapterIdentity {
            name: name.into(),
            backend: "Gl".into(),
            device_type: "Cpu".into(),
            vendor_id: 0x10005,
            vendor_name: "Mesa".into(),
            device_id: 0,
            driver: "llvmpipe".into(),
            driver_info: "4.5, Mesa".into(),
        }
    }

    #[test]
    fn failures_are_listed_in_json_csv_and_table() {
        let f = BenchFile::new(Vec::new(), vec![Failure { adapter: identity("llvmpipe"), error: "cannot open\na device".into() }]);
        let csv = csv(&f);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 2, "{csv}");
        assert_eq!(
            lines[1],
            format!("llvmpipe,Gl,Cpu,0x10005,Mesa,0x0000,llvmpipe,\"4.5, Mesa\"{},cannot open a device,,,", ",".repeat(15))
        );
        assert_eq!(CSV_HEADER.split(',').count(), 8 + 15 + 1 + 1 + 2);
        let back: BenchFile = serde_json::from_str(&f.to_json()).unwrap();
        assert_eq!(back, f);
        assert_eq!(
            failure_table(&f.failures[0]),
            "# adapter: llvmpipe: Gl, Cpu, vendor 0x10005 Mesa, device 0x0000, driver llvmpipe, 4.5, Mesa\n# failed: cannot open a device\n"
        );
    }
}
