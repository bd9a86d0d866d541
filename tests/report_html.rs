//! The HTML reports in a real browser (headless Chromium; `tools/test.sh` installs Debian's
//! `chromium`; a missing browser fails these tests): for a probe, a matrix and an audit page,
//! each loaded from `file://`, no console message and no request made on the page's behalf
//! (Chromium's net log, filtered to the file page's own requests), a screenshot of the window's
//! size that is not blank, the top table's values in the rendered DOM exactly as the JSON has
//! them, and a sort reordering the rows. The harness itself is shown to catch a console error
//! and a network request on a deliberately bad page.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::common::{fixture, p, read_json, strs, succeeds};

/// The browser: `$GAN_BIAS_CHROMIUM`, else `chromium` or `chromium-browser` on the PATH.
fn chromium() -> PathBuf {
    if let Some(p) = std::env::var_os("GAN_BIAS_CHROMIUM") {
        return PathBuf::from(p);
    }
    for name in ["chromium", "chromium-browser"] {
        for dir in std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    panic!("no Chromium found: install it (Debian: apt-get install chromium; tools/test.sh does) or set GAN_BIAS_CHROMIUM");
}

/// What a page did in the browser.
struct Visit {
    dom: String,
    console: Vec<String>,
    page_requests: Vec<String>,
}

const WIDTH: u32 = 1000;
const HEIGHT: u32 = 800;

/// The browser's flags: headless, no background traffic of its own, a fresh profile in `dir`.
fn flags(dir: &Path) -> Vec<String> {
    let mut f = strs(&[
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--hide-scrollbars",
        "--enable-logging=stderr",
        "--v=0",
    ]);
    f.push(format!("--user-data-dir={}", p(&dir.join("profile"))));
    f
}

fn run(args: &[String]) -> (String, String) {
    let out = Command::new(chromium()).args(args).output().unwrap_or_else(|e| panic!("running Chromium: {e}"));
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned());
    assert!(out.status.success(), "Chromium {args:?} failed ({:?}):\n{stderr}", out.status);
    (stdout, stderr)
}

/// The URLs the page at `url` asked for (requests Chromium starts in the file page's network
/// partition), from its net log.
fn page_requests(net_log: &Path) -> Vec<String> {
    let log = read_json(net_log);
    let start = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"].as_u64().expect("the net log names its event types");
    log["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"].as_u64() == Some(start))
        .filter(|e| e["params"]["network_isolation_key"].as_str().is_some_and(|k| k.contains("file://")))
        .filter_map(|e| e["params"]["url"].as_str().map(str::to_string))
        .collect()
}

/// Loads `page` (with `hash`) and returns its rendered DOM, console lines and requests.
fn visit(page: &Path, hash: &str, dir: &Path) -> Visit {
    let net_log = dir.join(format!("net{}.json", hash.len()));
    let mut args = flags(dir);
    args.push(format!("--log-net-log={}", p(&net_log)));
    args.push("--dump-dom".into());
    args.push(format!("file://{}{hash}", p(page)));
    let (dom, stderr) = run(&args);
    let console = stderr.lines().filter(|l| l.contains(":CONSOLE")).map(str::to_string).collect();
    Visit { dom, console, page_requests: page_requests(&net_log) }
}

/// A screenshot of `page` in a `WIDTH x HEIGHT` window: (width, height, distinct colours,
/// share of pixels unlike the top left one).
fn screenshot(page: &Path, dir: &Path) -> (u32, u32, usize, f64) {
    let shot = dir.join("shot.png");
    let mut args = flags(dir);
    args.push(format!("--window-size={WIDTH},{HEIGHT}"));
    args.push(format!("--screenshot={}", p(&shot)));
    args.push(format!("file://{}", p(page)));
    run(&args);
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&shot).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let frame = reader.next_frame(&mut buf).unwrap();
    let channels = frame.color_type.samples();
    let pixels: Vec<&[u8]> = buf[..frame.buffer_size()].chunks(channels).map(|px| &px[..3]).collect();
    let mut colours: Vec<&[u8]> = pixels.clone();
    colours.sort();
    colours.dedup();
    let unlike = pixels.iter().filter(|px| **px != pixels[0]).count() as f64 / pixels.len() as f64;
    (frame.width, frame.height, colours.len(), unlike)
}

