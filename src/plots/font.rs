//! The PNG plots' bitmap font, drawn for this project: every printable ASCII character
//! (`' '` to `'~'`) as a 5 x 9 grid of pixels, 7 rows above the baseline and 2 below it for
//! the descenders of `g j p q y` and the tails of `, ;`. Capitals and digits are 7 rows tall,
//! lower case 5 (with ascenders 7).
//!
//! The font is proportional: each glyph is as wide as its lit columns (digits keep all 5, so
//! numbers line up; a space is 3), and one blank column separates neighbours. Any other
//! character is drawn as a hollow box.
//!
//! Owns: the bitmap glyphs. Must not touch: layout.

/// Columns of a glyph's grid.
pub const COLUMNS: usize = 5;
/// Rows above the baseline (the capital height).
pub const ASCENT: usize = 7;
/// Rows below the baseline.
pub const DESCENT: usize = 2;
/// Rows of a glyph's grid.
pub const ROWS: usize = ASCENT + DESCENT;
/// Blank columns between two glyphs.
pub const GAP: usize = 1;
/// Width of a space.
const SPACE: usize = 3;

/// The glyphs of `' '` to `'~'`, 16 to a band of 9 rows, each 5 columns wide and followed by a
/// blank separator column; `#` is a lit pixel.
const ART: [&str; 54] = [
    // sp    !     "     #     $     %     &     '     (     )     *     +     ,     -     .     /
    "..... ..#.. .#.#. .#.#. ..#.. ##... .##.. ..#.. ...#. .#... ..... ..... ..... ..... ..... ....#",
    "..... ..#.. .#.#. .#.#. .#### ##..# #..#. ..#.. ..#.. ..#.. ..#.. ..#.. ..... ..... ..... ....#",
    "..... ..#.. .#.#. ##### #.#.. ...#. #.#.. .#... .#... ...#. #.#.# ..#.. ..... ..... ..... ...#.",
    "..... ..#.. ..... .#.#. .###. ..#.. .#... ..... .#... ...#. .###. ##### ..... ####. ..... ..#..",
    "..... ..#.. ..... ##### ..#.# .#... #.#.# ..... .#... ...#. #.#.# ..#.. ..... ..... ..... .#...",
    "..... ..... ..... .#.#. ####. #..## #..#. ..... ..#.. ..#.. ..#.. ..#.. ..... ..... ..... #....",
    "..... ..#.. ..... .#.#. ..#.. ...## .##.# ..... ...#. .#... ..... ..... ..#.. ..... ..#.. #....",
    "..... ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... ..#.. ..... ..... .....",
    "..... ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... .#... ..... ..... .....",
    // 0     1     2     3     4     5     6     7     8     9     :     ;     <     =     >     ?
    ".###. ..#.. .###. ##### ...#. ##### ..##. ##### .###. .###. ..... ..... ...#. ..... .#... .###.",
    "#...# .##.. #...# ...#. ..##. #.... .#... ....# #...# #...# ..... ..... ..#.. ..... ..#.. #...#",
    "#..## ..#.. ....# ..#.. .#.#. ####. #.... ...#. #...# #...# ..#.. ..#.. .#... ##### ...#. ....#",
    "#.#.# ..#.. ...#. ...#. #..#. ....# ####. ..#.. .###. .#### ..... ..... #.... ..... ....# ...#.",
    "##..# ..#.. ..#.. ....# ##### ....# #...# .#... #...# ....# ..... ..... .#... ##### ...#. ..#..",
    "#...# ..#.. .#... #...# ...#. #...# #...# .#... #...# ...#. ..... ..... ..#.. ..... ..#.. .....",
    ".###. .###. ##### .###. ...#. .###. .###. .#... .###. .##.. ..#.. ..#.. ...#. ..... .#... ..#..",
    "..... ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... ..#.. ..... ..... ..... .....",
    "..... ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... .#... ..... ..... ..... .....",
    // @     A     B     C     D     E     F     G     H     I     J     K     L     M     N     O
    ".###. .###. ####. .###. ####. ##### ##### .###. #...# .###. ..### #...# #.... #...# #...# .###.",
    "#...# #...# #...# #...# #...# #.... #.... #...# #...# ..#.. ...#. #..#. #.... ##.## #...# #...#",
    "#.### #...# #...# #.... #...# #.... #.... #.... #...# ..#.. ...#. #.#.. #.... #.#.# ##..# #...#",
    "#.#.# ##### ####. #.... #...# ####. ####. #.### ##### ..#.. ...#. ##... #.... #.#.# #.#.# #...#",
    "#.### #...# #...# #.... #...# #.... #.... #...# #...# ..#.. ...#. #.#.. #.... #...# #..## #...#",
    "#.... #...# #...# #...# #...# #.... #.... #...# #...# ..#.. #..#. #..#. #.... #...# #...# #...#",
    ".#### #...# ####. .###. ####. ##### #.... .#### #...# .###. .##.. #...# ##### #...# #...# .###.",
    "..... ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... .....",
    "..... ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... .....",
    // P     Q     R     S     T     U     V     W     X     Y     Z     [     \     ]     ^     _
    "####. .###. ####. .#### ##### #...# #...# #...# #...# #...# ##### .###. #.... .###. ..#.. .....",
    "#...# #...# #...# #.... ..#.. #...# #...# #...# #...# #...# ....# .#... #.... ...#. .#.#. .....",
    "#...# #...# #...# #.... ..#.. #...# #...# #...# .#.#. .#.#. ...#. .#... .#... ...#. #...# .....",
    "####. #...# ####. .###. ..#.. #...# #...# #.#.# ..#.. ..#.. ..#.. .#... ..#.. ...#. ..... .....",
    "#.... #.#.# #.#.. ....# ..#.. #...# #...# #.#.# .#.#. ..#.. .#... .#... ...#. ...#. ..... .....",
    "#.... #..#. #..#. ....# ..#.. #...# .#.#. #.#.# #...# ..#.. #.... .#... ....# ...#. ..... .....",
    "#.... .##.# #...# ####. ..#.. .###. ..#.. .#.#. #...# ..#.. ##### .###. ....# .###. ..... .....",
    "..... ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... #####",
    "..... ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... .....",
    // `     a     b     c     d     e     f     g     h     i     j     k     l     m     n     o
    ".#... ..... #.... ..... ....# ..... ..##. ..... #.... ..#.. ...#. #.... .##.. ..... ..... .....",
    "..#.. ..... #.... ..... ....# ..... .#..# ..... #.... ..... ..... #.... ..#.. ..... ..... .....",
    "..... .###. #.##. .###. .##.# .###. .#... .#### #.##. .##.. ..##. #..#. ..#.. ##.#. #.##. .###.",
    "..... ....# ##..# #.... #..## #...# ###.. #...# ##..# ..#.. ...#. #.#.. ..#.. #.#.# ##..# #...#",
    "..... .#### #...# #.... #...# ##### .#... #...# #...# ..#.. ...#. ##... ..#.. #.#.# #...# #...#",
    "..... #...# #...# #...# #...# #.... .#... #...# #...# ..#.. ...#. #.#.. ..#.. #...# #...# #...#",
    "..... .#### ####. .###. .#### .###. .#... .#### #...# .###. ...#. #..#. .###. #...# #...# .###.",
    "..... ..... ..... ..... ..... ..... ..... ....# ..... ..... #..#. ..... ..... ..... ..... .....",
    "..... ..... ..... ..... ..... ..... ..... .###. ..... ..... .##.. ..... ..... ..... ..... .....",
    // p     q     r     s     t     u     v     w     x     y     z     {     |     }     ~
    "..... ..... ..... ..... .#... ..... ..... ..... ..... ..... ..... ...## ..#.. ##... .....",
    "..... ..... ..... ..... .#... ..... ..... ..... ..... ..... ..... ..#.. ..#.. ..#.. .....",
    "####. .#### #.##. .#### ###.. #...# #...# #...# #...# #...# ##### ..#.. ..#.. ..#.. .#...",
    "#...# #...# ##..# #.... .#... #...# #...# #...# .#.#. #...# ...#. .#... ..#.. ...#. #.#.#",
    "#...# #...# #.... .###. .#... #...# #...# #.#.# ..#.. #...# ..#.. ..#.. ..#.. ..#.. ...#.",
    "#...# #...# #.... ....# .#..# #..## .#.#. #.#.# .#.#. #...# .#... ..#.. ..#.. ..#.. .....",
    "####. .#### #.... ####. ..##. .##.# ..#.. .#.#. #...# .#### ##### ...## ..#.. ##... .....",
    "#.... ....# ..... ..... ..... ..... ..... ..... ..... ....# ..... ..... ..#.. ..... .....",
    "#.... ....# ..... ..... ..... ..... ..... ..... ..... .###. ..... ..... ..#.. ..... .....",
];

