//! CelebA's text files: the attribute labels (`list_attr_celeba.txt`) and the split of each
//! image (`list_eval_partition.txt`).
//!
//! The label file is line 1 the number of images, line 2 the attribute names, then one line
//! per image: its file name and one label per attribute, 1 (has it) or -1 (has not; 0 is taken
//! as -1 too), separated by any whitespace. The partition file is `file split` per line, split
//! 0 (train), 1 (valid) or 2 (test). Every error names the file and the line, 1-based.
//!
//! Owns: parsing and checking these two files, selecting a split. Must not touch: images.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::str::FromStr;

use super::DatasetError;

/// One of CelebA's three splits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Split {
    Train,
    Valid,
    Test,
}

impl Split {
    pub const ALL: [Split; 3] = [Split::Train, Split::Valid, Split::Test];

    /// The split's number in the partition file.
    pub fn code(self) -> u8 {
        self as u8
    }

    pub fn name(self) -> &'static str {
        ["train", "valid", "test"][self as usize]
    }
}

impl fmt::Display for Split {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Split {
    type Err = DatasetError;

    fn from_str(s: &str) -> Result<Self, DatasetError> {
        Split::ALL
            .into_iter()
            .find(|x| x.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| DatasetError::UnknownSplit { given: s.to_string() })
    }
}

/// The labels of a label file: attribute `names`, and per image its file and its labels
/// (`values`, `files.len() x names.len()`, row-major, true = has the attribute).
#[derive(Debug, Clone, PartialEq)]
pub struct Labels {
    /// Where the labels were read from, for messages.
    pub source: String,
    pub names: Vec<String>,
    pub files: Vec<String>,
    pub values: Vec<bool>,
}

fn read_text(path: &Path) -> Result<String, DatasetError> {
    std::fs::read_to_string(path).map_err(|source| DatasetError::Io { path: path.display().to_string(), source })
}

/// The non-blank lines of `text` with their 1-based numbers.
fn numbered(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines().enumerate().map(|(i, l)| (i + 1, l.trim())).filter(|(_, l)| !l.is_empty())
}

impl Labels {
    /// Reads a label file.
    pub fn read(path: &Path) -> Result<Labels, DatasetError> {
        Labels::parse(&read_text(path)?, &path.display().to_string())
    }

