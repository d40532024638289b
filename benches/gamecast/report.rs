//! Figures and the report: percentiles, the machine, and docs/BENCHMARKS.md's sections.

use std::time::Duration;

use crate::common::repo;

/// Percentiles of a set of durations, in milliseconds.
#[derive(Clone)]
pub struct Summary {
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
    pub n: usize,
}

pub fn summarize(mut samples: Vec<Duration>) -> Summary {
    assert!(!samples.is_empty(), "no samples");
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let at = |q: f64| ms(samples[((samples.len() - 1) as f64 * q).round() as usize]);
    Summary {
        p50: at(0.50),
        p99: at(0.99),
        max: ms(*samples.last().unwrap()),
        n: samples.len(),
    }
}

/// `a / b` as a ratio for the tables.
pub fn ratio(a: f64, b: f64) -> String {
    if b == 0.0 {
        "–".into()
    } else {
        format!("{:.2}×", a / b)
    }
}

/// The system's monotonic clock in seconds: the same clock as Lua's `now()` in the announcer.
pub fn mono_now() -> f64 {
    let now = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC).unwrap();
    now.tv_sec() as f64 + now.tv_nsec() as f64 / 1e9
}

/// Rewrites this suite's section of docs/BENCHMARKS.md, keeping the others.
pub fn write_section(suite: &str, report: &str) {
    let path = repo("docs/BENCHMARKS.md");
    let old = std::fs::read_to_string(&path).unwrap_or_else(|_| "# Benchmarks\n".to_string());
    let begin = format!("<!-- {suite}:begin -->");
    let end = format!("<!-- {suite}:end -->");
    let section = format!(
        "{begin}\n{report}\nCommand: `cargo bench --bench gamecast -- {suite}`. Machine: {}. \
         Measured {}.\n{end}",
        machine(),
        today()
    );
    let new = match (old.find(&begin), old.find(&end)) {
        (Some(b), Some(e)) => format!("{}{section}{}", &old[..b], &old[e + end.len()..]),
        _ => format!("{}\n\n{section}\n", old.trim_end()),
    };
    std::fs::write(&path, new).unwrap();
    eprintln!("wrote the {suite} section of {}", path.display());
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!("{cores} × {cpu}, Linux {}", kernel.trim())
}

fn today() -> String {
    let output = std::process::Command::new("date")
        .arg("-u")
        .arg("+%Y-%m-%d")
        .output();
    output.map_or_else(
        |_| "?".into(),
        |o| String::from_utf8_lossy(&o.stdout).trim().to_string(),
    )
}
