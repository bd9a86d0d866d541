//! One self-contained HTML page of a probe, a dependency matrix or a classifier audit: every
//! plot inline as SVG, the picture grid as an embedded PNG, the command's versioned JSON
//! embedded whole, a few kilobytes of plain JavaScript (sortable tables, heatmap tooltips) and
//! print-friendly CSS. Nothing is fetched: a Content-Security-Policy allows no network source
//! at all. The page reads whole with JavaScript off.
//!
//! Every name and string from a model or a file passes through [`esc`]. The pages are views
//! of the typed reports ([`probe`], [`matrix`], [`audit`]), built with plain formatting.
//!
//! Owns: the pages' markup, styles and script. Must not touch: what any report holds.

pub mod audit;
pub mod matrix;
pub mod probe;

use std::fmt::Write as _;

const STYLE: &str = include_str!("report.css");
const SCRIPT: &str = include_str!("report.js");

/// What every page opens with: how the run was made.
#[derive(Debug, Clone, PartialEq)]
pub struct Provenance {
    /// The command line, as run.
    pub command: String,
    /// gan-bias's version.
    pub version: String,
    /// Named facts: adapter, each model's file, sha256, architecture and size, seed, ...
    pub facts: Vec<(String, String)>,
}

impl Provenance {
    /// The command line of this process and this build's version, with no facts yet.
    pub fn of_this_run() -> Provenance {
        let command = std::env::args().map(|a| shell_word(&a)).collect::<Vec<_>>().join(" ");
        Provenance { command, version: env!("CARGO_PKG_VERSION").to_string(), facts: Vec::new() }
    }

    pub fn fact(mut self, name: &str, value: impl Into<String>) -> Provenance {
        self.facts.push((name.to_string(), value.into()));
        self
    }
}

/// `word` quoted for a POSIX shell when it needs it.
fn shell_word(word: &str) -> String {
    if !word.is_empty() && word.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=,:+@%".contains(c)) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

/// `s` escaped for HTML text and attribute values (double-quoted), as the SVG plots escape
/// theirs: the markup characters as entities, control characters replaced.
pub fn esc(s: &str) -> String {
    crate::plots::canvas::esc(s)
}

/// `json` safe inside a `<script type="application/json">` element: `<`, `>` and `&`, which
/// JSON text holds only inside strings, written as `\u` escapes, so nothing can close or
/// escape the element.
fn script_json(json: &str) -> String {
    json.replace('<', "\\u003c").replace('>', "\\u003e").replace('&', "\\u0026")
}

/// Standard base64 with padding (RFC 4648), for embedded pictures.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * k) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// One table cell: its shown text, and the exact value a column sorts by (and a test reads).
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    pub text: String,
    pub value: Option<String>,
}

impl Cell {
    /// A text cell, sorted by its text.
    pub fn text(text: impl Into<String>) -> Cell {
        Cell { text: text.into(), value: None }
    }

    /// A number shown with `decimals`, sorted by (and holding) its exact value; `-` and no
    /// value when undefined.
    pub fn num(v: Option<f64>, decimals: usize) -> Cell {
        match v {
            Some(v) => Cell { text: format!("{v:.decimals$}"), value: Some(format!("{v}")) },
            None => Cell { text: "-".into(), value: Some(String::new()) },
        }
    }

    /// An f32 shown with `decimals`, holding its shortest exact decimal (as a JSON serialising
    /// the f32 itself writes it; a report that widens it to f64 first takes [`Cell::num`]).
    pub fn num32(v: f32, decimals: usize) -> Cell {
        Cell { text: format!("{v:.decimals$}"), value: Some(format!("{v}")) }
    }
}

/// A sortable table: `id`, its column headers, and rows of cells; a row marked true is
/// highlighted (a significant feature, a small group).
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub id: String,
    pub headers: Vec<String>,
    pub rows: Vec<(Vec<Cell>, bool)>,
}

impl Table {
    pub fn new(id: &str, headers: &[&str]) -> Table {
        Table { id: id.to_string(), headers: headers.iter().map(|h| h.to_string()).collect(), rows: Vec::new() }
    }

    pub fn row(&mut self, cells: Vec<Cell>, marked: bool) {
        self.rows.push((cells, marked));
    }

    /// The table's markup: a click on a header sorts by that column (see `report.js`).
    pub fn html(&self) -> String {
        let mut s = format!("<table class=\"sortable\" id=\"{}\">\n<thead><tr>", esc(&self.id));
        for (k, h) in self.headers.iter().enumerate() {
            let _ = write!(s, "<th data-col=\"{k}\" title=\"sort by {}\">{}</th>", esc(h), esc(h));
        }
        s.push_str("</tr></thead>\n<tbody>\n");
        for (cells, marked) in &self.rows {
            s.push_str(if *marked { "<tr class=\"marked\">" } else { "<tr>" });
            for c in cells {
                match &c.value {
                    Some(v) => {
                        let _ = write!(s, "<td class=\"num\" data-value=\"{}\">{}</td>", esc(v), esc(&c.text));
                    }
                    None => {
                        let _ = write!(s, "<td>{}</td>", esc(&c.text));
                    }
                }
            }
            s.push_str("</tr>\n");
        }
        s.push_str("</tbody></table>\n");
        s
    }
}

/// A page being built: sections in order, then the embedded data.
pub struct Page {
    title: String,
    body: String,
    /// Hover texts of heatmap cells, keyed `row|column`.
    cell_info: Vec<(String, String)>,
}