/// Number of glyphs in [`ART`]: `' '` to `'~'`.
const COUNT: usize = 95;

/// Each glyph's rows, top first; bit `COLUMNS - 1 - c` of a row is column `c`.
const BITS: [[u8; ROWS]; COUNT] = parse(&ART);

/// The glyph drawn for characters outside printable ASCII: a hollow box.
const MISSING: [u8; ROWS] = [0b11111, 0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b11111, 0, 0];

/// Reads [`ART`] at compile time; a malformed band fails the build.
const fn parse(art: &[&str; 54]) -> [[u8; ROWS]; COUNT] {
    let mut out = [[0u8; ROWS]; COUNT];
    let mut g = 0;
    while g < COUNT {
        let mut r = 0;
        while r < ROWS {
            let line = art[(g / 16) * ROWS + r].as_bytes();
            let glyphs_in_band = if g / 16 == COUNT / 16 { COUNT % 16 } else { 16 };
            assert!(line.len() == glyphs_in_band * (COLUMNS + 1) - 1, "a band row of the font has the wrong length");
            let mut c = 0;
            while c < COLUMNS {
                match line[(g % 16) * (COLUMNS + 1) + c] {
                    b'#' => out[g][r] |= 1 << (COLUMNS - 1 - c),
                    b'.' => {}
                    _ => panic!("the font's art holds only '#' and '.'"),
                }
                c += 1;
            }
            r += 1;
        }
        g += 1;
    }
    out
}

