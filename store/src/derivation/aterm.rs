//! Writing derivations in Nix's ATerm format.
//!
//! `Derive([outputs],[input drvs],[input srcs],"platform","builder",[args],[env])`,
//! every list in sorted order, strings in double quotes with `"`, `\`,
//! newline, carriage return and tab escaped.

use std::collections::BTreeSet;
use std::ops::Range;

use super::{Derivation, DerivationOutput};
use crate::hash::Encoding;
use crate::store_path::{StoreDir, StorePath};

/// A derivation's ATerm text, with where its list of input derivations
/// sits in it: the part `hashDerivationModulo` replaces, so that the hash
/// of the `.drv` file and the hash modulo can share the rest of the text.
#[derive(Debug, Clone)]
pub struct Aterm {
    text: String,
    inputs: Range<usize>,
}

/// An ATerm written with its outputs' paths blank, and where they go.
#[derive(Debug, Clone)]
pub(crate) struct MaskedAterm {
    pub(crate) aterm: Aterm,
    slots: MaskedSlots,
}

/// The places a masked ATerm leaves blank for output paths.
#[derive(Debug, Clone, Default)]
struct MaskedSlots {
    outputs_end: usize,
    env_values: Vec<(usize, String)>,
}

impl Aterm {
    /// The text, exactly as Nix writes it.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Takes the text.
    pub fn into_text(self) -> String {
        self.text
    }

    /// The text before and after the input derivations' list (without
    /// its brackets).
    pub(crate) fn around_inputs(&self) -> (&str, &str) {
        (
            self.text.get(..self.inputs.start).unwrap_or_default(),
            self.text.get(self.inputs.end..).unwrap_or_default(),
        )
    }
}

impl Derivation {
    /// Returns the ATerm text of this derivation, exactly as Nix writes it.
    pub fn to_aterm(&self, store_dir: &StoreDir) -> String {
        self.to_split_aterm(store_dir).into_text()
    }

    /// Returns the ATerm text of this derivation with the place of its
    /// input derivations (see [`Aterm`]).
    pub fn to_split_aterm(&self, store_dir: &StoreDir) -> Aterm {
        self.write_aterm(
            store_dir,
            self.input_drvs.iter(),
            |out, path| write_path(out, store_dir, path),
            false,
        )
        .0
    }

    /// Writes the ATerm with input derivations as `input_drvs` gives them,
    /// sorted, each key written by `write_key` (real paths, or the hashes
    /// `hashDerivationModulo` puts in their place), and with the outputs'
    /// paths blanked when `mask_outputs` is set.
    pub(crate) fn to_aterm_with_inputs<'a, K: 'a>(
        &self,
        store_dir: &StoreDir,
        input_drvs: impl Iterator<Item = (&'a K, &'a BTreeSet<String>)>,
        write_key: impl Fn(&mut String, &K),
        mask_outputs: bool,
    ) -> String {
        self.write_aterm(store_dir, input_drvs, write_key, mask_outputs)
            .0
            .into_text()
    }

    fn write_aterm<'a, K: 'a>(
        &self,
        store_dir: &StoreDir,
        input_drvs: impl Iterator<Item = (&'a K, &'a BTreeSet<String>)>,
        write_key: impl Fn(&mut String, &K),
        mask_outputs: bool,
    ) -> (Aterm, Option<MaskedSlots>) {
        let mut out = String::with_capacity(1024);
        out.push_str("Derive([");
        write_list(&mut out, self.outputs.iter(), |out, (name, output)| {
            write_output(out, name, output, store_dir, mask_outputs);
        });
        let mut slots = mask_outputs.then(|| MaskedSlots {
            outputs_end: out.len(),
            env_values: Vec::with_capacity(self.outputs.len()),
        });
        out.push_str("],[");
        let start = out.len();
        write_input_list(&mut out, input_drvs, write_key);
        let end = out.len();
        out.push_str("],[");
        write_list(&mut out, self.input_srcs.iter(), |out, path| {
            write_path(out, store_dir, path);
        });
        out.push_str("],");
        write_string(&mut out, &self.platform);
        out.push(',');
        write_string(&mut out, &self.builder);
        out.push_str(",[");
        write_list(&mut out, self.args.iter(), |out, arg| {
            write_string(out, arg)
        });
        out.push_str("],[");
        write_list(&mut out, self.env.iter(), |out, (key, value)| {
            out.push('(');
            write_string(out, key);
            out.push(',');
            match slots.as_mut() {
                Some(slots) if self.outputs.contains_key(key) => {
                    slots.env_values.push((out.len(), key.clone()));
                    write_string(out, "");
                }
                _ => write_string(out, value),
            }
            out.push(')');
        });
        out.push_str("])");
        (
            Aterm {
                text: out,
                inputs: start..end,
            },
            slots,
        )
    }
}

