//! Build logs: one zstd-compressed file per derivation, under the store's
//! `logs/` directory, named after the `.drv` (`logs/<hash>-<name>.drv.zst`).
//!
//! A log is written to a temporary file beside its final name and renamed
//! into place when the build ends (successfully or not), so a reader never
//! sees half a log and a crash leaves at most a `*.tmp-<pid>` file, which
//! the next build of that derivation overwrites. The latest build's log
//! replaces an earlier one.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use crate::store::Store;
use crate::store_path::StorePath;

/// The zstd level logs are written at: fast, and logs compress well anyway.
const LEVEL: i32 = 3;

/// Why a log could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// The log file could not be created, written or renamed.
    #[error("cannot write the build log `{path}`")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The log file could not be read or decompressed.
    #[error("cannot read the build log `{path}`")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// No build of this derivation has left a log.
    #[error("no build log for `{0}`")]
    Missing(String),
}

/// Returns where the log of `drv` is kept.
pub fn log_path(store: &Store, drv: &StorePath) -> PathBuf {
    store
        .layout()
        .logs()
        .join(format!("{}.zst", drv.base_name()))
}

/// A log being written.
pub struct LogWriter {
    encoder: Option<zstd::stream::write::Encoder<'static, fs_err::File>>,
    tmp: PathBuf,
    path: PathBuf,
}

impl std::fmt::Debug for LogWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogWriter")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl LogWriter {
    /// Starts the log of `drv`.
    pub fn create(store: &Store, drv: &StorePath) -> Result<LogWriter, LogError> {
        let path = log_path(store, drv);
        let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
        let write_err = |source| LogError::Write {
            path: tmp.clone(),
            source,
        };
        let file = fs_err::File::create(&tmp).map_err(write_err)?;
        let encoder = zstd::stream::write::Encoder::new(file, LEVEL).map_err(write_err)?;
        Ok(LogWriter {
            encoder: Some(encoder),
            tmp,
            path,
        })
    }

    /// Ends the log and moves it into place.
    pub fn finish(mut self) -> Result<PathBuf, LogError> {
        let write_err = |source| LogError::Write {
            path: self.tmp.clone(),
            source,
        };
        if let Some(encoder) = self.encoder.take() {
            encoder.finish().map_err(write_err)?;
        }
        fs_err::rename(&self.tmp, &self.path).map_err(write_err)?;
        Ok(self.path.clone())
    }
}

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.encoder {
            Some(encoder) => encoder.write(buf),
            None => Ok(buf.len()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        // Flushing a zstd frame costs compression; the log is complete
        // only at `finish` anyway.
        Ok(())
    }
}

impl Drop for LogWriter {
    fn drop(&mut self) {
        // Not finished (an error on the way): keep nothing half-written.
        if self.encoder.is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Returns the decompressed log of `drv`.
pub fn read_log(store: &Store, drv: &StorePath) -> Result<Vec<u8>, LogError> {
    let path = log_path(store, drv);
    read_file(&path).map_err(|source| {
        if source.kind() == io::ErrorKind::NotFound {
            LogError::Missing(store.display(drv))
        } else {
            LogError::Read { path, source }
        }
    })
}

fn read_file(path: &Path) -> io::Result<Vec<u8>> {
    let file = std::fs::File::open(path)?;
    let mut decoder = zstd::stream::read::Decoder::new(file)?;
    let mut text = Vec::new();
    decoder.read_to_end(&mut text)?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store_path::StoreDir;

    #[test]
    fn a_finished_log_reads_back_and_an_abandoned_one_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), StoreDir::default()).unwrap();
        let drv = StorePath::from_base_name("7rjj86a15146cq1d3qy068lml7n8ykzm-x.drv").unwrap();
        assert!(matches!(read_log(&store, &drv), Err(LogError::Missing(_))));
        let mut log = LogWriter::create(&store, &drv).unwrap();
        log.write_all(b"hello\n").unwrap();
        drop(log);
        assert!(matches!(read_log(&store, &drv), Err(LogError::Missing(_))));
        assert_eq!(fs_err::read_dir(store.layout().logs()).unwrap().count(), 0);
        let mut log = LogWriter::create(&store, &drv).unwrap();
        log.write_all(b"line one\nline two\n").unwrap();
        log.finish().unwrap();
        assert_eq!(read_log(&store, &drv).unwrap(), b"line one\nline two\n");
    }
}
