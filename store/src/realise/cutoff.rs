//! Early cutoff: a derivation whose inputs have the same *contents* as
//! those of a derivation built here before is not built again; its
//! outputs are that build's outputs, copied to the new paths.
//!
//! Store paths are input-addressed: a derivation's output paths change
//! whenever any input's path changes, even when the input's contents do
//! not (a crate rebuilt byte for byte after an edit that did not touch it,
//! a source tree whose unused files changed). Without cutoff everything
//! downstream of such an input is rebuilt.
//!
//! The *cutoff key* of a derivation is its ATerm with every input
//! derivation's output path replaced by that output's *content id* and
//! its own output paths blanked, plus the sorted content ids of its
//! inputs. A content id is the output's NAR hash, folded to 32 nixbase32
//! characters; for an output that refers to store paths, the NAR is hashed
//! with its own hash part zeroed (a build script's output names its own
//! path) and each other reference's hash part replaced by that
//! reference's content id (a build script's output names the source tree
//! it was run in). Equal keys
//! mean: the same builder, arguments and environment, run on inputs with
//! the same bytes — in kiln's sandbox, the same build.
//!
//! After each sandboxed build, `ROOT/cutoff/keys/<key>` records the
//! derivation and its outputs. Before a build, a recorded key whose
//! outputs are still valid is reused: each output is copied to its new
//! path (files by hard link, store files being read-only), the old output
//! paths' hash parts in file contents, names and symlink targets replaced
//! by the new ones, then registered as a build's output would be. An
//! earlier output is reused only when every path it refers to is one of
//! those outputs, in the new build's input closure, or an earlier input
//! whose contents the new build has at another path (rewritten to that
//! path, as the new build would have written it); otherwise the
//! derivation is built.
//!
//! All of this is advisory: a key that cannot be computed, a record that
//! cannot be read or a copy that fails means the derivation is built.
//! Fixed-output derivations and built-in builders are never reused (they
//! are addressed by their contents already).

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Write};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use crate::derivation::Derivation;
use crate::hash::{Hash, HashAlgo, Hasher, nixbase32};
use crate::nar;
use crate::store::Store;
use crate::store_path::StorePath;

use super::PendingOutput;

/// The length of a store path's hash part.
const HASH_PART: usize = 32;
/// What a derivation's own output hash parts become in its key.
const OWN_OUTPUT: &str = "00000000000000000000000000000000";

/// A derivation's cutoff key (nixbase32 of a SHA-256), and the paths of
/// its inputs by content (`<content id>-<name>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    text: String,
    inputs: BTreeMap<String, StorePath>,
}

impl Key {
    /// Returns the key's text.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// An earlier build with the same key whose outputs are valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Earlier {
    /// Its derivation.
    pub drv: StorePath,
    /// Its outputs by name.
    pub outputs: BTreeMap<String, StorePath>,
    /// Its inputs' paths by content (`<content id>-<name>`).
    pub inputs: BTreeMap<String, StorePath>,
}

/// Returns the cutoff key of `drv`, whose inputs (its sources and the
/// used outputs of its input derivations, as the scheduler resolved them)
/// are `inputs`; `None` when it cannot be reused (a fixed output, a
/// built-in builder) or its key cannot be computed.
pub fn key(store: &Store, drv: &Derivation, inputs: &BTreeSet<StorePath>) -> Option<Key> {
    if drv.fixed_output().is_some() || crate::builtins::Builtins::is_builtin(&drv.builder) {
        return None;
    }
    let mut ids: BTreeMap<String, String> = BTreeMap::new();
    let mut by_content: BTreeMap<String, StorePath> = BTreeMap::new();
    for path in inputs.difference(&drv.input_srcs) {
        let id = content_id(store, path)?;
        ids.insert(path.hash_part().to_owned(), id.clone());
        by_content.insert(format!("{id}-{}", path.name()), path.clone());
    }
    let mut masked = drv.clone();
    masked.input_drvs.clear();
    for output in masked.outputs.values_mut() {
        if let Some(path) = output.path.take() {
            ids.insert(path.hash_part().to_owned(), OWN_OUTPUT.to_owned());
        }
    }
    let mut text = replace_hash_parts(&masked.to_aterm(store.store_dir()), &ids);
    for input in by_content.keys() {
        text.push('\n');
        text.push_str(input);
    }
    Some(Key {
        text: nixbase32::encode(Hash::sha256(text).as_bytes()),
        inputs: by_content,
    })
}

