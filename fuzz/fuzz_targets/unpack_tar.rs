//! Feeds arbitrary bytes to the archive unpacker as a tar or tar.gz.
//!
//! The first byte picks the options: bit 0 strips one component, bit 1
//! allows absolute symlinks, bits 2–3 pick how the rest is given: as a
//! plain tar, gzip-compressed here (so the tar reader sees the fuzzer's
//! bytes through the decoder), or raw under a `.tar.gz` name (the decoder's
//! error paths).
//!
//! Properties checked on every input, beyond "no panic":
//! - nothing appears in the scratch directory but the archive and `out`;
//! - a failed unpack leaves no `out`;
//! - no symlink in a successful output has an absolute target (unless
//!   allowed) or resolves to a place outside the output, and no entry is
//!   a device or FIFO.

#![no_main]

use std::io::Write;
use std::os::unix::fs::FileTypeExt;
use std::path::Path;

use kiln_store::unpack::{self, Format, UnpackOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let (format, bytes) = match (flags >> 2) & 3 {
        0 | 3 => (Format::Tar, rest.to_vec()),
        1 => (Format::TarGz, gzip(rest)),
        _ => (Format::TarGz, rest.to_vec()),
    };
    let options = UnpackOptions {
        format: Some(format),
        strip_components: Some(usize::from(flags & 1)),
        allow_absolute_symlinks: flags & 2 != 0,
    };
    let temp = scratch();
    let archive = temp.path().join("archive");
    std::fs::write(&archive, &bytes).expect("write the archive");
    let out = temp.path().join("out");
    let result = unpack::unpack(&archive, "archive", &out, &options);
    let mut left: Vec<_> = std::fs::read_dir(temp.path())
        .expect("list the scratch directory")
        .map(|e| e.expect("entry").file_name().into_string().expect("utf-8"))
        .collect();
    left.sort();
    match result {
        Ok(_) => {
            assert_eq!(
                left,
                ["archive", "out"],
                "something appeared beside the output"
            );
            check_tree(&out, &out, options.allow_absolute_symlinks);
        }
        Err(_) => assert_eq!(left, ["archive"], "a failed unpack left files behind"),
    }
});

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(data).expect("compress to a Vec");
    encoder.finish().expect("compress to a Vec")
}

fn scratch() -> tempfile::TempDir {
    // Prefer a RAM-backed directory: the unpacker does real file I/O.
    let base = Path::new("/dev/shm");
    if base.is_dir() {
        tempfile::tempdir_in(base)
    } else {
        tempfile::tempdir()
    }
    .expect("create a scratch directory")
}

/// Walks the output: no special files, no absolute symlink unless
/// allowed, and (when none are allowed, so that resolving stays inside
/// the scratch directory) every symlink that resolves lands inside.
fn check_tree(root: &Path, dir: &Path, allow_absolute: bool) {
    for entry in std::fs::read_dir(dir).expect("list the output") {
        let entry = entry.expect("entry");
        let path = entry.path();
        let kind = entry.file_type().expect("file type");
        assert!(
            !(kind.is_fifo()
                || kind.is_socket()
                || kind.is_block_device()
                || kind.is_char_device()),
            "special file {path:?}"
        );
        if kind.is_dir() {
            check_tree(root, &path, allow_absolute);
        } else if kind.is_symlink() {
            let target = std::fs::read_link(&path).expect("read the link");
            if allow_absolute {
                continue;
            }
            assert!(
                !target.is_absolute(),
                "absolute symlink {path:?} -> {target:?}"
            );
            if let Ok(resolved) = std::fs::canonicalize(&path) {
                let root = std::fs::canonicalize(root).expect("canonical root");
                assert!(
                    resolved.starts_with(&root),
                    "symlink {path:?} -> {target:?} leads to {resolved:?}"
                );
            }
        }
    }
}
