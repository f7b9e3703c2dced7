//! Reading derivations from Nix's ATerm format.
//!
//! The parser is strict: it accepts exactly what Nix writes (sorted,
//! duplicate-free lists, canonical base16 hashes, valid store paths), so that
//! printing a parsed derivation gives back the same bytes. Every error names
//! the byte offset where the input went wrong.

use std::collections::{BTreeMap, BTreeSet};

use thiserror::Error;

use super::{Derivation, DerivationOutput, FixedOutputHash};
use crate::hash::{Encoding, Hash, HashAlgo};
use crate::store_path::{FileIngestionMethod, StoreDir, StorePath};

/// A `.drv` text that is not a derivation kiln can use.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ParseError {
    /// Something other than what the grammar allows at this point.
    #[error("expected {expected} at byte {offset}")]
    Expected {
        /// What was expected.
        expected: &'static str,
        /// The byte offset.
        offset: usize,
    },
    /// The input ended inside the derivation.
    #[error("derivation ends unexpectedly at byte {offset}; expected {expected}")]
    UnexpectedEnd {
        /// What was expected.
        expected: &'static str,
        /// The byte offset.
        offset: usize,
    },
    /// A string is not valid UTF-8.
    #[error("string at byte {offset} is not valid UTF-8")]
    NotUtf8 {
        /// The byte offset.
        offset: usize,
    },
    /// A string that should be a store path is not one.
    #[error("`{text}` at byte {offset} is not a valid store path")]
    BadStorePath {
        /// The text.
        text: String,
        /// The byte offset.
        offset: usize,
        /// Why.
        #[source]
        source: crate::store_path::ParseError,
    },
    /// A list is out of order or has a duplicate, which Nix never writes.
    #[error("{what} `{item}` at byte {offset} is out of order or repeated")]
    Unsorted {
        /// Which list.
        what: &'static str,
        /// The item.
        item: String,
        /// The byte offset.
        offset: usize,
    },
    /// An output's hash fields are not a canonical fixed-output hash.
    #[error("output `{output}` has an invalid hash `{algo}`/`{hash}` at byte {offset}")]
    BadOutputHash {
        /// The output's name.
        output: String,
        /// The hashAlgo field.
        algo: String,
        /// The hash field.
        hash: String,
        /// The byte offset.
        offset: usize,
    },
    /// A floating content-addressed output (hash algorithm without a hash).
    #[error(
        "output `{output}` is content-addressed without a fixed hash, which kiln does not support"
    )]
    FloatingOutput {
        /// The output's name.
        output: String,
    },
    /// A string written in a form Nix never writes (a raw newline, carriage
    /// return or tab, or a needless escape), which would not re-print
    /// identically.
    #[error(
        "string at byte {offset} is not in Nix's canonical form (raw control character or needless escape)"
    )]
    NonCanonicalString {
        /// The byte offset of the offending character.
        offset: usize,
    },
    /// Bytes after the closing parenthesis.
    #[error("unexpected data after the derivation at byte {offset}")]
    TrailingData {
        /// The byte offset.
        offset: usize,
    },
}

impl Derivation {
    /// Parses a `.drv` file's contents.
    pub fn parse(input: &[u8], store_dir: &StoreDir) -> Result<Derivation, ParseError> {
        let mut parser = Parser {
            input,
            pos: 0,
            store_dir,
        };
        let drv = parser.derivation()?;
        if parser.pos != input.len() {
            return Err(ParseError::TrailingData { offset: parser.pos });
        }
        Ok(drv)
    }
}

struct Parser<'a> {
    input: &'a [u8],
    pos: usize,
    store_dir: &'a StoreDir,
}