/// Returns the earlier build recorded under `key`, if its outputs are all
/// still valid and named as `outputs` are.
pub fn lookup(store: &Store, key: &Key, outputs: &[(String, StorePath)]) -> Option<Earlier> {
    let text = std::fs::read_to_string(record_file(store, key)).ok()?;
    let earlier = Earlier::parse(&text)?;
    let same_names = earlier.outputs.len() == outputs.len()
        && outputs.iter().all(|(name, path)| {
            earlier
                .outputs
                .get(name)
                .is_some_and(|old| old.name() == path.name() && old != path)
        });
    if !same_names {
        return None;
    }
    for path in earlier.outputs.values() {
        if !store.is_valid(path).ok()? {
            return None;
        }
    }
    Some(earlier)
}

impl Earlier {
    /// Reads a record: `drv <path>`, then `output <name> <path>` and
    /// `input <content id>-<name> <path>` lines (base names).
    fn parse(text: &str) -> Option<Earlier> {
        let mut lines = text.lines();
        let drv = StorePath::from_base_name(lines.next()?.strip_prefix("drv ")?).ok()?;
        let mut earlier = BTreeMap::new();
        let mut inputs = BTreeMap::new();
        for line in lines {
            let (kind, rest) = line.split_once(' ')?;
            let (name, path) = rest.split_once(' ')?;
            let path = StorePath::from_base_name(path).ok()?;
            match kind {
                "output" => earlier.insert(name.to_owned(), path),
                "input" => inputs.insert(name.to_owned(), path),
                _ => return None,
            };
        }
        Some(Earlier {
            drv,
            outputs: earlier,
            inputs,
        })
    }
}

/// Records that `drv`, whose key is `key`, built `outputs`.
pub fn record(
    store: &Store,
    key: &Key,
    drv: &StorePath,
    outputs: &[(String, StorePath)],
) -> io::Result<()> {
    let mut text = format!("drv {}\n", drv.base_name());
    for (name, path) in outputs {
        text.push_str(&format!("output {name} {}\n", path.base_name()));
    }
    for (id, path) in &key.inputs {
        text.push_str(&format!("input {id} {}\n", path.base_name()));
    }
    super::replace_file(&store.layout().cutoff_keys(), key.as_str(), &text)
}

/// Removes the records that name one of `dead` (deleted paths) as an
/// output, and the cached content ids of `dead`. Advisory: what cannot be
/// removed stays, and is ignored once its paths are invalid.
pub fn prune(store: &Store, dead: &BTreeSet<StorePath>) {
    for path in dead {
        let _ = std::fs::remove_file(store.layout().cutoff_content().join(path.base_name()));
    }
    let Ok(records) = std::fs::read_dir(store.layout().cutoff_keys()) else {
        return;
    };
    for record in records.flatten() {
        let names_dead = std::fs::read_to_string(record.path())
            .ok()
            .and_then(|text| Earlier::parse(&text))
            .is_some_and(|earlier| earlier.outputs.values().any(|path| dead.contains(path)));
        if names_dead {
            let _ = std::fs::remove_file(record.path());
        }
    }
}

/// Copies the earlier build's outputs to `outputs`' paths under `work`,
/// ready to be registered; `None` when an earlier output refers to a path
/// the new build could not refer to, or the copy fails (what was copied is
/// then removed).
///
/// An earlier output may refer to itself, to its sibling outputs, to
/// paths in the new build's input closure, and to an input of the earlier
/// build whose contents the new build has as an input at another path:
/// those references are rewritten to the new paths, as the new build
/// would have written them.
pub fn copy_earlier(
    store: &Store,
    key: &Key,
    earlier: &Earlier,
    outputs: &[(String, StorePath)],
    closure: &BTreeSet<StorePath>,
    work: &Path,
) -> Option<Vec<PendingOutput>> {
    let mut moved: BTreeMap<&StorePath, &StorePath> = BTreeMap::new();
    for (name, path) in outputs {
        moved.insert(earlier.outputs.get(name)?, path);
    }
    for (id, old) in &earlier.inputs {
        if let Some(new) = key.inputs.get(id) {
            moved.entry(old).or_insert(new);
        }
    }
    let mut pairs: Vec<([u8; HASH_PART], [u8; HASH_PART])> = Vec::new();
    for old in earlier.outputs.values() {
        for reference in store.db().references(old).ok()? {
            if let Some(new) = moved.get(&reference) {
                let pair = (hash_bytes(&reference)?, hash_bytes(new)?);
                if pair.0 != pair.1 && !pairs.contains(&pair) {
                    pairs.push(pair);
                }
            } else if !closure.contains(&reference) {
                return None;
            }
        }
    }
    let rewriter = Rewriter { pairs };
    fs_err::create_dir_all(work).ok()?;
    let mut pending = Vec::new();
    for (name, path) in outputs {
        let old = earlier.outputs.get(name)?;
        let tmp = work.join(path.base_name());
        if let Err(_error) = rewriter.copy_tree(&store.physical(old), &tmp) {
            let _ = crate::store::cleanup::remove_tree(work);
            return None;
        }
        pending.push(PendingOutput {
            path: path.clone(),
            tmp,
            fixed: None,
        });
    }
    Some(pending)
}

