//! [`dump_prefetching`] against [`dump`]: the same bytes for every tree,
//! the same first error, and no hang when the output fails.

use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use proptest::prelude::*;

use super::model::{self, arb_tree};
use crate::nar::prefetch::read_batch_for_test;
use crate::nar::{Buffered, WriteError, dump, dump_prefetching};

fn prefetched(path: &Path) -> Result<Vec<u8>, WriteError> {
    let mut nar = Vec::new();
    let written = dump_prefetching(path, Buffered::new(&mut nar))?;
    assert_eq!(written, nar.len() as u64);
    Ok(nar)
}

fn dumped(path: &Path) -> Vec<u8> {
    let mut nar = Vec::new();
    dump(path, &mut nar).unwrap();
    nar
}

/// Writes `count` files of `size` bytes (contents from their index) into
/// `dir`, every seventh executable.
fn files(dir: &Path, count: usize, size: usize) {
    std::fs::create_dir_all(dir).unwrap();
    for i in 0..count {
        let path = dir.join(format!("f{i:05}"));
        let byte = (i % 251) as u8;
        std::fs::write(&path, vec![byte; size]).unwrap();
        if i % 7 == 0 {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn same_bytes_as_dump(tree in arb_tree()) {
        let temp = tempfile::tempdir().unwrap();
        let source = temp.path().join("source");
        model::create(&tree, &source);
        prop_assert_eq!(prefetched(&source).unwrap(), model::encode(&tree));
    }
}

#[test]
fn more_small_files_than_the_budget_holds_and_large_ones_between() {
    // 96 MiB of small files (over the 64 MiB read-ahead budget), in
    // batches closed both by count and by size, around large files.
    let temp = tempfile::tempdir().unwrap();
    let root = temp.path().join("tree");
    files(&root.join("a-many"), 3000, 1000);
    files(&root.join("b-large"), 3, 3 << 20);
    files(&root.join("c-budget"), 400, 250 * 1024);
    files(&root.join("d-empty"), 100, 0);
    std::os::unix::fs::symlink("a-many/f00001", root.join("e-link")).unwrap();
    std::fs::create_dir_all(root.join("f-empty-dir")).unwrap();
    assert_eq!(prefetched(&root).unwrap(), dumped(&root));
}

#[test]
fn a_single_file_or_symlink_as_the_root() {
    let temp = tempfile::tempdir().unwrap();
    let small = temp.path().join("small");
    std::fs::write(&small, b"hello").unwrap();
    let large = temp.path().join("large");
    std::fs::write(&large, vec![7u8; 1 << 20]).unwrap();
    let link = temp.path().join("link");
    std::os::unix::fs::symlink("/nowhere", &link).unwrap();
    for path in [&small, &large, &link] {
        assert_eq!(prefetched(path).unwrap(), dumped(path));
    }
}

#[test]
fn the_first_error_in_nar_order_is_reported() {
    let temp = tempfile::tempdir().unwrap();
    let root = temp.path().join("tree");
    files(&root.join("a"), 500, 100);
    let fifo = root.join("b-fifo");
    rustix::fs::mknodat(
        rustix::fs::CWD,
        &fifo,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o644),
        0,
    )
    .unwrap();
    files(&root.join("c"), 500, 100);
    match prefetched(&root) {
        Err(WriteError::Unsupported { path, kind }) => {
            assert_eq!(path, fifo);
            assert_eq!(kind, "FIFO");
        }
        other => panic!("expected the FIFO to be refused, got {other:?}"),
    }
    let missing = temp.path().join("missing");
    assert!(matches!(prefetched(&missing), Err(WriteError::Input(_))));
}

/// A writer that fails once it has taken `left` bytes.
struct FailAfter {
    left: usize,
}

impl Write for FailAfter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if data.len() > self.left {
            return Err(io::Error::other("disk full"));
        }
        self.left -= data.len();
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_failing_output_stops_every_thread() {
    let temp = tempfile::tempdir().unwrap();
    let root = temp.path().join("tree");
    files(&root.join("a"), 2000, 40 * 1024);
    for left in [0, 100_000, 10 << 20] {
        let result = dump_prefetching(&root, Buffered::new(FailAfter { left }));
        assert!(
            matches!(result, Err(WriteError::Output(_))),
            "{left}: {result:?}"
        );
    }
}

#[test]
fn a_file_shorter_than_listed_is_reported() {
    let temp = tempfile::tempdir().unwrap();
    let short = temp.path().join("short");
    std::fs::write(&short, b"abc").unwrap();
    let whole = temp.path().join("whole");
    std::fs::write(&whole, b"defg").unwrap();
    let (data, files, error) = read_batch_for_test(&[(&whole, 4), (&short, 10), (&whole, 4)]);
    assert_eq!(data, b"defgabc");
    assert_eq!(files, 1);
    match error {
        Some(WriteError::FileChanged {
            path,
            expected,
            got,
        }) => {
            assert_eq!((path, expected, got), (short, 10, 3));
        }
        other => panic!("expected FileChanged, got {other:?}"),
    }
}