impl Derivation {
    /// Writes the ATerm with the outputs' paths blanked (in the list of
    /// outputs and in the environment), remembering where they go.
    pub(crate) fn to_masked_aterm(&self, store_dir: &StoreDir) -> MaskedAterm {
        let (aterm, slots) = self.write_aterm(
            store_dir,
            self.input_drvs.iter(),
            |out, path| write_path(out, store_dir, path),
            true,
        );
        MaskedAterm {
            aterm,
            slots: slots.unwrap_or_default(),
        }
    }
}

impl MaskedAterm {
    /// The text with `drv`'s outputs, their paths now known, filled in:
    /// the escaped strings are copied, not written again.
    pub(crate) fn fill_outputs(&self, drv: &Derivation, store_dir: &StoreDir) -> Aterm {
        let (masked, slots) = (&self.aterm, &self.slots);
        let mut text = String::with_capacity(masked.text.len() + 128 * drv.outputs.len());
        text.push_str("Derive([");
        write_list(&mut text, drv.outputs.iter(), |out, (name, output)| {
            write_output(out, name, output, store_dir, false);
        });
        let shift = text.len();
        let mut copied = slots.outputs_end;
        for (at, name) in &slots.env_values {
            text.push_str(masked.text.get(copied..*at).unwrap_or_default());
            match drv.outputs.get(name).and_then(|o| o.path.as_ref()) {
                Some(path) => write_path(&mut text, store_dir, path),
                None => text.push_str("\"\""),
            }
            // Past the blank `""`.
            copied = at + 2;
        }
        text.push_str(masked.text.get(copied..).unwrap_or_default());
        let moved = |i: usize| i - slots.outputs_end + shift;
        Aterm {
            text,
            inputs: moved(masked.inputs.start)..moved(masked.inputs.end),
        }
    }
}

/// Writes the items of the input derivations' list.
pub(crate) fn write_input_list<'a, K: 'a>(
    out: &mut String,
    input_drvs: impl Iterator<Item = (&'a K, &'a BTreeSet<String>)>,
    write_key: impl Fn(&mut String, &K),
) {
    write_list(out, input_drvs, |out, (key, outputs)| {
        out.push('(');
        write_key(out, key);
        out.push_str(",[");
        write_list(out, outputs.iter(), |out, name| write_string(out, name));
        out.push_str("])");
    });
}

fn write_output(
    out: &mut String,
    name: &str,
    output: &DerivationOutput,
    store_dir: &StoreDir,
    mask: bool,
) {
    out.push('(');
    write_string(out, name);
    out.push(',');
    match (&output.path, mask) {
        (Some(path), false) => write_path(out, store_dir, path),
        _ => write_string(out, ""),
    }
    out.push(',');
    match &output.fixed {
        Some(fixed) => {
            write_string(out, &fixed.algo_field());
            out.push(',');
            write_string(out, &fixed.hash.encode(Encoding::Base16));
        }
        None => out.push_str("\"\",\"\""),
    }
    out.push(')');
}

fn write_list<I: Iterator>(
    out: &mut String,
    items: I,
    mut write_item: impl FnMut(&mut String, I::Item),
) {
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_item(out, item);
    }
}

/// Writes a store path as a quoted ATerm string: a store path has nothing
/// to escape.
fn write_path(out: &mut String, store_dir: &StoreDir, path: &StorePath) {
    out.push('"');
    store_dir.push_display(out, path);
    out.push('"');
}

/// Returns where the first byte that an ATerm string escapes is.
///
/// Eight bytes at a time: most strings (paths, names, flags) have nothing
/// to escape, and derivation graphs write hundreds of thousands of them.
fn find_escaped(text: &str) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    // The high bit of each byte of `word` equal to `byte` (and maybe of
    // bytes after it; only the lowest one is used).
    let equal = |word: u64, byte: u8| {
        let x = word ^ (ONES * u64::from(byte));
        x.wrapping_sub(ONES) & !x & HIGHS
    };
    let bytes = text.as_bytes();
    let mut chunks = bytes.chunks_exact(8);
    let mut offset = 0;
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let word = u64::from_le_bytes(word);
        let found = equal(word, b'"')
            | equal(word, b'\\')
            | equal(word, b'\n')
            | equal(word, b'\r')
            | equal(word, b'\t');
        if found != 0 {
            return Some(offset + found.trailing_zeros() as usize / 8);
        }
        offset += 8;
    }
    let tail = chunks.remainder();
    let at = tail
        .iter()
        .position(|b| matches!(b, b'"' | b'\\' | b'\n' | b'\r' | b'\t'))?;
    Some(offset + at)
}

/// Writes a quoted, escaped ATerm string.
pub(crate) fn write_string(out: &mut String, text: &str) {
    out.reserve(text.len() + 2);
    out.push('"');
    let mut rest = text;
    while let Some(at) = find_escaped(rest) {
        let (plain, tail) = rest.split_at(at);
        out.push_str(plain);
        let mut chars = tail.chars();
        let escape = match chars.next() {
            Some('"') => "\\\"",
            Some('\\') => "\\\\",
            Some('\n') => "\\n",
            Some('\r') => "\\r",
            _ => "\\t",
        };
        out.push_str(escape);
        rest = chars.as_str();
    }
    out.push_str(rest);
    out.push('"');
}
