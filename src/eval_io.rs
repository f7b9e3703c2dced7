//! The evaluator's [`Io`] for `kiln eval`: the real file system, the
//! process environment, and store paths computed exactly as Nix computes
//! them (NAR hash for sources, text hash for `toFile`).
//!
//! Without a store ([`CliIo::new`], for `kiln instantiate`; `kiln eval` uses
//! [`CliIo::without_derivations`], which keeps no `.drv` texts)
//! nothing is written: added texts and sources are remembered in memory, so
//! reading a store path that this evaluation produced (`import (toFile …)`,
//! `readFile "${./x}"`) still works. With a store ([`CliIo::with_store`],
//! for `kiln build`) every text (`.drv` files, `toFile`) and source is also
//! added to it, at exactly the path computed here.

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::sync::Arc;

use rustc_hash::{FxHashMap, FxHashSet};

use kiln_eval::io::{FileType, IngestMethod, Io, IoError};
use kiln_store::hash::{Hash, HashAlgo, Hasher};
use kiln_store::nar::write::Encoder;
use kiln_store::realise::texts::Text;
use kiln_store::store::Store;
use kiln_store::store::cleanup::remove_tree;
use kiln_store::store_path::{FileIngestionMethod, StoreDir, StorePath};

/// The CLI's implementation of the evaluator's world.
pub struct CliIo {
    store_dir: StoreDir,
    /// Store path → text added with `toFile`.
    texts: RefCell<FxHashMap<String, Box<[u8]>>>,
    /// Store path → the source path it was computed from.
    sources: RefCell<HashMap<String, String>>,
    /// The store to write texts and sources to, if any.
    store: Option<Arc<Store>>,
    /// Texts added since the last [`CliIo::flush`], in order.
    pending: RefCell<Vec<Text>>,
    /// Whether `.drv` texts are kept for reading back (see
    /// [`CliIo::without_derivations`]).
    keep_derivations: bool,
    /// The hash parts of the `.drv`s computed but not kept.
    dropped: RefCell<FxHashSet<Box<str>>>,
}

impl CliIo {
    /// Returns an `Io` for the given logical store directory.
    pub fn new(store_dir: &str) -> CliIo {
        CliIo {
            store_dir: StoreDir::new(store_dir),
            texts: RefCell::default(),
            sources: RefCell::default(),
            store: None,
            pending: RefCell::default(),
            keep_derivations: true,
            dropped: RefCell::default(),
        }
    }

    /// Returns an `Io` like [`CliIo::new`] that does not keep the `.drv`
    /// files evaluation computes, for `kiln eval`: `nix-instantiate --eval`
    /// writes no derivations either, and a large graph's `.drv` texts are
    /// most of its memory. Reading one back (`readFile`, or a `drvPath` in
    /// another derivation's attributes) is then an error that says so.
    pub fn without_derivations(store_dir: &str) -> CliIo {
        CliIo {
            keep_derivations: false,
            ..CliIo::new(store_dir)
        }
    }

    /// Returns an `Io` that also writes every text and source it adds to
    /// `store`.
    pub fn with_store(store: Arc<Store>) -> CliIo {
        let base = CliIo::new(store.store_dir().as_str());
        CliIo {
            store: Some(store),
            ..base
        }
    }

    /// Writes the texts added so far (`.drv` files, `toFile`) to the store,
    /// all in one registration; a no-op without a store. Sources are
    /// written as soon as they are added.
    pub fn flush(&self) -> Result<(), String> {
        let Some(store) = &self.store else {
            return Ok(());
        };
        let texts = std::mem::take(&mut *self.pending.borrow_mut());
        store
            .add_texts(&texts)
            .map(drop)
            .map_err(|e| format!("error: cannot write to the store: {}\n", error_chain(&e)))
    }

    /// Whether `path` is a `.drv` this evaluation computed and dropped.
    fn was_dropped(&self, path: &str) -> bool {
        let dropped = self.dropped.borrow();
        !dropped.is_empty()
            && self
                .store_dir
                .parse(path)
                .is_ok_and(|p| dropped.contains(p.hash_part()))
    }

