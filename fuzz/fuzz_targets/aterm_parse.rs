//! Feeds arbitrary bytes to the derivation (ATerm) parser. Whatever parses
//! must print back to the same bytes (the parser only accepts Nix's
//! canonical form), parse again to the same value, and have computable
//! paths; nothing may panic.
#![no_main]

use kiln_store::derivation::{Derivation, DrvHashes};
use kiln_store::store_path::StoreDir;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let store_dir = StoreDir::default();
    let Ok(drv) = Derivation::parse(data, &store_dir) else {
        return;
    };
    let printed = drv.to_aterm(&store_dir);
    assert_eq!(printed.as_bytes(), data, "a parsed derivation must print back identically");
    let again = Derivation::parse(printed.as_bytes(), &store_dir).expect("printed derivation parses");
    assert_eq!(again, drv);
    let _ = drv.drv_path(&store_dir);
    let _ = drv.to_json(&store_dir);
    let mut filled = drv.clone();
    let _ = filled.fill_output_paths(&store_dir, &DrvHashes::new());
});
