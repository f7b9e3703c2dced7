//! Listing a NAR's contents without unpacking it.
//!
//! [`list`] reads a whole NAR (skipping file contents) into a [`Listing`]:
//! a flat vector of [`Entry`] values in NAR order, each directory knowing
//! where its subtree ends. From it come the three views that `nix nar ls`
//! offers: plain names, the long form (`-r-xr-xr-x  size name`) and Nix's
//! JSON listing (`{"type":"regular","size":…,"executable":true,
//! "narOffset":…}`), written by [`Listing::write_json`] the way Nix 2.8
//! does (entries sorted, strings escaped byte by byte).

use std::io::{self, Read, Write};

use super::read::{Event, ReadError, Reader};

/// What a NAR entry is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A regular file.
    Regular {
        /// Its size in bytes.
        size: u64,
        /// Whether it is executable.
        executable: bool,
        /// Where its contents start in the NAR.
        offset: u64,
    },
    /// A symbolic link.
    Symlink {
        /// Its target.
        target: Vec<u8>,
    },
    /// A directory.
    Directory {
        /// The index one past the last entry of its subtree.
        end: usize,
    },
}

/// One node of a NAR.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The path relative to the root, components joined by `/`; empty for
    /// the root.
    pub path: Vec<u8>,
    /// What the node is.
    pub kind: Kind,
}

impl Entry {
    /// Returns the last component of the path (empty for the root).
    pub fn name(&self) -> &[u8] {
        let start = self
            .path
            .iter()
            .rposition(|&b| b == b'/')
            .map_or(0, |i| i + 1);
        self.path.get(start..).unwrap_or_default()
    }

    /// Returns the size Nix's long listing shows: the file size for
    /// regular files, 0 otherwise.
    pub fn size(&self) -> u64 {
        match self.kind {
            Kind::Regular { size, .. } => size,
            _ => 0,
        }
    }

    /// Returns the mode string Nix's long listing shows (store paths are
    /// read-only, so no `w` bits).
    pub fn mode(&self) -> &'static str {
        match self.kind {
            Kind::Regular {
                executable: true, ..
            } => "-r-xr-xr-x",
            Kind::Regular { .. } => "-r--r--r--",
            Kind::Symlink { .. } => "lrwxrwxrwx",
            Kind::Directory { .. } => "dr-xr-xr-x",
        }
    }
}

/// Every node of a NAR in NAR order (depth first, entries sorted).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Listing {
    /// The entries; the first is the root.
    pub entries: Vec<Entry>,
    /// The NAR's length in bytes.
    pub nar_size: u64,
}

/// Reads a whole NAR and returns its listing.
///
/// The reader makes many small reads: give it a buffered reader.
pub fn list(input: impl Read) -> Result<Listing, ReadError> {
    let mut reader = Reader::new(input);
    let mut entries = Vec::new();
    let mut open = Vec::new();
    while let Some(event) = reader.next()? {
        let (path, kind) = match event {
            Event::DirectoryEnd { .. } => {
                let len = entries.len();
                if let Some(Entry {
                    kind: Kind::Directory { end },
                    ..
                }) = open.pop().and_then(|i: usize| entries.get_mut(i))
                {
                    *end = len;
                }
                continue;
            }
            Event::Directory { path } => {
                open.push(entries.len());
                (path, Kind::Directory { end: 0 })
            }
            Event::Regular {
                path,
                executable,
                size,
                offset,
            } => (
                path,
                Kind::Regular {
                    size,
                    executable,
                    offset,
                },
            ),
            Event::Symlink { path, target } => (
                path,
                Kind::Symlink {
                    target: target.to_vec(),
                },
            ),
        };
        entries.push(Entry {
            path: path.to_vec(),
            kind,
        });
    }
    Ok(Listing {
        entries,
        nar_size: reader.offset(),
    })
}

impl Listing {
    /// Returns the index of the entry at `path` (components separated by
    /// `/`; leading, trailing and repeated slashes are ignored), if any.
    pub fn find(&self, path: &[u8]) -> Option<usize> {
        let mut index = 0;
        for component in path.split(|&b| b == b'/').filter(|c| !c.is_empty()) {
            index = self.children(index).find(|&i| {
                self.entries
                    .get(i)
                    .is_some_and(|entry| entry.name() == component)
            })?;
        }
        self.entries.get(index).map(|_| index)
    }