    /// Keeps a text this evaluation added, for reading it back, and queues
    /// it for the store when there is one.
    fn remember_text(
        &self,
        path: &StorePath,
        name: &str,
        contents: Vec<u8>,
        references: BTreeSet<StorePath>,
    ) {
        if self.store.is_some() {
            // Written in one batch by `flush`: one sync for all the `.drv`s.
            self.pending.borrow_mut().push(Text {
                name: name.to_owned(),
                contents: contents.clone(),
                references,
            });
        }
        self.texts
            .borrow_mut()
            .insert(self.store_dir.display(path), contents.into_boxed_slice());
    }

    /// Maps a path inside a store path we produced back to its source.
    fn redirect(&self, path: &str) -> Option<String> {
        let prefix = format!("{}/", self.store_dir.as_str());
        let rest = path.strip_prefix(&prefix)?;
        let (base, tail) = rest.split_once('/').unwrap_or((rest, ""));
        let store_path = format!("{prefix}{base}");
        let sources = self.sources.borrow();
        let src = sources.get(&store_path)?;
        Some(if tail.is_empty() {
            src.clone()
        } else {
            format!("{src}/{tail}")
        })
    }

    /// Maps a path inside the store to where the store keeps it on disk
    /// (its physical directory may differ from the logical `/nix/store`).
    fn physical(&self, path: &str) -> Option<String> {
        let store = self.store.as_ref()?;
        let prefix = format!("{}/", self.store_dir.as_str());
        let rest = path.strip_prefix(&prefix)?;
        let (base, tail) = rest.split_once('/').unwrap_or((rest, ""));
        let store_path = store.resolve(&format!("{prefix}{base}")).ok()?;
        let mut real = store.physical(&store_path);
        if !tail.is_empty() {
            real.push(tail);
        }
        Some(real.to_string_lossy().into_owned())
    }

    fn fs_path(&self, path: &str) -> String {
        self.redirect(path)
            .or_else(|| self.physical(path))
            .unwrap_or_else(|| path.to_owned())
    }
}

fn failed(action: &'static str, path: &str, err: &std::io::Error) -> IoError {
    if err.kind() == std::io::ErrorKind::NotFound {
        return IoError::NotFound {
            path: path.to_owned(),
        };
    }
    IoError::Failed {
        action,
        path: path.to_owned(),
        reason: err.to_string(),
    }
}

fn file_type(ft: std::fs::FileType) -> FileType {
    if ft.is_dir() {
        FileType::Directory
    } else if ft.is_file() {
        FileType::Regular
    } else if ft.is_symlink() {
        FileType::Symlink
    } else {
        FileType::Unknown
    }
}

/// A `Write` sink that hashes what it is given.
struct HashSink(Hasher);

impl Write for HashSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Serialises `path` as a NAR into `enc`, leaving out what `include`
/// rejects.
///
/// As Nix does, a FIFO, socket or device anywhere in the tree is an error
/// (opening a FIFO would wait for a writer forever), and so is a directory
/// that cannot be listed. A name that is not UTF-8 is refused: the
/// evaluator's paths are strings, so its NAR would not be Nix's.
fn dump<W: Write>(
    enc: &mut Encoder<W>,
    path: &str,
    include: &dyn Fn(&str) -> bool,
) -> Result<(), IoError> {
    let io_err = |e: std::io::Error| failed("dumping path", path, &e);
    let meta = fs_err::symlink_metadata(path).map_err(|e| failed("getting status of", path, &e))?;
    let ft = meta.file_type();
    if ft.is_symlink() {
        let target = fs_err::read_link(path).map_err(io_err)?;
        enc.symlink(target.as_os_str().as_encoded_bytes())
            .map_err(io_err)?;
    } else if ft.is_dir() {
        let mut names = Vec::new();
        for entry in fs_err::read_dir(path).map_err(io_err)? {
            let name = entry.map_err(io_err)?.file_name();
            let name = name.into_string().map_err(|name| IoError::Failed {
                action: "dumping path",
                path: format!("{}/{}", path.trim_end_matches('/'), name.to_string_lossy()),
                reason: "the file name is not UTF-8, which kiln cannot add to the store yet".into(),
            })?;
            names.push(name);
        }
        // Byte order, as Nix sorts: for UTF-8 strings that is `str`'s order.
        names.sort_unstable();
        enc.directory_start().map_err(io_err)?;
        for name in names {
            let child = format!("{}/{name}", path.trim_end_matches('/'));
            if !include(&child) {
                continue;
            }
            enc.entry_start(name.as_bytes()).map_err(io_err)?;
            dump(enc, &child, include)?;
            enc.entry_end().map_err(io_err)?;
        }
        enc.directory_end().map_err(io_err)?;
    } else if ft.is_file() {
        // Nix checks `S_IXUSR` only; the group and other bits do not count.
        let executable = meta.permissions().mode() & 0o100 != 0;
        let file = fs_err::File::open(path).map_err(io_err)?;
        enc.regular(executable, meta.len(), file).map_err(io_err)?;
    } else {
        return Err(IoError::Failed {
            action: "dumping path",
            path: path.to_owned(),
            reason: format!(
                "it is a {}, which a store path cannot hold",
                kiln_store::nar::write::describe(meta.mode())
            ),
        });
    }
    Ok(())
}

