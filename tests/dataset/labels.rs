//! CelebA's label and partition files: the fixtures parse; every malformed file is refused in
//! one line naming the file and the line; images missing or undecodable are named.

use std::error::Error;

use gan_bias::dataset::{Dataset, DatasetError, Labels, Partition, Split};

use super::{audit_fixture, chain, write};

const NAMES: &str = "Smiling Male Young";

/// The error of reading `text` as a label file, with the file's path.
fn labels_error(text: &str) -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "list_attr_celeba.txt", text);
    (Labels::read(&p).map(|_| ()).unwrap_err().to_string(), p.display().to_string())
}

fn partition_error(text: &str) -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "list_eval_partition.txt", text);
    (Partition::read(&p).map(|_| ()).unwrap_err().to_string(), p.display().to_string())
}

#[test]
fn the_fixture_files_parse() {
    let l = Labels::read(&audit_fixture("list_attr_celeba.txt")).unwrap();
    assert_eq!((l.len(), l.names.len()), (5, 40));
    assert_eq!((l.names[0].as_str(), l.names[39].as_str()), ("5_o_Clock_Shadow", "Young"));
    assert_eq!(l.files[3], "000004.png");
    let p = Partition::read(&audit_fixture("list_eval_partition.txt")).unwrap();
    assert_eq!(p.len(), 6);
    assert_eq!(
        [p.split_of("000002.jpg"), p.split_of("000004.png"), p.split_of("nope.jpg")],
        [Some(Split::Train), Some(Split::Valid), None]
    );
    let valid = l.select(&p, Split::Valid).unwrap();
    assert_eq!(valid.files, ["000004.png"]);
    assert_eq!(valid.values, l.values[3 * 40..4 * 40]);
}

#[test]
fn each_malformed_label_file_is_one_line_naming_file_and_line() {
    let cases = [
        (format!("2\n{NAMES}\na.jpg 1 -1 1\nb.jpg 1 -1\n"), ":4: 3 columns, expected 4"),
        (format!("2\n{NAMES}\na.jpg 1 -1 1 1\nb.jpg 1 -1 1\n"), ":3: 5 columns, expected 4"),
        (format!("2\n{NAMES}\na.jpg 1 -1 1\nb.jpg 1 2 1\n"), ":4: label '2' of Male is not 1, -1 or 0"),
        (format!("2\n{NAMES}\na.jpg 1 -1 yes\nb.jpg 1 1 1\n"), ":3: label 'yes' of Young is not 1, -1 or 0"),
        (format!("3\n{NAMES}\na.jpg 1 -1 1\nb.jpg 1 1 1\n"), ":1: the count says 3 images but 2 are labelled"),
        (format!("1\n{NAMES}\na.jpg 1 -1 1\nb.jpg 1 1 1\n"), ":1: the count says 1 images but 2 are labelled"),
        ("many\nSmiling\na.jpg 1\n".to_string(), ":1: expected the number of images, found 'many'"),
        ("1\nSmiling Male smiling\na.jpg 1 1 1\n".to_string(), ":2: attribute smiling is named twice (columns 1 and 3)"),
        (format!("3\n{NAMES}\na.jpg 1 -1 1\nb.jpg 1 1 1\n\na.jpg -1 -1 -1\n"), ":6: a.jpg is listed again (first on line 3)"),
        ("".to_string(), ":1: empty: expected the number of images"),
    ];
    for (text, want) in cases {
        let (e, path) = labels_error(&text);
        assert_eq!(e, format!("{path}{want}"), "for {text:?}");
        assert!(!e.contains('\n'));
    }
}

#[test]
fn each_malformed_partition_file_is_one_line_naming_file_and_line() {
    let cases = [
        ("a.jpg 0\nb.jpg 3\n", ":2: split '3' of b.jpg is not 0 (train), 1 (valid) or 2 (test)"),
        ("a.jpg 0 1\n", ":1: 3 columns, expected 2"),
        ("a.jpg 0\n\nb.jpg 1\na.jpg 2\n", ":4: a.jpg is listed again (first on line 1)"),
    ];
    for (text, want) in cases {
        let (e, path) = partition_error(text);
        assert_eq!(e, format!("{path}{want}"), "for {text:?}");
    }
}

#[test]
fn an_image_missing_from_the_partition_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let labels = write(dir.path(), "attr.txt", format!("2\n{NAMES}\na.jpg 1 -1 1\nb.jpg 1 1 1\n"));
    let part = write(dir.path(), "part.txt", "a.jpg 2\nc.jpg 2\n");
    let e = Dataset::from_image_dir(&labels, Some((&part, Split::Test)), None, dir.path()).unwrap_err().to_string();
    assert_eq!(e, format!("{} has no split for b.jpg, labelled in {}", part.display(), labels.display()));
    // A split with no image is refused too.
    let part = write(dir.path(), "part.txt", "a.jpg 2\nb.jpg 2\n");
    let e = Dataset::from_image_dir(&labels, Some((&part, Split::Valid)), None, dir.path()).unwrap_err().to_string();
    assert_eq!(e, format!("{} (valid) holds no images", labels.display()));
}

#[test]
fn missing_files_are_named_once_with_the_reason_as_source() {
    let e = Labels::read(std::path::Path::new("/nonexistent/list_attr_celeba.txt")).unwrap_err();
    assert_eq!(e.to_string(), "cannot read /nonexistent/list_attr_celeba.txt");
    assert!(e.source().unwrap().downcast_ref::<std::io::Error>().is_some());
}

#[test]
fn a_missing_or_undecodable_image_is_named_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let labels = write(dir.path(), "attr.txt", format!("2\n{NAMES}\nfine.png 1 -1 1\nbroken.jpg 1 1 1\n"));
    std::fs::copy(audit_fixture("000005.png"), dir.path().join("fine.png")).unwrap();
    let e = Dataset::from_image_dir(&labels, None, None, dir.path()).unwrap_err();
    assert!(matches!(e, DatasetError::Io { .. }), "{e:?}");
    let broken = dir.path().join("broken.jpg");
    assert_eq!(e.to_string(), format!("cannot read {}", broken.display()));
    chain(&e);
    // With a limit, only the images kept are read: the missing one past it is never opened.
    let d = Dataset::from_image_dir(&labels, None, Some(1), dir.path()).unwrap();
    assert_eq!(
        (d.len(), d.files.as_slice(), d.labels.as_slice()),
        (1, ["fine.png".to_string()].as_slice(), [true, false, true].as_slice())
    );
    // Text named .jpg; a PNG cut short.
    let png = std::fs::read(audit_fixture("000005.png")).unwrap();
    for bytes in [b"GIF89a not ours".as_slice(), &png[..png.len() * 8 / 10]] {
        write(dir.path(), "broken.jpg", bytes);
        let e = Dataset::from_image_dir(&labels, None, None, dir.path()).unwrap_err();
        let line = chain(&e);
        assert!(line.starts_with(&format!("cannot decode {} as a JPEG or PNG image: ", broken.display())), "{line}");
        assert!(e.source().is_none(), "the cause is shown once, in the message");
    }
    // A JPEG cut short, even by its last two bytes: Pillow refuses it, so do we.
    let jpeg = std::fs::read(audit_fixture("000001.jpg")).unwrap();
    for cut in [600, jpeg.len() / 2, jpeg.len() - 2] {
        write(dir.path(), "broken.jpg", &jpeg[..cut]);
        let e = Dataset::from_image_dir(&labels, None, None, dir.path()).unwrap_err();
        assert_eq!(chain(&e), format!("{}: the JPEG ends before its end-of-image marker (truncated)", broken.display()));
    }
}
