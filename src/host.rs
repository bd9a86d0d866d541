//! What the host says about itself: the process's peak resident memory, the memory
//! available to it and the CPU model.
//! Linux only (`/proc`); elsewhere every answer is `None`.
//!
//! Owns: host facts for benchmarks. Must not touch: anything of the probe.

/// The peak resident set size (`VmHWM`) in a `/proc/<pid>/status` text, in bytes.
pub fn parse_vm_hwm(status: &str) -> Option<u64> {
    let line = status.lines().find_map(|l| l.strip_prefix("VmHWM:"))?;
    let mut words = line.split_whitespace();
    let value: u64 = words.next()?.parse().ok()?;
    let scale = match words.next() {
        Some("kB") => 1024,
        Some("mB") | Some("MB") => 1 << 20,
        Some("gB") | Some("GB") => 1 << 30,
        Some("B") | None => 1,
        Some(_) => return None,
    };
    if words.next().is_some() {
        return None;
    }
    value.checked_mul(scale)
}

/// `MemAvailable` in a `/proc/meminfo` text, in bytes.
pub fn parse_mem_available(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find_map(|l| l.strip_prefix("MemAvailable:"))?;
    let mut words = line.split_whitespace();
    let value: u64 = words.next()?.parse().ok()?;
    match words.next() {
        Some("kB") => value.checked_mul(1024),
        None => Some(value),
        Some(_) => None,
    }
}

/// The memory the system can give this process without swapping, in bytes, where it says.
pub fn available_bytes() -> Option<u64> {
    if !cfg!(target_os = "linux") {
        return None;
    }
    parse_mem_available(&std::fs::read_to_string("/proc/meminfo").ok()?)
}

/// This process's peak resident set size in bytes, where the system reports it.
pub fn peak_rss_bytes() -> Option<u64> {
    if !cfg!(target_os = "linux") {
        return None;
    }
    parse_vm_hwm(&std::fs::read_to_string("/proc/self/status").ok()?)
}

/// Resets the peak resident set size to the current one (Linux: `5` into
/// `/proc/self/clear_refs`); false where that is not possible.
pub fn reset_peak_rss() -> bool {
    cfg!(target_os = "linux") && std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// The CPU model and vendor in a `/proc/cpuinfo` text (`model name`, `vendor_id`).
pub fn parse_cpuinfo(text: &str) -> (Option<String>, Option<String>) {
    let field = |key: &str| {
        text.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            (k.trim() == key).then(|| v.trim().to_string()).filter(|v| !v.is_empty())
        })
    };
    (field("model name"), field("vendor_id"))
}

/// The host CPU's model name and vendor, where the system reports them.
pub fn cpu_model() -> (Option<String>, Option<String>) {
    if !cfg!(target_os = "linux") {
        return (None, None);
    }
    std::fs::read_to_string("/proc/cpuinfo").map(|t| parse_cpuinfo(&t)).unwrap_or((None, None))
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &str = "Name:\tgan-bias\nUmask:\t0022\nState:\tR (running)\nVmPeak:\t 2381452 kB\nVmSize:\t 2381448 kB\n\
        VmLck:\t       0 kB\nVmHWM:\t  734212 kB\nVmRSS:\t  701100 kB\nThreads:\t3\n";

    #[test]
    fn vm_hwm_is_read_in_bytes() {
        assert_eq!(parse_vm_hwm(STATUS), Some(734_212 * 1024));
    }

    #[test]
    fn vm_hwm_missing_or_malformed_is_none() {
        assert_eq!(parse_vm_hwm("Name:\tx\nVmRSS:\t 12 kB\n"), None);
        assert_eq!(parse_vm_hwm("VmHWM:\t lots kB\n"), None);
        assert_eq!(parse_vm_hwm("VmHWM:\t 12 furlongs\n"), None);
        assert_eq!(parse_vm_hwm("VmHWM:\t 18446744073709551615 kB\n"), None);
        assert_eq!(parse_vm_hwm(""), None);
    }

    #[test]
    fn this_process_has_a_peak_on_linux() {
        if cfg!(target_os = "linux") {
            let peak = peak_rss_bytes().expect("VmHWM in /proc/self/status");
            assert!(peak > 1 << 20, "{peak}");
        } else {
            assert_eq!(peak_rss_bytes(), None);
        }
    }

    #[test]
    fn cpuinfo_model_and_vendor() {
        let text = "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\nflags\t\t: fpu\n\nprocessor\t: 1\n";
        assert_eq!(parse_cpuinfo(text), (Some("AMD EPYC 7B13".into()), Some("AuthenticAMD".into())));
        assert_eq!(parse_cpuinfo("processor\t: 0\n"), (None, None));
    }
}
