//! The known-good NARs in `store/tests/fixtures/nar/good/`, written by the
//! real Nix 2.8 (`make.sh` there): each must validate, list exactly as
//! `nix nar ls --json -R` did, and re-encode to the same bytes.

use std::path::Path;

use super::model;
use crate::nar::{list, validate};

fn fixtures() -> Vec<(String, Vec<u8>, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/nar/good");
    let mut found = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|ext| ext == "nar") {
            let nar = std::fs::read(&path).unwrap();
            let json = std::fs::read(path.with_extension("ls.json")).unwrap();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            found.push((name, nar, json));
        }
    }
    assert!(found.len() >= 6, "missing fixtures in {}", dir.display());
    found
}

#[test]
fn nix_nars_validate_and_round_trip() {
    for (name, nar, _) in fixtures() {
        assert_eq!(
            validate(nar.as_slice()).unwrap(),
            nar.len() as u64,
            "{name}"
        );
        let tree = model::decode(&nar).unwrap();
        assert_eq!(model::encode(&tree), nar, "{name}");
    }
}

#[test]
fn listing_json_matches_nix() {
    for (name, nar, json) in fixtures() {
        let listing = list(nar.as_slice()).unwrap();
        let mut ours = Vec::new();
        listing.write_json(0, true, &mut ours).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&ours),
            String::from_utf8_lossy(&json),
            "{name}"
        );
    }
}