fn record_file(store: &Store, key: &Key) -> PathBuf {
    store.layout().cutoff_keys().join(key.as_str())
}

fn hash_bytes(path: &StorePath) -> Option<[u8; HASH_PART]> {
    path.hash_part().as_bytes().try_into().ok()
}

/// Replaces every occurrence of a key of `ids` (a hash part) in `text`.
fn replace_hash_parts(text: &str, ids: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while rest.len() >= HASH_PART {
        let candidate = rest.get(..HASH_PART);
        if let Some(id) = candidate.and_then(|c| ids.get(c)) {
            out.push_str(id);
            rest = &rest[HASH_PART..];
            continue;
        }
        let mut chars = rest.chars();
        if let Some(c) = chars.next() {
            out.push(c);
        }
        rest = chars.as_str();
    }
    out.push_str(rest);
    out
}

/// Returns the content id of a valid path, folded to 20 bytes: its NAR
/// hash when it refers to no store path; otherwise the hash of its NAR
/// with its own hash part zeroed and each other reference's hash part
/// replaced by that reference's content id (computed first, and cached in
/// `ROOT/cutoff/content/`). Two outputs that differ only in the paths of
/// references with the same contents have the same content id.
fn content_id(store: &Store, path: &StorePath) -> Option<String> {
    let info = store.db().path_info(path).ok()??;
    let hash = if info.references.is_empty() {
        info.nar_hash
    } else {
        references_free_hash(store, &info)?
    };
    Some(nixbase32::encode(&hash.compress::<20>()))
}

/// The SHA-256 of a path's NAR with its references replaced as
/// [`content_id`] says. Cached with the path's registration time and NAR
/// hash: a path registered again (after a collection) is hashed again, and
/// so are those referring to it, which were collected before it.
fn references_free_hash(store: &Store, info: &crate::db::PathInfo) -> Option<Hash> {
    let path = &info.path;
    let cache = store.layout().cutoff_content().join(path.base_name());
    let stamp = format!("{} {}", info.registration_time, info.nar_hash.to_sri());
    let cached = std::fs::read_to_string(&cache).ok().and_then(|text| {
        let (cached_stamp, hash) = text.trim().rsplit_once(' ')?;
        (cached_stamp == stamp)
            .then(|| Hash::parse(hash, Some(HashAlgo::Sha256)).ok())
            .flatten()
    });
    if cached.is_some() {
        return cached;
    }
    let mut pairs = Vec::with_capacity(info.references.len());
    for reference in &info.references {
        let to: [u8; HASH_PART] = if reference == path {
            [b'0'; HASH_PART]
        } else {
            content_id(store, reference)?.as_bytes().try_into().ok()?
        };
        pairs.push((hash_bytes(reference)?, to));
    }
    let mut writer = RewritingWriter::new(Hasher::new(HashAlgo::Sha256), pairs);
    nar::dump(&store.physical(path), &mut writer).ok()?;
    let hash = writer.finish().ok()?.finish();
    let _ = super::replace_file(
        &store.layout().cutoff_content(),
        &path.base_name(),
        &format!("{stamp} {}\n", hash.to_sri()),
    );
    Some(hash)
}

/// Copies trees, replacing hash parts.
struct Rewriter {
    /// (old, new) hash parts; empty: nothing to replace, files are linked.
    pairs: Vec<([u8; HASH_PART], [u8; HASH_PART])>,
}

/// Replaces, in place, every occurrence of each pair's first hash part by
/// its second, pair after pair; returns whether anything was replaced.
fn replace_pairs(bytes: &mut [u8], pairs: &[([u8; HASH_PART], [u8; HASH_PART])]) -> bool {
    let mut replaced = false;
    for (from, to) in pairs {
        let mut start = 0;
        while let Some(at) = bytes
            .get(start..)
            .and_then(|rest| memchr::memmem::find(rest, from))
        {
            let at = start + at;
            bytes[at..at + HASH_PART].copy_from_slice(to);
            start = at + HASH_PART;
            replaced = true;
        }
    }
    replaced
}

impl Rewriter {
    /// `bytes` (a name or a link's target) with the hash parts replaced.
    fn rewrite(&self, bytes: &[u8]) -> std::ffi::OsString {
        let mut out = bytes.to_vec();
        replace_pairs(&mut out, &self.pairs);
        std::ffi::OsString::from_vec(out)
    }