    /// Parses the text of a label file; `path` names it in errors.
    pub fn parse(text: &str, path: &str) -> Result<Labels, DatasetError> {
        let bad = |line: usize, detail: String| DatasetError::Format { path: path.to_string(), line, detail };
        let mut lines = numbered(text);
        let (count_line, count_text) = lines.next().ok_or_else(|| bad(1, "empty: expected the number of images".into()))?;
        let declared: usize =
            count_text.parse().map_err(|_| bad(count_line, format!("expected the number of images, found '{count_text}'")))?;
        let (names_line, header) = lines.next().ok_or_else(|| bad(count_line + 1, "expected the attribute names".into()))?;
        let names: Vec<String> = header.split_whitespace().map(str::to_string).collect();
        let mut seen = HashMap::new();
        for (i, name) in names.iter().enumerate() {
            if let Some(first) = seen.insert(name.to_ascii_lowercase(), i) {
                return Err(DatasetError::DuplicateAttribute {
                    path: path.into(),
                    line: names_line,
                    name: name.clone(),
                    first: first + 1,
                    again: i + 1,
                });
            }
        }
        // Room for the rows the text can hold, never more: the declared count is unchecked yet.
        let room = declared.min(text.lines().count());
        let mut files = Vec::with_capacity(room);
        let mut values = Vec::with_capacity(room.saturating_mul(names.len()));
        let mut rows: HashMap<String, usize> = HashMap::with_capacity(room);
        for (line, text) in lines {
            let fields: Vec<&str> = text.split_whitespace().collect();
            if fields.len() != names.len() + 1 {
                return Err(DatasetError::Columns { path: path.into(), line, found: fields.len(), expected: names.len() + 1 });
            }
            for (name, &v) in names.iter().zip(&fields[1..]) {
                values.push(match v {
                    "1" => true,
                    "-1" | "0" => false,
                    _ => return Err(DatasetError::Label { path: path.into(), line, attribute: name.clone(), value: v.to_string() }),
                });
            }
            if let Some(first) = rows.insert(fields[0].to_string(), line) {
                return Err(DatasetError::DuplicateImage { path: path.into(), line, file: fields[0].to_string(), first });
            }
            files.push(fields[0].to_string());
        }
        if files.len() != declared {
            return Err(DatasetError::Count { path: path.into(), line: count_line, declared, found: files.len() });
        }
        Ok(Labels { source: path.to_string(), names, files, values })
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Keeps the first `n` images (all of them if there are fewer).
    pub fn truncate(&mut self, n: usize) {
        if n < self.files.len() {
            self.files.truncate(n);
            self.values.truncate(n * self.names.len());
        }
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// The labels of the images `partition` puts in `split`, in this file's order. Every
    /// labelled image must be in the partition.
    pub fn select(&self, partition: &Partition, split: Split) -> Result<Labels, DatasetError> {
        let f = self.names.len();
        let mut out = Labels { source: format!("{} ({split})", self.source), names: self.names.clone(), files: vec![], values: vec![] };
        for (i, file) in self.files.iter().enumerate() {
            let of = partition.split_of(file).ok_or_else(|| DatasetError::NotPartitioned {
                partition: partition.source.clone(),
                file: file.clone(),
                labels: self.source.clone(),
            })?;
            if of == split {
                out.files.push(file.clone());
                out.values.extend_from_slice(&self.values[i * f..(i + 1) * f]);
            }
        }
        Ok(out)
    }
}

/// The split of each image, from a partition file.
#[derive(Debug, Clone, PartialEq)]
pub struct Partition {
    pub source: String,
    splits: HashMap<String, Split>,
}

impl Partition {
    pub fn read(path: &Path) -> Result<Partition, DatasetError> {
        Partition::parse(&read_text(path)?, &path.display().to_string())
    }

    /// Parses the text of a partition file; `path` names it in errors.
    pub fn parse(text: &str, path: &str) -> Result<Partition, DatasetError> {
        let bad = |line: usize, detail: String| DatasetError::Format { path: path.to_string(), line, detail };
        let mut splits = HashMap::new();
        let mut lines_of = HashMap::new();
        for (line, text) in numbered(text) {
            let fields: Vec<&str> = text.split_whitespace().collect();
            if fields.len() != 2 {
                return Err(DatasetError::Columns { path: path.into(), line, found: fields.len(), expected: 2 });
            }
            let split = match fields[1] {
                "0" => Split::Train,
                "1" => Split::Valid,
                "2" => Split::Test,
                v => return Err(bad(line, format!("split '{v}' of {} is not 0 (train), 1 (valid) or 2 (test)", fields[0]))),
            };
            if let Some(first) = lines_of.insert(fields[0].to_string(), line) {
                return Err(DatasetError::DuplicateImage { path: path.into(), line, file: fields[0].to_string(), first });
            }
            splits.insert(fields[0].to_string(), split);
        }
        Ok(Partition { source: path.to_string(), splits })
    }

    pub fn split_of(&self, file: &str) -> Option<Split> {
        self.splits.get(file).copied()
    }

    pub fn len(&self) -> usize {
        self.splits.len()
    }

    pub fn is_empty(&self) -> bool {
        self.splits.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LABELS: &str = "3\nSmiling  Male Young \na.jpg  1 -1  1\nb.jpg -1  0 -1\n\nc.jpg  1  1 -1\n";

    #[test]
    fn parses_celeba_layout_with_any_spacing_and_zero_as_negative() {
        let l = Labels::parse(LABELS, "attr.txt").unwrap();
        assert_eq!(l.names, ["Smiling", "Male", "Young"]);
        assert_eq!(l.files, ["a.jpg", "b.jpg", "c.jpg"]);
        assert_eq!(l.values, [true, false, true, false, false, false, true, true, false]);
    }

    #[test]
    fn a_huge_declared_count_is_an_error_not_an_allocation() {
        for count in ["99999999999999", &usize::MAX.to_string()] {
            let text = format!("{count}\nSmiling Male Young\na.jpg 1 -1 1\n");
            let e = Labels::parse(&text, "attr.txt").unwrap_err().to_string();
            assert!(e.contains("attr.txt") && e.contains(count), "{e}");
        }
    }

    #[test]
    fn truncating_keeps_the_first_images_and_any_larger_count_keeps_all() {
        let mut l = Labels::parse(LABELS, "attr.txt").unwrap();
        l.truncate(usize::MAX / 2);
        assert_eq!((l.files.len(), l.values.len()), (3, 9));
        l.truncate(2);
        assert_eq!(
            (l.files.as_slice(), l.values.as_slice()),
            (["a.jpg", "b.jpg"].map(String::from).as_slice(), [true, false, true, false, false, false].as_slice())
        );
    }

    #[test]
    fn selects_a_split_in_file_order() {
        let l = Labels::parse(LABELS, "attr.txt").unwrap();
        let p = Partition::parse("a.jpg 2\nb.jpg 0\nc.jpg 2\nd.jpg 1\n", "part.txt").unwrap();
        let test = l.select(&p, Split::Test).unwrap();
        assert_eq!(test.files, ["a.jpg", "c.jpg"]);
        assert_eq!(test.values, [true, false, true, true, true, false]);
        assert!(l.select(&p, Split::Valid).unwrap().is_empty());
        let e = l.select(&Partition::parse("a.jpg 0\nc.jpg 1", "part.txt").unwrap(), Split::Train).unwrap_err();
        assert_eq!(e.to_string(), "part.txt has no split for b.jpg, labelled in attr.txt");
    }

    #[test]
    fn splits_by_name() {
        assert_eq!("TEST".parse::<Split>().unwrap(), Split::Test);
        assert_eq!(Split::Valid.code(), 1);
        assert_eq!("val".parse::<Split>().unwrap_err().to_string(), "unknown split 'val': expected train, valid or test");
    }
}