/// Every check a page must pass in the browser; returns its rendered DOM.
fn loads_cleanly(page: &Path, dir: &Path) -> String {
    let v = visit(page, "", dir);
    assert!(v.console.is_empty(), "{}: console messages:\n{}", page.display(), v.console.join("\n"));
    assert!(
        v.page_requests.is_empty() || v.page_requests.iter().all(|u| u.starts_with("file://")),
        "{}: requests {:?}",
        page.display(),
        v.page_requests
    );
    let (w, h, colours, unlike) = screenshot(page, dir);
    assert_eq!((w, h), (WIDTH, HEIGHT), "{}: screenshot size", page.display());
    assert!(
        colours >= 16 && unlike > 0.05,
        "{}: the screenshot looks blank ({colours} colours, {unlike:.3} unlike the corner)",
        page.display()
    );
    let mut ids: Vec<&str> = v.dom.split(" id=\"").skip(1).map(|s| &s[..s.find('"').unwrap()]).collect();
    ids.sort();
    let count = ids.len();
    ids.dedup();
    assert_eq!(ids.len(), count, "{}: element ids are unique", page.display());
    v.dom
}

/// The rows of table `id` in `dom`: each cell's `data-value` (None for a text cell) and text.
fn table_rows(dom: &str, id: &str) -> Vec<Vec<(Option<String>, String)>> {
    let start = dom.find(&format!("id=\"{id}\"")).unwrap_or_else(|| panic!("no table {id}"));
    let body = &dom[start..];
    let body = &body[body.find("<tbody>").unwrap()..body.find("</tbody>").unwrap()];
    body.split("<tr")
        .skip(1)
        .map(|row| {
            row.split("<td")
                .skip(1)
                .map(|cell| {
                    let value = cell.find("data-value=\"").map(|at| {
                        let rest = &cell[at + 12..];
                        rest[..rest.find('"').unwrap()].to_string()
                    });
                    let text = &cell[cell.find('>').unwrap() + 1..cell.find("</td>").unwrap()];
                    (value, text.to_string())
                })
                .collect()
        })
        .collect()
}

/// `cell` holds exactly `want` (undefined: an empty value).
fn holds(cell: &(Option<String>, String), want: &Value, what: &str) {
    let got = cell.0.as_deref().unwrap_or_else(|| panic!("{what}: no data-value"));
    match want.as_f64() {
        Some(w) => assert_eq!(got.parse::<f64>().unwrap_or_else(|e| panic!("{what}: {got:?}: {e}")), w, "{what}"),
        None => assert_eq!(got, "", "{what}: undefined in the JSON"),
    }
}

/// `probe` on the tiny models, CPU backend, with `extra`.
fn tiny_probe(extra: &[&str]) -> Vec<String> {
    let (generator, classifier) = (p(&fixture("tiny_coursera_gen.safetensors")), p(&fixture("tiny_classifier.safetensors")));
    let mut args = strs(&["probe", "--generator", &generator, "--classifier", &classifier, "--backend", "cpu"]);
    args.extend(strs(extra));
    args
}

#[test]
fn the_harness_catches_a_console_error_and_a_network_request() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.html");
    std::fs::write(
        &bad,
        "<!DOCTYPE html><html><body><img src=\"http://example.invalid/x.png\"><script>console.error('boom')</script></body></html>",
    )
    .unwrap();
    let v = visit(&bad, "", dir.path());
    assert!(v.console.iter().any(|l| l.contains("boom")), "{:?}", v.console);
    assert!(v.page_requests.iter().any(|u| u.contains("example.invalid")), "{:?}", v.page_requests);
}

#[test]
fn a_probe_report_holds_the_json_values_and_sorts() {
    let dir = tempfile::tempdir().unwrap();
    let (page, json) = (dir.path().join("probe.html"), dir.path().join("probe.json"));
    let (page_arg, json_arg) = (p(&page), p(&json));
    let flags = ["--feature", "Male", "--images", "5", "--steps", "3", "--bootstrap", "30", "--report", &page_arg, "--json", &json_arg];
    succeeds(&tiny_probe(&flags));
    let dom = loads_cleanly(&page, dir.path());
    let report = read_json(&json);
    let top = report["top"].as_array().unwrap();
    let rows = table_rows(&dom, "top");
    assert_eq!(rows.len(), top.len());
    let columns = [
        (0, "rank"),
        (2, "covariance"),
        (3, "correlation"),
        (4, "slope"),
        (5, "dependency"),
        (6, "ci_low"),
        (7, "ci_high"),
        (8, "p"),
        (9, "q"),
    ];
    for (row, want) in rows.iter().zip(top) {
        assert_eq!(row[1].1, want["feature"].as_str().unwrap());
        for (k, key) in columns {
            holds(&row[k], &want[key], &format!("{} {key}", want["feature"]));
        }
    }
    assert!(dom.contains("id=\"report-data\""), "the JSON is embedded");
    assert!(dom.contains("<svg") && dom.contains("data:image/png;base64,"), "inline plots and the grid");

    // Sorting by the covariance column, ascending, as a click does.
    let sorted = visit(&page, "#sort=top:2:asc", dir.path());
    let covariance =
        |rows: &[Vec<(Option<String>, String)>]| -> Vec<f64> { rows.iter().map(|r| r[2].0.as_deref().unwrap().parse().unwrap()).collect() };
    let (before, after) = (covariance(&rows), covariance(&table_rows(&sorted.dom, "top")));
    let mut want = before.clone();
    want.sort_by(f64::total_cmp);
    assert_eq!(after, want, "sorted ascending");
    assert_ne!(after, before, "the sort reordered the rows");
    assert!(sorted.dom.contains("data-sorted=\"2:asc\""));
}