impl Page {
    pub fn new(title: &str, provenance: &Provenance) -> Page {
        let mut page = Page { title: title.to_string(), body: String::new(), cell_info: Vec::new() };
        let mut facts = format!(
            "<dl class=\"facts\">\n<dt>command</dt><dd><code>{}</code></dd>\n<dt>gan-bias</dt><dd>{}</dd>\n",
            esc(&provenance.command),
            esc(&provenance.version)
        );
        for (k, v) in &provenance.facts {
            let _ = writeln!(facts, "<dt>{}</dt><dd>{}</dd>", esc(k), esc(v));
        }
        facts.push_str("</dl>\n");
        page.section(
            "provenance",
            "Provenance",
            "How this page was made: the exact command, the program's version, the device it ran on and the files it read, each identified by its sha256, so that anyone can run it again and compare.",
            &facts,
        );
        page
    }

    /// A section (element id `section-ID`, apart from its tables' ids): an `id`, a heading, a plain-words "how to read this", then `body` (markup).
    pub fn section(&mut self, id: &str, heading: &str, how_to_read: &str, body: &str) {
        let _ = write!(
            self.body,
            "<section id=\"section-{}\">\n<h2>{}</h2>\n<p class=\"how\"><b>How to read this.</b> {}</p>\n{body}</section>\n",
            esc(id),
            esc(heading),
            esc(how_to_read)
        );
    }

    /// Hover text for the heatmap cell of `row` and `column` (their names).
    pub fn cell_info(&mut self, row: &str, column: &str, text: String) {
        self.cell_info.push((format!("{row}|{column}"), text));
    }

    /// The whole document, `json` (the command's report) embedded as `report-data`.
    pub fn finish(self, json: &str) -> String {
        let info: serde_json::Map<String, serde_json::Value> =
            self.cell_info.into_iter().map(|(k, v)| (k, serde_json::Value::String(v))).collect();
        let info = serde_json::to_string(&info).expect("strings serialise");
        format!(
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{title}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n\
             <header><h1>{title}</h1></header>\n<main>\n{body}</main>\n\
             <script type=\"application/json\" id=\"report-data\">{json}</script>\n\
             <script type=\"application/json\" id=\"cell-info\">{info}</script>\n<script>\n{SCRIPT}</script>\n</body>\n</html>\n",
            title = esc(&self.title),
            body = self.body,
            json = script_json(json),
            info = script_json(&info),
        )
    }
}

/// An SVG picture inline, in a figure with a caption.
pub fn figure(svg: &str, caption: &str) -> String {
    let svg = svg.trim_start_matches(|c| c != '<');
    let svg = svg.strip_prefix("<?xml").map_or(svg, |rest| rest.split_once("?>").map_or(rest, |(_, r)| r.trim_start()));
    format!("<figure>\n{svg}\n<figcaption>{}</figcaption>\n</figure>\n", esc(caption))
}

/// A PNG picture embedded as a data URL, in a figure with a caption.
pub fn png_figure(png: &[u8], alt: &str, caption: &str) -> String {
    format!(
        "<figure>\n<img alt=\"{}\" src=\"data:image/png;base64,{}\">\n<figcaption>{}</figcaption>\n</figure>\n",
        esc(alt),
        base64(png),
        esc(caption)
    )
}

/// Preformatted text (a view printed to the terminal).
pub fn pre(text: &str) -> String {
    format!("<pre>{}</pre>\n", esc(text))
}

/// A paragraph of plain text.
pub fn para(text: &str) -> String {
    format!("<p>{}</p>\n", esc(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        let cases =
            [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE="), ("foobar", "Zm9vYmFy")];
        for (plain, coded) in cases {
            assert_eq!(base64(plain.as_bytes()), coded, "{plain:?}");
        }
        assert_eq!(base64(&[0xff, 0xfe, 0x00]), "//4A");
    }

    #[test]
    fn every_name_is_escaped_and_the_data_cannot_close_its_script() {
        let hostile = "<script>alert('x')</script>&\"";
        let mut t = Table::new("t", &[hostile]);
        t.row(vec![Cell::text(hostile), Cell::num(Some(0.5), 2)], true);
        let html = t.html();
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("&lt;script&gt;alert('x')&lt;/script&gt;&amp;&quot;"));
        let prov = Provenance { command: hostile.into(), version: "1".into(), facts: vec![(hostile.into(), hostile.into())] };
        let mut page = Page::new(hostile, &prov);
        page.section("s", hostile, hostile, &pre(hostile));
        page.cell_info(hostile, "b", hostile.into());
        let doc = page.finish(&serde_json::json!({ "name": hostile }).to_string());
        assert_eq!(doc.matches("<script").count(), 3, "only the page's own three script elements");
        assert_eq!(doc.matches("</script>").count(), 3);
        assert!(!doc.contains("http://") && !doc.contains("https://"), "no network address");
        assert_eq!(shell_word("a b'c"), "'a b'\\''c'");
        assert_eq!(shell_word("--feature=Male"), "--feature=Male");
    }

    #[test]
    fn cells_keep_the_exact_value_beside_the_rounded_text() {
        let c = Cell::num(Some(0.123456789), 3);
        assert_eq!((c.text.as_str(), c.value.as_deref()), ("0.123", Some("0.123456789")));
        assert_eq!(Cell::num(None, 3).text, "-");
        assert_eq!(Cell::num32(0.1f32, 2).value.as_deref(), Some("0.1"));
        let svg = "<?xml version=\"1.0\"?>\n<svg width=\"1\"></svg>";
        assert!(figure(svg, "c").starts_with("<figure>\n<svg"));
    }
}
