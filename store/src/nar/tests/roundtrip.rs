//! Property tests: random trees survive every path through the module.

use proptest::prelude::*;

use super::model::{self, Tree, arb_tree};
use crate::nar::{Kind, dump, list, unpack};

/// Checks the listing of `tree`'s NAR against the tree itself.
fn check_listing(tree: &Tree, nar: &[u8]) {
    let listing = list(nar).unwrap();
    assert_eq!(listing.nar_size, nar.len() as u64);
    let mut expected = Vec::new();
    flatten(tree, Vec::new(), &mut expected);
    assert_eq!(listing.entries.len(), expected.len());
    for (entry, (path, node)) in listing.entries.iter().zip(&expected) {
        assert_eq!(&entry.path, path);
        match (&entry.kind, node) {
            (
                Kind::Regular {
                    size,
                    executable,
                    offset,
                },
                Tree::Regular {
                    executable: want_executable,
                    contents,
                },
            ) => {
                assert_eq!(*size, contents.len() as u64);
                assert_eq!(executable, want_executable);
                let start = usize::try_from(*offset).unwrap();
                assert_eq!(&nar[start..start + contents.len()], contents.as_slice());
            }
            (Kind::Symlink { target }, Tree::Symlink(want)) => assert_eq!(target, want),
            (Kind::Directory { .. }, Tree::Directory(entries)) => {
                let index = listing.find(&entry.path).unwrap();
                assert_eq!(listing.children(index).count(), entries.len());
            }
            (kind, node) => panic!("{kind:?} listed for {node:?}"),
        }
    }
}

/// Lists every node of `tree` in NAR order with its path.
fn flatten<'a>(tree: &'a Tree, path: Vec<u8>, out: &mut Vec<(Vec<u8>, &'a Tree)>) {
    out.push((path.clone(), tree));
    if let Tree::Directory(entries) = tree {
        for (name, child) in entries {
            let mut child_path = path.clone();
            if !child_path.is_empty() {
                child_path.push(b'/');
            }
            child_path.extend_from_slice(name);
            flatten(child, child_path, out);
        }
    }
}

proptest! {
    #[test]
    fn encode_then_decode(tree in arb_tree()) {
        let nar = model::encode(&tree);
        prop_assert_eq!(model::decode(&nar).unwrap(), tree);
    }

    #[test]
    fn encode_then_list(tree in arb_tree()) {
        check_listing(&tree, &model::encode(&tree));
    }

    #[test]
    fn every_strict_prefix_is_rejected(tree in arb_tree(), cut in any::<prop::sample::Index>()) {
        let nar = model::encode(&tree);
        let len = cut.index(nar.len());
        prop_assert!(crate::nar::validate(&nar[..len]).is_err());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn disk_then_dump_then_unpack(tree in arb_tree()) {
        let temp = tempfile::tempdir().unwrap();
        let source = temp.path().join("source");
        model::create(&tree, &source);
        let mut nar = Vec::new();
        let written = dump(&source, &mut nar).unwrap();
        prop_assert_eq!(written, nar.len() as u64);
        prop_assert_eq!(&nar, &model::encode(&tree));
        let dest = temp.path().join("dest");
        prop_assert_eq!(unpack(nar.as_slice(), &dest).unwrap(), nar.len() as u64);
        prop_assert_eq!(model::read(&dest), tree);
        let leftovers: Vec<_> = std::fs::read_dir(temp.path()).unwrap().collect();
        prop_assert_eq!(leftovers.len(), 2);
    }
}
