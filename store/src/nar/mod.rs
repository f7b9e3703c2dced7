/*!
The Nix archive format (NAR, `nix-archive-1`): a canonical serialisation of
a file, symlink or directory tree, byte for byte what Nix writes.

A NAR records only what a store path may hold: regular files (with one
executable bit), symlinks and directories whose entries are sorted by name.
No timestamps, owners or other permission bits, so the same tree always
gives the same bytes, and the SHA-256 of those bytes is a store path's NAR
hash.

- [`dump()`] writes a tree from the file system ([`write`](mod@write) also has the
  low-level [`Encoder`] for trees that are not on disk); [`dump_to`] writes
  to a [`Sink`] that takes file contents straight into its own memory.
- [`Reader`] parses a NAR from any [`std::io::Read`] as a stream of
  [`Event`]s, rejecting anything that is not exactly what Nix would write;
  [`validate`] reads one to the end.
- [`unpack()`] restores a NAR into a directory, all or nothing.
- [`list()`] produces a [`Listing`] of the entries with their sizes and
  content offsets, the data behind `nix nar ls`.

Everything streams: file contents go through fixed-size buffers, so a NAR
holding a 100 GB file needs no more memory than one holding a 1 KB file.
[`wire`] holds the framing shared by both directions.

This module does not compress NARs, hash them (wrap the output in a hasher)
or make unpacked trees read-only (the store does that on registration).
*/

pub mod list;
pub mod read;
pub mod sink;
pub mod unpack;
pub mod wire;
pub mod write;

#[cfg(test)]
mod tests;

pub use list::{Entry, Kind, Listing, list};
pub use read::{Event, ReadError, Reader, validate};
pub use sink::{Buffered, FillError, Sink, fill};
pub use unpack::{UnpackError, unpack};
pub use write::{Encoder, WriteError, dump, dump_regular, dump_symlink, dump_to};
