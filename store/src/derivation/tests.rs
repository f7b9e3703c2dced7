use super::*;

/// A derivation printed by Nix 2.8's `nix-instantiate`: two outputs, an
/// input derivation (fixed-output), an input source, escapes in an argument.
const NIX_DRV: &str = r#"Derive([("dev","/nix/store/m4wxdwih2ypcbvvi1zcpc3j7mxfr2bqg-x-dev","",""),("out","/nix/store/5k7q4n64ikiail6kb53mr2zb51f7466r-x","","")],[("/nix/store/y241m127df171081azcyfdp1ar5sz4r9-a.drv",["out"])],["/nix/store/qs2vcw1sd6lzsvgvq6gggnw1v31qrm28-hi.txt"],"x86_64-linux","/bin/sh",["-c","echo \"\n\t\\ /nix/store/vvg4vb767vrnsqhb7ih58v4a5gq4iyy4-a"],[("builder","/bin/sh"),("dev","/nix/store/m4wxdwih2ypcbvvi1zcpc3j7mxfr2bqg-x-dev"),("name","x"),("out","/nix/store/5k7q4n64ikiail6kb53mr2zb51f7466r-x"),("outputs","out dev"),("src","/nix/store/qs2vcw1sd6lzsvgvq6gggnw1v31qrm28-hi.txt"),("system","x86_64-linux")])"#;
const INPUT_DRV: &str = r#"Derive([("out","/nix/store/vvg4vb767vrnsqhb7ih58v4a5gq4iyy4-a","r:sha256","e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")],[],[],"x86_64-linux","/bin/sh",[],[("builder","/bin/sh"),("name","a"),("out","/nix/store/vvg4vb767vrnsqhb7ih58v4a5gq4iyy4-a"),("outputHash","sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="),("outputHashMode","recursive"),("system","x86_64-linux")])"#;

fn dir() -> StoreDir {
    StoreDir::default()
}

#[test]
fn round_trips_nix_output() {
    for text in [NIX_DRV, INPUT_DRV] {
        let drv = Derivation::parse(text.as_bytes(), &dir()).unwrap();
        assert_eq!(drv.to_aterm(&dir()), text);
    }
}

#[test]
fn computes_paths_like_nix() {
    let input = Derivation::parse(INPUT_DRV.as_bytes(), &dir()).unwrap();
    let input_path = input.drv_path(&dir()).unwrap();
    assert_eq!(
        dir().display(&input_path),
        "/nix/store/y241m127df171081azcyfdp1ar5sz4r9-a.drv"
    );
    let mut hashes = DrvHashes::new();
    hashes.insert(input_path, &input, &dir()).unwrap();

    let drv = Derivation::parse(NIX_DRV.as_bytes(), &dir()).unwrap();
    assert_eq!(
        dir().display(&drv.drv_path(&dir()).unwrap()),
        "/nix/store/yh78858mr7gbd5d8d090p3kza824q78i-x.drv"
    );
    let mut recomputed = drv.clone();
    recomputed.fill_output_paths(&dir(), &hashes).unwrap();
    assert_eq!(recomputed, drv);

    let mut fixed = input.clone();
    fixed.fill_output_paths(&dir(), &hashes).unwrap();
    assert_eq!(fixed, input);
}

#[test]
fn rejects_malformed_input() {
    let cases: &[(&str, &str)] = &[
        ("", "ends unexpectedly at byte 0"),
        ("Derive(", "ends unexpectedly at byte 7"),
        (
            "Derivx([],[],[],\"\",\"\",[],[])",
            "expected `Derive(` at byte 0",
        ),
        (
            "Derive([],[],[],\"\",\"\",[],[])x",
            "unexpected data after the derivation at byte 28",
        ),
        (
            "Derive([],[],[\"/tmp/x\"],\"\",\"\",[],[])",
            "not a valid store path",
        ),
        (
            "Derive([],[],[],\"\",\"\",[],[(\"b\",\"\"),(\"a\",\"\")])",
            "environment variable `a`",
        ),
        (
            "Derive([],[],[],\"\",\"\",[],[(\"a\",\"\"),(\"a\",\"\")])",
            "out of order or repeated",
        ),
        (
            "Derive([(\"out\",\"\",\"sha256\",\"zz\")],[],[],\"\",\"\",[],[])",
            "invalid hash",
        ),
        (
            "Derive([(\"out\",\"\",\"r:sha256\",\"\")],[],[],\"\",\"\",[],[])",
            "content-addressed",
        ),
        (
            "Derive([],[],[],\"\",\"\",[\"a\" ],[])",
            "expected `,` or `]`",
        ),
        (
            "Derive([],[],[],\"a\rb\",\"\",[],[])",
            "string at byte 18 is not in Nix's canonical form",
        ),
        (
            "Derive([],[],[],\"a\\qb\",\"\",[],[])",
            "string at byte 18 is not in Nix's canonical form",
        ),
    ];
    for (text, message) in cases {
        let err = Derivation::parse(text.as_bytes(), &dir())
            .unwrap_err()
            .to_string();
        assert!(err.contains(message), "{text:?}: {err}");
    }
}

#[test]
fn rejects_non_utf8() {
    let err = Derivation::parse(b"Derive([],[],[],\"\xff\",\"\",[],[])", &dir()).unwrap_err();
    assert_eq!(err.to_string(), "string at byte 16 is not valid UTF-8");
}

#[test]
fn json_matches_show_derivation_shape() {
    let drv = Derivation::parse(INPUT_DRV.as_bytes(), &dir()).unwrap();
    let json = drv.to_json(&dir());
    assert_eq!(json["outputs"]["out"]["hashAlgo"], "r:sha256");
    assert_eq!(json["inputDrvs"], serde_json::json!({}));
    assert_eq!(json["env"]["name"], "a");
}