/// One character's pixels and the columns it occupies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Glyph {
    /// Rows top first; bit `COLUMNS - 1 - c` is column `c`.
    pub rows: [u8; ROWS],
    /// First column drawn.
    pub left: usize,
    /// Columns drawn from `left` (the advance, less the gap).
    pub width: usize,
}

impl Glyph {
    /// Whether column `c`, row `r` of the grid is lit.
    pub fn lit(&self, c: usize, r: usize) -> bool {
        c < COLUMNS && r < ROWS && self.rows[r] >> (COLUMNS - 1 - c) & 1 == 1
    }
}

/// The glyph of `ch` (a hollow box outside `' '..='~'`).
pub fn glyph(ch: char) -> Glyph {
    let rows = if (' '..='~').contains(&ch) { BITS[ch as usize - ' ' as usize] } else { MISSING };
    let used = rows.iter().fold(0u8, |a, r| a | r);
    if ch.is_ascii_digit() || used == 0 {
        return Glyph { rows, left: 0, width: if used == 0 { SPACE } else { COLUMNS } };
    }
    // Columns from the leftmost lit one (the highest bit) to the rightmost.
    let left = used.leading_zeros() as usize - (8 - COLUMNS);
    let right = COLUMNS - 1 - used.trailing_zeros() as usize;
    Glyph { rows, left, width: right + 1 - left }
}

/// Width of `text` in font pixels (scale 1): the glyphs' widths and a gap between each two.
pub fn text_width(text: &str) -> usize {
    let (sum, n): (usize, usize) = text.chars().fold((0, 0), |(s, n), c| (s + glyph(c).width, n + 1));
    sum + GAP * n.saturating_sub(1)
}

/// The lit pixels of `text` at scale 1, as `(x, row)`: `x` from the left edge of the text
/// (`0..text_width(text)`), `row` from the top of the ascent (`0..ROWS`; the baseline is
/// between rows `ASCENT - 1` and `ASCENT`).
pub fn pixels(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut x = 0;
    for ch in text.chars() {
        let g = glyph(ch);
        for r in 0..ROWS {
            for c in g.left..g.left + g.width {
                if g.lit(c, r) {
                    out.push((x + c - g.left, r));
                }
            }
        }
        x += g.width + GAP;
    }
    out
}