fn store_error(path: &str, err: impl std::fmt::Display) -> IoError {
    IoError::Failed {
        action: "adding to the store",
        path: path.to_owned(),
        reason: err.to_string(),
    }
}

/// Adds the source at `real` (filtered by `include`) to `store` as `sp`,
/// unless it is valid already: its filtered NAR is written to scratch
/// space, unpacked, and added like `nix-store --add`.
fn add_source(
    store: &Store,
    sp: &StorePath,
    real: &str,
    name: &str,
    method: IngestMethod,
    include: &dyn Fn(&str) -> bool,
) -> Result<(), IoError> {
    if store
        .is_valid(sp)
        .map_err(|e| store_error(real, error_chain(&e)))?
    {
        return Ok(());
    }
    let added = match method {
        IngestMethod::Flat => store.add_path(
            std::path::Path::new(real),
            name,
            FileIngestionMethod::Flat,
            HashAlgo::Sha256,
        ),
        IngestMethod::Recursive => {
            let scratch = store.scratch_path(name);
            let result = copy_filtered(&scratch, real, include).and_then(|tree| {
                store
                    .add_path(
                        &tree,
                        name,
                        FileIngestionMethod::Recursive,
                        HashAlgo::Sha256,
                    )
                    .map_err(|e| store_error(real, error_chain(&e)))
            });
            let _ = remove_tree(&scratch);
            return check_added(result?.path, sp, real);
        }
    };
    let added = added.map_err(|e| store_error(real, error_chain(&e)))?;
    check_added(added.path, sp, real)
}

/// Writes the filtered NAR of `real` under `scratch` and unpacks it;
/// returns the unpacked tree.
fn copy_filtered(
    scratch: &std::path::Path,
    real: &str,
    include: &dyn Fn(&str) -> bool,
) -> Result<std::path::PathBuf, IoError> {
    let io_err = |e: std::io::Error| failed("copying to the store", real, &e);
    fs_err::create_dir_all(scratch).map_err(io_err)?;
    let nar = scratch.join("nar");
    {
        let file = std::io::BufWriter::new(fs_err::File::create(&nar).map_err(io_err)?);
        let mut enc = Encoder::new(file).map_err(io_err)?;
        dump(&mut enc, real, include)?;
        enc.finish().map_err(io_err)?.flush().map_err(io_err)?;
    }
    let tree = scratch.join("tree");
    let input = std::io::BufReader::new(fs_err::File::open(&nar).map_err(io_err)?);
    kiln_store::nar::unpack::unpack(input, &tree)
        .map_err(|e| store_error(real, error_chain(&e)))?;
    Ok(tree)
}

fn check_added(added: StorePath, expected: &StorePath, real: &str) -> Result<(), IoError> {
    if &added == expected {
        Ok(())
    } else {
        Err(store_error(real, "the store computed another path"))
    }
}

fn error_chain(error: &dyn std::error::Error) -> String {
    kiln_store::schedule::error_chain(error)
}