/// The `.drv` files in `tests/fixtures/drv/`, as (file name, bytes,
/// parsed derivation).
fn nix_fixtures() -> Vec<(String, Vec<u8>, Derivation)> {
    let dir_path = std::path::Path::new(FIXTURES);
    let mut all = Vec::new();
    for entry in std::fs::read_dir(dir_path).unwrap() {
        let file = entry.unwrap().path();
        let name = file.file_name().unwrap().to_str().unwrap().to_owned();
        let bytes = std::fs::read(&file).unwrap();
        let drv = Derivation::parse(&bytes, &dir()).unwrap_or_else(|e| panic!("{name}: {e}"));
        all.push((name, bytes, drv));
    }
    all
}

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/drv");

/// Reads a fixture by its store path, for `DrvHashes::insert_closure`.
fn read_fixture(path: &StorePath) -> Result<Derivation, String> {
    let file = std::path::Path::new(FIXTURES).join(path.base_name());
    let bytes = std::fs::read(file).map_err(|e| e.to_string())?;
    Derivation::parse(&bytes, &dir()).map_err(|e| e.to_string())
}

/// Every `.drv` in `tests/fixtures/drv/` was written by Nix 2.8's
/// `nix-instantiate` (from `tests/fixtures/derivations.nix` at the root):
/// each must re-print to the same bytes, hash to its own file name, and
/// recompute its output paths.
#[test]
fn nix_fixtures_round_trip_and_hash() {
    let mut hashes = DrvHashes::new();
    let fixtures = nix_fixtures();
    for (name, bytes, drv) in &fixtures {
        assert_eq!(drv.to_aterm(&dir()).as_bytes(), &bytes[..], "{name}");
        let path = drv.drv_path(&dir()).unwrap();
        assert_eq!(&path.base_name(), name);
        hashes.insert_closure(&path, &dir(), read_fixture).unwrap();
        let mut blanked = drv.clone();
        blanked.fill_output_paths(&dir(), &hashes).unwrap();
        assert_eq!(&blanked, drv, "{name}");
    }
    assert!(fixtures.len() >= 30, "only {} fixtures", fixtures.len());
}

/// The hash modulo taken from a derivation's own ATerm equals the one
/// written out in full, for every fixture (inputs, fixed outputs, several
/// outputs, escapes).
#[test]
fn hash_modulo_of_the_aterm_equals_the_written_one() {
    let mut hashes = DrvHashes::new();
    let mut with_inputs = 0;
    for (name, bytes, drv) in nix_fixtures() {
        let path = drv.drv_path(&dir()).unwrap();
        hashes.insert_closure(&path, &dir(), read_fixture).unwrap();
        let aterm = drv.to_split_aterm(&dir());
        assert_eq!(aterm.text().as_bytes(), &bytes[..], "{name}");
        assert_eq!(
            hash_modulo_of_aterm(&drv, &aterm, &dir(), &hashes).unwrap(),
            hash_modulo(&drv, &dir(), &hashes, false).unwrap(),
            "{name}"
        );
        with_inputs += usize::from(!drv.input_drvs.is_empty());
    }
    assert!(with_inputs >= 5, "only {with_inputs} fixtures with inputs");
}

/// Writing the text once, masked, and filling the paths in afterwards
/// gives every fixture's bytes exactly, and the same hash modulo as
/// computing it in full (several outputs, escapes, fixed outputs, inputs).
#[test]
fn text_filled_in_from_the_masked_one_is_nixs() {
    let mut hashes = DrvHashes::new();
    let mut several_outputs = 0;
    for (name, bytes, drv) in nix_fixtures() {
        let path = drv.drv_path(&dir()).unwrap();
        hashes.insert_closure(&path, &dir(), read_fixture).unwrap();
        let mut blank = drv.clone();
        for output in blank.outputs.values_mut() {
            output.path = None;
        }
        let drv_name = drv.name().unwrap_or_default().to_owned();
        let (aterm, hash) = blank
            .fill_output_paths_and_aterm(&dir(), &hashes, &drv_name)
            .unwrap();
        assert_eq!(aterm.text().as_bytes(), &bytes[..], "{name}");
        assert_eq!(blank, drv, "{name}");
        assert_eq!(
            hash,
            hash_modulo(&drv, &dir(), &hashes, false).unwrap(),
            "{name}"
        );
        assert_eq!(
            hash,
            hash_modulo_of_aterm(&drv, &aterm, &dir(), &hashes).unwrap(),
            "{name}: the text's input positions"
        );
        several_outputs += usize::from(drv.outputs.len() > 1);
    }
    assert!(
        several_outputs >= 2,
        "only {several_outputs} fixtures with several outputs"
    );
}

#[test]
fn strings_escape_like_a_byte_at_a_time_reference() {
    fn reference(text: &str) -> String {
        let mut out = String::from("\"");
        for c in text.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c => out.push(c),
            }
        }
        out.push('"');
        out
    }
    let pieces = [
        "",
        "a",
        "é",
        "\"",
        "\\",
        "\n",
        "\r",
        "\t",
        "plain text longer than a word",
        "/nix/store",
    ];
    // Every sequence of up to three pieces: escapes first, last, adjacent,
    // rare before common and common before rare.
    for a in pieces {
        for b in pieces {
            for c in pieces {
                let text = format!("{a}{b}{c}");
                let mut out = String::new();
                super::aterm::write_string(&mut out, &text);
                assert_eq!(out, reference(&text), "{text:?}");
            }
        }
    }
}