impl Parser<'_> {
    fn derivation(&mut self) -> Result<Derivation, ParseError> {
        self.literal(b"Derive(", "`Derive(`")?;
        let outputs = self.outputs()?;
        self.literal(b",", "`,`")?;
        let input_drvs = self.input_drvs()?;
        self.literal(b",", "`,`")?;
        let input_srcs = self.path_set("input source")?;
        self.literal(b",", "`,`")?;
        let platform = self.string()?;
        self.literal(b",", "`,`")?;
        let builder = self.string()?;
        self.literal(b",", "`,`")?;
        let args = self.list(Self::string)?;
        self.literal(b",", "`,`")?;
        let env = self.env()?;
        self.literal(b")", "`)`")?;
        Ok(Derivation {
            outputs,
            input_drvs,
            input_srcs,
            platform,
            builder,
            args,
            env,
        })
    }

    fn outputs(&mut self) -> Result<BTreeMap<String, DerivationOutput>, ParseError> {
        let mut outputs = BTreeMap::new();
        let items = self.list(|p| {
            let offset = p.pos;
            p.literal(b"(", "`(`")?;
            let name = p.string()?;
            p.literal(b",", "`,`")?;
            let path_offset = p.pos;
            let path = p.string()?;
            p.literal(b",", "`,`")?;
            let algo = p.string()?;
            p.literal(b",", "`,`")?;
            let hash = p.string()?;
            p.literal(b")", "`)`")?;
            let path = if path.is_empty() {
                None
            } else {
                Some(p.store_path(&path, path_offset)?)
            };
            let fixed = fixed_hash(&name, &algo, &hash, offset)?;
            Ok((name, DerivationOutput { path, fixed }, offset))
        })?;
        for (name, output, offset) in items {
            insert_sorted(&mut outputs, name, output, "output", offset)?;
        }
        Ok(outputs)
    }

    fn input_drvs(&mut self) -> Result<BTreeMap<StorePath, BTreeSet<String>>, ParseError> {
        let items = self.list(|p| {
            let offset = p.pos;
            p.literal(b"(", "`(`")?;
            let path = p.path()?;
            p.literal(b",", "`,`")?;
            let names = p.sorted_set("output name", Self::string)?;
            p.literal(b")", "`)`")?;
            Ok((path, names, offset))
        })?;
        let mut map = BTreeMap::new();
        for (path, names, offset) in items {
            insert_sorted(&mut map, path, names, "input derivation", offset)?;
        }
        Ok(map)
    }

    fn env(&mut self) -> Result<BTreeMap<String, String>, ParseError> {
        let items = self.list(|p| {
            let offset = p.pos;
            p.literal(b"(", "`(`")?;
            let key = p.string()?;
            p.literal(b",", "`,`")?;
            let value = p.string()?;
            p.literal(b")", "`)`")?;
            Ok((key, value, offset))
        })?;
        let mut env = BTreeMap::new();
        for (key, value, offset) in items {
            insert_sorted(&mut env, key, value, "environment variable", offset)?;
        }
        Ok(env)
    }

    fn path_set(&mut self, what: &'static str) -> Result<BTreeSet<StorePath>, ParseError> {
        self.sorted_set(what, Self::path)
    }

    fn sorted_set<T: Ord + ToString>(
        &mut self,
        what: &'static str,
        item: impl FnMut(&mut Self) -> Result<T, ParseError>,
    ) -> Result<BTreeSet<T>, ParseError> {
        let offset = self.pos;
        let items = self.list(item)?;
        let mut set = BTreeSet::new();
        for item in items {
            if set.last().is_some_and(|last| *last >= item) {
                return Err(ParseError::Unsorted {
                    what,
                    item: item.to_string(),
                    offset,
                });
            }
            set.insert(item);
        }
        Ok(set)
    }

    fn path(&mut self) -> Result<StorePath, ParseError> {
        let offset = self.pos;
        let text = self.string()?;
        self.store_path(&text, offset)
    }

    fn store_path(&self, text: &str, offset: usize) -> Result<StorePath, ParseError> {
        self.store_dir
            .parse(text)
            .map_err(|source| ParseError::BadStorePath {
                text: text.to_owned(),
                offset,
                source,
            })
    }

    fn list<T>(
        &mut self,
        mut item: impl FnMut(&mut Self) -> Result<T, ParseError>,
    ) -> Result<Vec<T>, ParseError> {
        self.literal(b"[", "`[`")?;
        let mut items = Vec::new();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(items);
        }
        loop {
            items.push(item(self)?);
            match self.next_byte("`,` or `]`")? {
                b',' => {}
                b']' => return Ok(items),
                _ => {
                    return Err(ParseError::Expected {
                        expected: "`,` or `]`",
                        offset: self.pos - 1,
                    });
                }
            }
        }
    }

    fn string(&mut self) -> Result<String, ParseError> {
        let start = self.pos;
        self.literal(b"\"", "`\"`")?;
        let mut bytes = Vec::new();
        loop {
            match self.next_byte("`\"`")? {
                b'"' => break,
                b'\\' => bytes.push(match self.next_byte("an escaped character")? {
                    b'n' => b'\n',
                    b'r' => b'\r',
                    b't' => b'\t',
                    b'"' => b'"',
                    b'\\' => b'\\',
                    _ => {
                        return Err(ParseError::NonCanonicalString {
                            offset: self.pos - 2,
                        });
                    }
                }),
                b'\n' | b'\r' | b'\t' => {
                    return Err(ParseError::NonCanonicalString {
                        offset: self.pos - 1,
                    });
                }
                other => bytes.push(other),
            }
        }
        String::from_utf8(bytes).map_err(|_| ParseError::NotUtf8 { offset: start })
    }

    fn literal(&mut self, text: &[u8], expected: &'static str) -> Result<(), ParseError> {
        match self.input.get(self.pos..self.pos + text.len()) {
            Some(found) if found == text => {
                self.pos += text.len();
                Ok(())
            }
            Some(_) => Err(ParseError::Expected {
                expected,
                offset: self.pos,
            }),
            None => Err(ParseError::UnexpectedEnd {
                expected,
                offset: self.pos,
            }),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    fn next_byte(&mut self, expected: &'static str) -> Result<u8, ParseError> {
        let byte = self.peek().ok_or(ParseError::UnexpectedEnd {
            expected,
            offset: self.pos,
        })?;
        self.pos += 1;
        Ok(byte)
    }
}

fn insert_sorted<K: Ord + ToString, V>(
    map: &mut BTreeMap<K, V>,
    key: K,
    value: V,
    what: &'static str,
    offset: usize,
) -> Result<(), ParseError> {
    if map.last_key_value().is_some_and(|(last, _)| *last >= key) {
        return Err(ParseError::Unsorted {
            what,
            item: key.to_string(),
            offset,
        });
    }
    map.insert(key, value);
    Ok(())
}

/// Reads an output's `hashAlgo` and `hash` fields.
fn fixed_hash(
    output: &str,
    algo: &str,
    hash: &str,
    offset: usize,
) -> Result<Option<FixedOutputHash>, ParseError> {
    if algo.is_empty() && hash.is_empty() {
        return Ok(None);
    }
    if hash.is_empty() {
        return Err(ParseError::FloatingOutput {
            output: output.to_owned(),
        });
    }
    let bad = || ParseError::BadOutputHash {
        output: output.to_owned(),
        algo: algo.to_owned(),
        hash: hash.to_owned(),
        offset,
    };
    let (method, name) = match algo.strip_prefix("r:") {
        Some(name) => (FileIngestionMethod::Recursive, name),
        None => (FileIngestionMethod::Flat, algo),
    };
    let algo: HashAlgo = name.parse().map_err(|_| bad())?;
    let parsed = Hash::parse(hash, Some(algo)).map_err(|_| bad())?;
    // Only Nix's canonical form (lowercase base16) prints back identically.
    if parsed.encode(Encoding::Base16) != hash {
        return Err(bad());
    }
    Ok(Some(FixedOutputHash {
        method,
        hash: parsed,
    }))
}