    fn copy_tree(&self, from: &Path, to: &Path) -> io::Result<()> {
        let meta = std::fs::symlink_metadata(from)?;
        if meta.file_type().is_symlink() {
            let target = std::fs::read_link(from)?;
            return std::os::unix::fs::symlink(self.rewrite(target.as_os_str().as_bytes()), to);
        }
        if meta.is_dir() {
            fs_err::create_dir(to)?;
            for entry in fs_err::read_dir(from)? {
                let name = entry?.file_name();
                self.copy_tree(&from.join(&name), &to.join(self.rewrite(name.as_bytes())))?;
            }
            return Ok(());
        }
        if !self.pairs.is_empty() {
            let mut contents = fs_err::read(from)?;
            if replace_pairs(&mut contents, &self.pairs) {
                fs_err::write(to, contents)?;
                return fs_err::set_permissions(to, meta.permissions());
            }
        }
        if std::fs::hard_link(from, to).is_err() {
            fs_err::copy(from, to)?;
        }
        Ok(())
    }
}

/// A writer that replaces 32-byte strings by others on the way through,
/// across write boundaries.
struct RewritingWriter<W> {
    inner: W,
    pairs: Vec<([u8; HASH_PART], [u8; HASH_PART])>,
    pending: Vec<u8>,
}

impl<W: Write> RewritingWriter<W> {
    fn new(inner: W, pairs: Vec<([u8; HASH_PART], [u8; HASH_PART])>) -> Self {
        RewritingWriter {
            inner,
            pairs,
            pending: Vec::new(),
        }
    }

    /// Writes what is held back and returns the inner writer.
    fn finish(mut self) -> io::Result<W> {
        self.replace_pending();
        self.inner.write_all(&self.pending)?;
        Ok(self.inner)
    }

    fn replace_pending(&mut self) {
        replace_pairs(&mut self.pending, &self.pairs);
    }
}

impl<W: Write> Write for RewritingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.pending.extend_from_slice(buf);
        self.replace_pending();
        // Keep back what could be the start of a match.
        let keep = HASH_PART - 1;
        if self.pending.len() > keep {
            let ready = self.pending.len() - keep;
            self.inner.write_all(&self.pending[..ready])?;
            self.pending.drain(..ready);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rewriting_writer_replaces_across_writes() {
        let from = *b"abcdefghijklmnopqrstuvwxyz012345";
        let to = [b'0'; HASH_PART];
        let text =
            b"x/nix/store/abcdefghijklmnopqrstuvwxyz012345-a abcdefghijklmnopqrstuvwxyz012345";
        for split in 0..text.len() {
            let mut writer = RewritingWriter::new(Vec::new(), vec![(from, to)]);
            writer.write_all(&text[..split]).unwrap();
            writer.write_all(&text[split..]).unwrap();
            let out = writer.finish().unwrap();
            assert_eq!(
                out,
                b"x/nix/store/00000000000000000000000000000000-a 00000000000000000000000000000000"
                    .to_vec(),
                "split at {split}"
            );
        }
    }

    #[test]
    fn hash_parts_are_replaced_where_they_occur() {
        let ids: BTreeMap<String, String> = [(
            "abcdefghijklmnopqrstuvwxyz012345".to_owned(),
            "ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ".to_owned(),
        )]
        .into();
        let text = "é/nix/store/abcdefghijklmnopqrstuvwxyz012345-x:abcdefghijklmnopqrstuvwxyz01234";
        assert_eq!(
            replace_hash_parts(text, &ids),
            "é/nix/store/ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ-x:abcdefghijklmnopqrstuvwxyz01234"
        );
    }

    #[test]
    fn a_rewriter_copies_links_and_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let from = dir.path().join("from");
        std::fs::create_dir_all(from.join("sub")).unwrap();
        let old = *b"abcdefghijklmnopqrstuvwxyz012345";
        let new = *b"ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ";
        std::fs::write(from.join("plain"), b"nothing here").unwrap();
        std::fs::write(
            from.join("sub/self"),
            b"-L /nix/store/abcdefghijklmnopqrstuvwxyz012345-x/out",
        )
        .unwrap();
        std::os::unix::fs::symlink(
            "/nix/store/abcdefghijklmnopqrstuvwxyz012345-x/out",
            from.join("link"),
        )
        .unwrap();
        let rewriter = Rewriter {
            pairs: vec![(old, new)],
        };
        let to = dir.path().join("to");
        rewriter.copy_tree(&from, &to).unwrap();
        assert_eq!(std::fs::read(to.join("plain")).unwrap(), b"nothing here");
        assert_eq!(
            std::fs::read(to.join("sub/self")).unwrap(),
            b"-L /nix/store/ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ-x/out"
        );
        assert_eq!(
            std::fs::read_link(to.join("link")).unwrap(),
            Path::new("/nix/store/ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ-x/out")
        );
        use std::os::unix::fs::MetadataExt;
        assert_eq!(
            std::fs::metadata(to.join("plain")).unwrap().ino(),
            std::fs::metadata(from.join("plain")).unwrap().ino()
        );
    }
}
