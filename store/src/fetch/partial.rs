//! The file a download is written to, hashed as it grows.
//!
//! The hash covers exactly the bytes in the file, so a download that
//! breaks off can be resumed with a `Range` request and still be verified
//! without reading the file again. A later version could reopen a partial
//! file left by a killed process (issue 9: resumable fetches) by hashing
//! its prefix once; nothing here assumes the file started empty.

use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use fs_err::os::unix::fs::OpenOptionsExt;

use crate::hash::{Hash, HashAlgo, Hasher};

use super::error::FetchError;

/// A download in progress.
pub struct Partial {
    path: PathBuf,
    file: fs_err::File,
    algo: HashAlgo,
    hasher: Hasher,
    len: u64,
}

impl Partial {
    /// Creates (or empties) the file at `path`, hashing with `algo`.
    pub fn create(path: &Path, algo: HashAlgo) -> Result<Partial, FetchError> {
        let file = fs_err::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o644)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(path)
            .map_err(|source| write_error(path, source))?;
        Ok(Partial {
            path: path.to_owned(),
            file,
            algo,
            hasher: Hasher::new(algo),
            len: 0,
        })
    }

    /// Returns the path of the file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Returns how many bytes it holds.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Appends `chunk`.
    pub fn write(&mut self, chunk: &[u8]) -> Result<(), FetchError> {
        self.file
            .write_all(chunk)
            .map_err(|source| write_error(&self.path, source))?;
        self.hasher.update(chunk);
        self.len += chunk.len() as u64;
        Ok(())
    }

    /// Empties the file, to start over.
    pub fn reset(&mut self) -> Result<(), FetchError> {
        self.file
            .set_len(0)
            .map_err(|source| write_error(&self.path, source))?;
        self.file
            .seek(SeekFrom::Start(0))
            .map_err(|source| write_error(&self.path, source))?;
        self.hasher = Hasher::new(self.algo);
        self.len = 0;
        Ok(())
    }

    /// Flushes the file to disk and returns the hash of its contents, and
    /// a fresh hasher in its place (the file is complete and will not grow).
    pub fn finish(&mut self) -> Result<Hash, FetchError> {
        self.file
            .sync_all()
            .map_err(|source| write_error(&self.path, source))?;
        Ok(std::mem::replace(&mut self.hasher, Hasher::new(self.algo)).finish())
    }
}

fn write_error(path: &Path, source: std::io::Error) -> FetchError {
    FetchError::Write {
        path: path.to_owned(),
        source,
    }
}