#[test]
fn a_matrix_report_holds_every_cell() {
    let dir = tempfile::tempdir().unwrap();
    let (page, json) = (dir.path().join("matrix.html"), dir.path().join("matrix.json"));
    let (page_arg, json_arg) = (p(&page), p(&json));
    let flags = [
        "--features",
        "Male,Smiling,Young",
        "--images",
        "4",
        "--steps",
        "2",
        "--bootstrap",
        "20",
        "--report",
        &page_arg,
        "--json",
        &json_arg,
    ];
    succeeds(&tiny_probe(&flags));
    let dom = loads_cleanly(&page, dir.path());
    let cells = read_json(&json)["cells"].as_array().unwrap().clone();
    let rows = table_rows(&dom, "cells");
    assert_eq!(rows.len(), cells.len());
    for (row, want) in rows.iter().zip(&cells) {
        assert_eq!((row[0].1.as_str(), row[1].1.as_str()), (want["target"].as_str().unwrap(), want["feature"].as_str().unwrap()));
        for (k, key) in [(2, "covariance"), (3, "correlation"), (5, "dependency"), (8, "p"), (9, "q")] {
            holds(&row[k], &want[key], &format!("{} -> {} {key}", want["target"], want["feature"]));
        }
    }
    assert!(dom.contains("class=\"cell\""), "the directed heatmap's cells");
    // Each cell's hover text, with its value and interval.
    let at = dom.find("id=\"cell-info\">").expect("the hover texts") + "id=\"cell-info\">".len();
    let info: Value = serde_json::from_str(&dom[at..at + dom[at..].find("</script>").unwrap()]).unwrap();
    assert_eq!(info.as_object().unwrap().len(), cells.len());
    let first = &cells[0];
    let text = info[format!("{}|{}", first["target"].as_str().unwrap(), first["feature"].as_str().unwrap())].as_str().unwrap();
    assert!(text.contains(&format!("{:.3}", first["covariance"].as_f64().unwrap())) && text.contains('['), "{text}");
}

#[test]
fn an_audit_report_holds_the_group_rates() {
    let dir = tempfile::tempdir().unwrap();
    let images = fixture("audit_images");
    let (page, json) = (dir.path().join("audit.html"), dir.path().join("audit.json"));
    succeeds(&strs(&[
        "audit",
        "--backend",
        "cpu",
        "--group",
        "Male",
        "--min-group",
        "2",
        "--bootstrap",
        "20",
        "--no-probe",
        "--image-dir",
        &p(&images),
        "--labels",
        &p(&images.join("list_attr_celeba.txt")),
        "--report",
        &p(&page),
        "--json",
        &p(&json),
    ]));
    let dom = loads_cleanly(&page, dir.path());
    let report = read_json(&json);
    let names = report["features"].as_array().unwrap();
    let rows = table_rows(&dom, "groups");
    let features = report["statistics"]["features"].as_array().unwrap();
    assert_eq!(rows.len(), features.len() * 3, "every feature in every group");
    for row in &rows {
        let feature = features.iter().find(|f| names[f["index"].as_u64().unwrap() as usize] == row[0].1.as_str()).unwrap();
        let g = report["groups"].as_array().unwrap().iter().position(|g| g == row[1].1.as_str()).unwrap();
        holds(&row[6], &feature["by_group"][g]["tpr"]["estimate"], &format!("{} {} tpr", row[0].1, row[1].1));
        holds(&row[9], &feature["by_group"][g]["fpr"]["estimate"], &format!("{} {} fpr", row[0].1, row[1].1));
    }
    assert!(dom.contains("id=\"leakage-20\""), "Male's leakage table");
}