    /// Returns the indices of the direct children of the entry at `index`
    /// (none unless it is a directory), in name order.
    pub fn children(&self, index: usize) -> Children<'_> {
        let end = match self.entries.get(index) {
            Some(Entry {
                kind: Kind::Directory { end },
                ..
            }) => *end,
            _ => index,
        };
        Children {
            listing: self,
            next: index + 1,
            end,
        }
    }

    /// Returns the index one past the subtree rooted at `index`.
    pub fn subtree_end(&self, index: usize) -> usize {
        match self.entries.get(index) {
            Some(Entry {
                kind: Kind::Directory { end },
                ..
            }) => *end,
            _ => index + 1,
        }
    }

    /// Writes the entry at `index` as Nix's JSON listing: with `recursive`,
    /// the whole subtree; without, a directory's entries appear as `{}` (as
    /// in Nix, whatever their type).
    pub fn write_json(
        &self,
        index: usize,
        recursive: bool,
        out: &mut impl Write,
    ) -> io::Result<()> {
        // Directories still open, each with its remaining children and
        // whether one has been written; no recursion, so deep trees cannot
        // exhaust the stack.
        let mut open: Vec<(Children<'_>, bool)> = Vec::new();
        if self.write_json_node(index, out)? {
            open.push((self.children(index), false));
        }
        while let Some((children, any)) = open.last_mut() {
            let Some(child) = children.next() else {
                open.pop();
                out.write_all(b"}}")?;
                continue;
            };
            if *any {
                out.write_all(b",")?;
            }
            *any = true;
            let Some(entry) = self.entries.get(child) else {
                continue;
            };
            write_json_string(out, entry.name())?;
            out.write_all(b":")?;
            if !recursive {
                out.write_all(b"{}")?;
            } else if self.write_json_node(child, out)? {
                open.push((self.children(child), false));
            }
        }
        Ok(())
    }

    /// Writes one node; a directory is left open, and the return value says
    /// so.
    fn write_json_node(&self, index: usize, out: &mut impl Write) -> io::Result<bool> {
        let Some(entry) = self.entries.get(index) else {
            return Ok(false);
        };
        match &entry.kind {
            Kind::Regular {
                size,
                executable,
                offset,
            } => {
                write!(out, "{{\"type\":\"regular\",\"size\":{size}")?;
                if *executable {
                    out.write_all(b",\"executable\":true")?;
                }
                write!(out, ",\"narOffset\":{offset}}}")?;
                Ok(false)
            }
            Kind::Symlink { target } => {
                out.write_all(b"{\"type\":\"symlink\",\"target\":")?;
                write_json_string(out, target)?;
                out.write_all(b"}")?;
                Ok(false)
            }
            Kind::Directory { .. } => {
                out.write_all(b"{\"type\":\"directory\",\"entries\":{")?;
                Ok(true)
            }
        }
    }
}

/// Iterator over the direct children of a directory in a [`Listing`].
pub struct Children<'a> {
    listing: &'a Listing,
    next: usize,
    end: usize,
}

impl Iterator for Children<'_> {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        if self.next >= self.end {
            return None;
        }
        let current = self.next;
        self.next = self.listing.subtree_end(current);
        Some(current)
    }
}

/// Writes `bytes` as a JSON string the way Nix 2.8 does: `"` and `\`
/// escaped, `\n`, `\r`, `\t` by name, other bytes below 0x20 as `\u00XX`,
/// and every other byte (including invalid UTF-8) as it is.
pub fn write_json_string(out: &mut impl Write, bytes: &[u8]) -> io::Result<()> {
    out.write_all(b"\"")?;
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: Option<&[u8]> = match b {
            b'"' => Some(b"\\\""),
            b'\\' => Some(b"\\\\"),
            b'\n' => Some(b"\\n"),
            b'\r' => Some(b"\\r"),
            b'\t' => Some(b"\\t"),
            0..=0x1f => None,
            _ => continue,
        };
        out.write_all(bytes.get(start..i).unwrap_or_default())?;
        match escape {
            Some(escaped) => out.write_all(escaped)?,
            None => write!(out, "\\u{b:04x}")?,
        }
        start = i + 1;
    }
    out.write_all(bytes.get(start..).unwrap_or_default())?;
    out.write_all(b"\"")
}
