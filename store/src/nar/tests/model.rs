//! An in-memory model of a file tree, with conversions to and from NARs and
//! the file system, for round-trip tests.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use proptest::prelude::*;

use crate::nar::{Encoder, Event, ReadError, Reader};

/// A file tree as a NAR describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tree {
    Regular { executable: bool, contents: Vec<u8> },
    Symlink(Vec<u8>),
    Directory(BTreeMap<Vec<u8>, Tree>),
}

/// Returns the NAR of `tree`, written with the [`Encoder`].
pub fn encode(tree: &Tree) -> Vec<u8> {
    let mut encoder = Encoder::new(Vec::new()).unwrap();
    encode_node(&mut encoder, tree);
    encoder.finish().unwrap()
}

fn encode_node(encoder: &mut Encoder<Vec<u8>>, tree: &Tree) {
    match tree {
        Tree::Regular {
            executable,
            contents,
        } => encoder
            .regular(*executable, contents.len() as u64, contents.as_slice())
            .unwrap(),
        Tree::Symlink(target) => encoder.symlink(target).unwrap(),
        Tree::Directory(entries) => {
            encoder.directory_start().unwrap();
            for (name, child) in entries {
                encoder.entry_start(name).unwrap();
                encode_node(encoder, child);
                encoder.entry_end().unwrap();
            }
            encoder.directory_end().unwrap();
        }
    }
}

/// A directory's entries by name.
type Entries = BTreeMap<Vec<u8>, Tree>;

/// Parses a NAR into a tree with the [`Reader`].
pub fn decode(nar: &[u8]) -> Result<Tree, ReadError> {
    let mut reader = Reader::new(nar);
    // The directories being filled, each with the name it will have in its
    // parent.
    let mut open: Vec<(Vec<u8>, Entries)> = Vec::new();
    let mut root = None;
    loop {
        let (path, node) = match reader.next()? {
            None => break,
            Some(Event::Directory { path }) => {
                open.push((name_of(path), BTreeMap::new()));
                continue;
            }
            Some(Event::DirectoryEnd { .. }) => {
                let (name, entries) = open.pop().unwrap();
                (name, Tree::Directory(entries))
            }
            Some(Event::Symlink { path, target }) => {
                (name_of(path), Tree::Symlink(target.to_vec()))
            }
            Some(Event::Regular {
                path,
                executable,
                size,
                ..
            }) => {
                let name = name_of(path);
                let mut contents = vec![0; usize::try_from(size).unwrap()];
                let mut filled = 0;
                while filled < contents.len() {
                    filled += reader.read_contents(&mut contents[filled..])?;
                }
                (
                    name,
                    Tree::Regular {
                        executable,
                        contents,
                    },
                )
            }
        };
        match open.last_mut() {
            Some((_, entries)) => {
                entries.insert(path, node);
            }
            None => root = Some(node),
        }
    }
    Ok(root.unwrap())
}

fn name_of(path: &[u8]) -> Vec<u8> {
    path.rsplit(|&b| b == b'/').next().unwrap().to_vec()
}

/// Creates `tree` at `path` on disk.
pub fn create(tree: &Tree, path: &Path) {
    match tree {
        Tree::Regular {
            executable,
            contents,
        } => {
            std::fs::write(path, contents).unwrap();
            let mode = if *executable { 0o755 } else { 0o644 };
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
        }
        Tree::Symlink(target) => {
            std::os::unix::fs::symlink(OsStr::from_bytes(target), path).unwrap()
        }
        Tree::Directory(entries) => {
            std::fs::create_dir(path).unwrap();
            for (name, child) in entries {
                create(child, &path.join(OsStr::from_bytes(name)));
            }
        }
    }
}

/// Reads the tree at `path` from disk.
pub fn read(path: &Path) -> Tree {
    let meta = std::fs::symlink_metadata(path).unwrap();
    if meta.is_symlink() {
        let target = std::fs::read_link(path).unwrap();
        Tree::Symlink(target.as_os_str().as_bytes().to_vec())
    } else if meta.is_dir() {
        let mut entries = BTreeMap::new();
        for entry in std::fs::read_dir(path).unwrap() {
            let entry = entry.unwrap();
            entries.insert(entry.file_name().as_bytes().to_vec(), read(&entry.path()));
        }
        Tree::Directory(entries)
    } else {
        Tree::Regular {
            executable: meta.permissions().mode() & 0o100 != 0,
            contents: std::fs::read(path).unwrap(),
        }
    }
}

/// Entry names: mostly readable, sometimes any bytes a name may hold.
pub fn arb_name() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => "[a-zA-Z0-9._ -]{1,8}".prop_map(String::into_bytes),
        1 => prop::collection::vec(any::<u8>().prop_filter("no NUL or /", |b| *b != 0 && *b != b'/'), 1..8),
    ]
    .prop_filter("not . or ..", |name| name != b"." && name != b"..")
}

/// Symlink targets: paths, absolute or relative, or arbitrary bytes.
pub fn arb_target() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        "/?[a-z./]{1,20}".prop_map(String::into_bytes),
        prop::collection::vec(1u8..=255, 1..30),
    ]
}

/// Trees up to four levels deep.
pub fn arb_tree() -> impl Strategy<Value = Tree> {
    let leaf = prop_oneof![
        (any::<bool>(), prop::collection::vec(any::<u8>(), 0..200)).prop_map(
            |(executable, contents)| {
                Tree::Regular {
                    executable,
                    contents,
                }
            }
        ),
        arb_target().prop_map(Tree::Symlink),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop::collection::btree_map(arb_name(), inner, 0..8).prop_map(Tree::Directory)
    })
}
