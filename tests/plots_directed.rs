//! The directed T x F heatmap: its SVG cells' tags and colours against the input, escaping
//! of hostile names, shape errors, and the PNG's size and cell pixels.

use crate::plots_png::decode;
use gan_bias::plots::canvas::hex;
use gan_bias::plots::{self, DirectedMatrix, PlotError, PlotFormat, diverging};
use gan_bias::rng::torch_randn;

const NAMES: [&str; 5] = ["Male", "Smiling", "Young", "Bald", "Eyeglasses"];
const ROWS: [usize; 3] = [1, 3, 4];
/// The one undefined cell off the diagonal.
const UNDEFINED: (usize, usize) = (0, 2);

/// 3 targets x 5 features of seeded values, (0, 2) undefined, significant where |v| > 0.5.
fn seeded() -> DirectedMatrix {
    let mut values: Vec<Option<f64>> = torch_randn(7, 15).iter().map(|v| Some(*v as f64)).collect();
    values[UNDEFINED.0 * 5 + UNDEFINED.1] = None;
    let significant = values.iter().map(|v| v.is_some_and(|v| v.abs() > 0.5)).collect();
    let names = NAMES.iter().map(|s| s.to_string()).collect();
    DirectedMatrix { rows: ROWS.to_vec(), names, values, significant, metric: "dependency".into() }
}

/// The limit as documented: the largest |value| of the defined cells off the diagonal.
fn lim(m: &DirectedMatrix) -> f64 {
    let f = m.names.len();
    (0..m.values.len()).filter(|k| k % f != m.rows[k / f]).filter_map(|k| m.values[k]).map(f64::abs).fold(0.0, f64::max)
}

/// The size as documented, in user units.
fn size(rows: usize, names: &[&str], metric: &str) -> (usize, usize) {
    let label = 10 + (31 * names.iter().map(|n| n.chars().count()).max().unwrap_or(0)).div_ceil(5);
    let title = format!("Directed {metric}: row = target moved, column = response").chars().count();
    let legend = plots::directed::LEGEND.chars().count();
    let w = (label + 14 * names.len() + 110).max(20 + (248 * title).div_ceil(25)).max(20 + (31 * legend).div_ceil(5));
    (w, 45 + (14 * rows + label).max(64) + 24)
}

/// Attribute `name` of one SVG element's line.
fn attr(line: &str, name: &str) -> Option<String> {
    let key = format!(" {name}=\"");
    line.find(&key).map(|i| line[i + key.len()..].split('"').next().unwrap().to_string())
}

/// The lines of the cells (every element with a `data-row`), in order, and what follows each.
fn cells(svg: &str) -> Vec<(&str, &str)> {
    let lines: Vec<&str> = svg.lines().collect();
    (0..lines.len()).filter(|&i| lines[i].contains(" data-row=\"")).map(|i| (lines[i], lines.get(i + 1).copied().unwrap_or(""))).collect()
}

fn channels_sum(c: [u8; 3]) -> u32 {
    c.iter().map(|v| *v as u32).sum()
}