impl Io for CliIo {
    fn read_file(&self, path: &str) -> Result<Vec<u8>, IoError> {
        if let Some(text) = self.texts.borrow().get(path) {
            return Ok(text.to_vec());
        }
        let real = self.fs_path(path);
        fs_err::read(&real).map_err(|e| {
            if self.was_dropped(path) {
                return IoError::Failed {
                    action: "reading the derivation",
                    path: path.to_owned(),
                    reason: "`kiln eval` does not keep the derivations it computes \
                             (nor does `nix-instantiate --eval`); \
                             `kiln instantiate` and `kiln build` can read them back"
                        .to_owned(),
                };
            }
            failed("opening file", path, &e)
        })
    }

    fn read_dir(&self, path: &str) -> Result<Vec<(String, FileType)>, IoError> {
        let real = self.fs_path(path);
        let mut out = Vec::new();
        for entry in fs_err::read_dir(&real).map_err(|e| failed("reading directory", path, &e))? {
            let entry = entry.map_err(|e| failed("reading directory", path, &e))?;
            let ft = entry
                .file_type()
                .map_err(|e| failed("reading directory", path, &e))?;
            out.push((
                entry.file_name().to_string_lossy().into_owned(),
                file_type(ft),
            ));
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    fn path_type(&self, path: &str) -> Result<Option<FileType>, IoError> {
        if self.texts.borrow().contains_key(path) {
            return Ok(Some(FileType::Regular));
        }
        match std::fs::metadata(self.fs_path(path)) {
            Ok(m) => Ok(Some(file_type(m.file_type()))),
            Err(_) => Ok(None),
        }
    }

    fn add_to_store(
        &self,
        path: &str,
        name: &str,
        method: IngestMethod,
        include: &dyn Fn(&str) -> bool,
    ) -> Result<String, IoError> {
        let real = self.fs_path(path);
        let none = BTreeSet::new();
        let sp = match method {
            IngestMethod::Recursive => {
                let mut enc = Encoder::new(HashSink(Hasher::new(HashAlgo::Sha256)))
                    .map_err(|e| store_error(path, e))?;
                dump(&mut enc, &real, include)?;
                let sink = enc.finish().map_err(|e| store_error(path, e))?;
                let hash = sink.0.finish();
                self.store_dir.make_source_path(name, &hash, &none, false)
            }
            IngestMethod::Flat => {
                let bytes = fs_err::read(&real).map_err(|e| failed("opening file", path, &e))?;
                let hash = Hash::digest(HashAlgo::Sha256, &bytes);
                self.store_dir.make_fixed_output_path(
                    name,
                    FileIngestionMethod::Flat,
                    &hash,
                    &none,
                    false,
                )
            }
        }
        .map_err(|e| store_error(path, e))?;
        if let Some(store) = &self.store {
            add_source(store, &sp, &real, name, method, include)?;
        }
        let sp = self.store_dir.display(&sp);
        self.sources.borrow_mut().insert(sp.clone(), real);
        Ok(sp)
    }

    fn add_text_to_store(
        &self,
        name: &str,
        text: &str,
        references: &BTreeSet<String>,
    ) -> Result<String, IoError> {
        let mut refs: BTreeSet<StorePath> = BTreeSet::new();
        for r in references {
            refs.insert(self.store_dir.parse(r).map_err(|e| store_error(r, e))?);
        }
        let sp = self
            .store_dir
            .make_text_path(name, text.as_bytes(), &refs)
            .map_err(|e| store_error(name, e))?;
        let sp_text = self.store_dir.display(&sp);
        self.remember_text(&sp, name, text.as_bytes().to_vec(), refs);
        Ok(sp_text)
    }

    fn add_derivation(
        &self,
        path: &StorePath,
        name: &str,
        text: String,
        references: &BTreeSet<StorePath>,
    ) -> Result<(), IoError> {
        if self.keep_derivations {
            self.remember_text(path, name, text.into_bytes(), references.clone());
        } else {
            self.dropped.borrow_mut().insert(path.hash_part().into());
        }
        Ok(())
    }

    fn get_env(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }

    fn trace(&self, message: &str) {
        #[expect(
            clippy::print_stderr,
            reason = "`builtins.trace` writes to stderr, as Nix does"
        )]
        {
            eprintln!("trace: {message}");
        }
    }
}
