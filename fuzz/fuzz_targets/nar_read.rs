//! Feeds arbitrary bytes to the NAR reader, lister and unpacker.
//!
//! Properties checked on every input, beyond "no panic":
//! - `validate` and `list` agree on whether the NAR is valid;
//! - a valid NAR's listing covers the whole input, and every file's
//!   contents lie inside it;
//! - `unpack` fails on every invalid NAR and leaves nothing behind;
//! - a valid NAR that unpacks dumps back to exactly the same bytes.

#![no_main]

use std::path::Path;

use kiln_store::nar::{self, Kind};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let valid = nar::validate(data);
    let listing = nar::list(data);
    assert_eq!(valid.is_ok(), listing.is_ok(), "validate and list disagree");
    if let Ok(listing) = &listing {
        check_listing(listing, data.len() as u64);
    }
    check_unpack(data, valid.is_ok());
});

fn check_listing(listing: &nar::Listing, len: u64) {
    assert_eq!(listing.nar_size, len);
    for entry in &listing.entries {
        if let Kind::Regular { size, offset, .. } = entry.kind {
            assert!(offset + size <= len, "contents past the end");
        }
    }
    let mut json = Vec::new();
    listing
        .write_json(0, true, &mut json)
        .expect("write to a Vec");
}

fn check_unpack(data: &[u8], valid: bool) {
    // Prefer a RAM-backed directory: the unpacker does real file I/O.
    let base = Path::new("/dev/shm");
    let temp = if base.is_dir() {
        tempfile::tempdir_in(base)
    } else {
        tempfile::tempdir()
    }
    .expect("create a temporary directory");
    let dest = temp.path().join("out");
    match nar::unpack(data, &dest) {
        Ok(len) => {
            assert!(valid, "unpack accepted an invalid NAR");
            assert_eq!(len, data.len() as u64);
            let mut again = Vec::new();
            nar::dump(&dest, &mut again).expect("dump the unpacked tree");
            assert!(again == data, "unpack then dump changed the bytes");
        }
        Err(_) => {
            let left = std::fs::read_dir(temp.path()).expect("list the temporary directory");
            assert_eq!(left.count(), 0, "a failed unpack left files behind");
        }
    }
}