#[test]
fn directed_svg_cells_are_tagged_and_coloured_as_their_input_says() {
    let m = seeded();
    let svg = plots::directed_svg(&m).unwrap();
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    let (w, h) = size(3, &NAMES, "dependency");
    assert!(svg.starts_with(&format!(r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}""#)), "{}", &svg[..120]);
    let lim = lim(&m);
    assert!(lim > 0.5);
    let cells = cells(&svg);
    assert_eq!(cells.len(), 15, "one cell per target and feature");
    let (mut faded, mut significant, mut greys) = (0, 0, Vec::new());
    for (k, (line, next)) in cells.iter().enumerate() {
        let (r, c) = (k / 5, k % 5);
        let what = format!("cell ({r}, {c}): {line}");
        assert_eq!(attr(line, "data-row").unwrap(), NAMES[ROWS[r]], "{what}");
        assert_eq!(attr(line, "data-col").unwrap(), NAMES[c], "{what}");
        let class = attr(line, "class").unwrap();
        let fill = attr(line, "fill").unwrap();
        if c == ROWS[r] || (r, c) == UNDEFINED {
            assert_eq!(class, if c == ROWS[r] { "diagonal" } else { "undefined" }, "{what}");
            assert_eq!(attr(line, "data-value").unwrap(), "", "{what} has no value");
            assert_eq!(attr(line, "data-significant"), None, "{what}");
            greys.push(fill);
            continue;
        }
        let v = m.values[k].unwrap();
        assert_eq!(class, "cell", "{what}");
        assert_eq!(attr(line, "data-value").unwrap().parse::<f64>().unwrap(), v, "{what}");
        assert_eq!(attr(line, "data-significant").unwrap(), m.significant[k].to_string(), "{what}");
        let want = hex(diverging(v / lim));
        if m.significant[k] {
            significant += 1;
            assert_eq!(fill, want, "{what}");
            assert!(!next.contains("fill=\"none\""), "{what} is not framed");
        } else {
            // Faded: lighter than the full colour (unless that is white already), no frame.
            faded += 1;
            let parse = |h: &str| [1, 3, 5].map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap());
            let (got, full) = (parse(&fill), parse(&want));
            assert!(got.iter().zip(full).all(|(g, f)| *g >= f), "{what}: not darker than {want}");
            if full != [255; 3] {
                assert_ne!(fill, want, "{what} is faded");
                assert!(channels_sum(got) > channels_sum(full), "{what}: lighter than {want}");
            }
            assert!(!next.contains("fill=\"none\""), "{what} is not framed: {next}");
        }
    }
    assert!(faded >= 2 && significant >= 2, "the seed gives both kinds: {faded} faded, {significant} significant");
    // The diagonal and the undefined cell share one light grey.
    assert_eq!(greys.len(), 4);
    assert!(greys.iter().all(|g| *g == greys[0] && g[1..3] == g[3..5] && g[1..3] == g[5..7] && *g != "#ffffff"), "{greys:?}");
    // Names on both axes, the title, the bar's limits and the legend.
    assert_eq!(svg.matches("class=\"ylabel\"").count(), 3);
    assert_eq!(svg.matches("class=\"xlabel\"").count(), 5);
    assert!(svg.contains(">Directed dependency: row = target moved, column = response</text>"));
    assert!(svg.contains(&format!(">{lim:.3}</text>")) && svg.contains(&format!(">{:.3}</text>", -lim)));
    assert!(svg.contains("class=\"legend\"") && svg.contains("not significant"));
}

#[test]
fn directed_svg_escapes_hostile_names_in_text_and_attributes() {
    let mut m = seeded();
    let hostile = "A<b>&\"c\"";
    m.names[3] = hostile.to_string(); // a target (row 1) and a column
    m.names[0] = "tab\there\u{1}".to_string();
    m.metric = "<script>".to_string();
    let svg = plots::directed_svg(&m).unwrap();
    let escaped = "A&lt;b&gt;&amp;&quot;c&quot;";
    assert!(!svg.contains("A<b>") && !svg.contains("<script>") && !svg.contains('\u{1}') && !svg.contains('\t'));
    assert_eq!(svg.matches(&format!("data-row=\"{escaped}\"")).count(), 5, "row 1's cells");
    assert_eq!(svg.matches(&format!("data-col=\"{escaped}\"")).count(), 3, "column 3's cells");
    assert_eq!(svg.matches(&format!(">{escaped}</text>")).count(), 2, "on both axes");
    assert!(svg.contains("data-col=\"tab&#9;here\u{fffd}\""));
    assert!(svg.contains(">Directed &lt;script&gt;: row"));
    // Every '<' opens an element, every '&' an entity.
    for (i, _) in svg.match_indices('<') {
        assert!(svg[i + 1..].starts_with(|c: char| c.is_ascii_alphabetic() || c == '/'), "{}", &svg[i..i + 20]);
    }
    for (i, _) in svg.match_indices('&') {
        let entity = &svg[i..i + svg[i..].find(';').unwrap() + 1];
        assert!(["&lt;", "&gt;", "&amp;", "&quot;", "&#9;"].contains(&entity), "{entity}");
    }
}

#[test]
fn directed_shape_mismatch_is_an_error_for_every_format() {
    let good = seeded();
    let mut short = good.clone();
    short.values.pop();
    let mut long = good.clone();
    long.significant.push(true);
    let mut outside = good.clone();
    outside.rows[2] = 5;
    let mut no_names = good.clone();
    no_names.names.clear();
    for (m, needle) in [
        (short, "values has 14 entries"),
        (long, "significant has 16 entries"),
        (outside, "row 2's target is feature 5"),
        (no_names, "values"),
    ] {
        let results = [
            plots::directed_svg(&m).map(|_| ()),
            plots::directed_image(&m).map(|_| ()),
            plots::directed_file(PlotFormat::Svg, &m).map(|_| ()),
            plots::directed_file(PlotFormat::Png, &m).map(|_| ()),
        ];
        for e in results {
            let e = e.unwrap_err();
            assert!(matches!(e, PlotError::Shape(_)) && e.to_string().contains(needle), "{e}");
        }
    }
}

#[test]
fn directed_png_has_its_size_and_cell_colours() {
    let m = seeded();
    let img = decode(&plots::directed_file(PlotFormat::Png, &m).unwrap());
    let (w, h) = size(3, &NAMES, "dependency");
    assert_eq!((img.width, img.height), (plots::PNG_SCALE * w, plots::PNG_SCALE * h));
    assert!(plots::check_directed_png(3, &m.names, &m.metric).is_ok());
    let (lim, left) = (lim(&m), 10 + (31 * 10usize).div_ceil(5)); // "Eyeglasses" is the longest
    let grey = img.pixel(2 * (left + 14 * ROWS[0] + 7), 2 * (45 + 7));
    assert!(grey[0] == grey[1] && grey[1] == grey[2] && grey[0] < 250 && grey[0] > 200, "the diagonal is light grey: {grey:?}");
    let mut lighter = 0;
    for (r, &target) in ROWS.iter().enumerate() {
        for c in 0..5 {
            let (x0, y0) = (2 * (left + 14 * c), 2 * (45 + 14 * r));
            let centre = img.pixel(x0 + 14, y0 + 14);
            let what = format!("cell ({r}, {c})");
            if c == target || (r, c) == UNDEFINED {
                assert_eq!(centre, grey, "{what} is blank");
                continue;
            }
            let full = diverging(m.values[r * 5 + c].unwrap() / lim);
            if m.significant[r * 5 + c] {
                assert_eq!(centre, full, "{what}");
                assert_eq!(img.pixel(x0 + 2, y0 + 14), full, "{what} is not framed");
            } else {
                assert!(centre.iter().zip(full).all(|(g, f)| *g >= f), "{what}: {centre:?} lighter than {full:?}");
                if full != [255; 3] {
                    assert_ne!(centre, full, "{what}");
                    assert!(channels_sum(centre) > channels_sum(full), "{what}: {centre:?} lighter than {full:?}");
                    lighter += 1;
                }
                // One colour across the cell, no frame.
                assert_eq!(img.pixel(x0 + 2, y0 + 14), centre, "{what} is not framed");
            }
        }
    }
    assert!(lighter >= 2);
}

#[test]
fn directed_png_refuses_too_many_pixels_before_drawing() {
    let mut m = seeded();
    m.names[0] = "x".repeat(100_000);
    assert!(matches!(plots::check_directed_png(3, &m.names, &m.metric), Err(PlotError::TooLarge { .. })));
    assert!(matches!(plots::directed_file(PlotFormat::Png, &m), Err(PlotError::TooLarge { .. })));
    assert!(plots::directed_file(PlotFormat::Svg, &m).is_ok());
    let names: Vec<String> = NAMES.iter().map(|s| s.to_string()).collect();
    assert!(matches!(plots::check_directed_png(1 << 22, &names, "m"), Err(PlotError::TooLarge { .. })));
    // No cells at all, or none defined: drawn, with a limit of 1.
    for m in [
        DirectedMatrix { rows: vec![], names: vec![], values: vec![], significant: vec![], metric: "m".into() },
        DirectedMatrix {
            rows: vec![0, 1],
            names: names[..2].to_vec(),
            values: vec![None; 4],
            significant: vec![false; 4],
            metric: "".into(),
        },
    ] {
        let (w, h) = size(m.rows.len(), &NAMES[..m.names.len()], &m.metric);
        let img = decode(&plots::directed_file(PlotFormat::Png, &m).unwrap());
        assert_eq!((img.width, img.height), (2 * w, 2 * h));
        assert!(plots::directed_svg(&m).unwrap().contains(">1.000</text>"));
    }
}
