//! Writing derivations in Nix's ATerm format.
//!
//! `Derive([outputs],[input drvs],[input srcs],"platform","builder",[args],[env])`,
//! every list in sorted order, strings in double quotes with `"`, `\`,
//! newline, carriage return and tab escaped.

use std::collections::{BTreeMap, BTreeSet};

use super::{Derivation, DerivationOutput};
use crate::hash::Encoding;
use crate::store_path::StoreDir;

impl Derivation {
    /// Returns the ATerm text of this derivation, exactly as Nix writes it.
    pub fn to_aterm(&self, store_dir: &StoreDir) -> String {
        let input_drvs = self
            .input_drvs
            .iter()
            .map(|(path, outputs)| (store_dir.display(path), outputs.clone()))
            .collect();
        self.to_aterm_with_inputs(store_dir, &input_drvs, false)
    }

    /// Writes the ATerm with input derivations given as text keys (real
    /// paths, or the hashes `hashDerivationModulo` puts in their place), and
    /// with the outputs' paths blanked when `mask_outputs` is set.
    pub(crate) fn to_aterm_with_inputs(
        &self,
        store_dir: &StoreDir,
        input_drvs: &BTreeMap<String, BTreeSet<String>>,
        mask_outputs: bool,
    ) -> String {
        let mut out = String::with_capacity(1024);
        out.push_str("Derive([");
        write_list(&mut out, self.outputs.iter(), |out, (name, output)| {
            write_output(out, name, output, store_dir, mask_outputs);
        });
        out.push_str("],[");
        write_list(&mut out, input_drvs.iter(), |out, (path, outputs)| {
            out.push('(');
            write_string(out, path);
            out.push_str(",[");
            write_list(out, outputs.iter(), |out, name| write_string(out, name));
            out.push_str("])");
        });
        out.push_str("],[");
        write_list(&mut out, self.input_srcs.iter(), |out, path| {
            write_string(out, &store_dir.display(path));
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
            let value = if mask_outputs && self.outputs.contains_key(key) {
                ""
            } else {
                value.as_str()
            };
            out.push('(');
            write_string(out, key);
            out.push(',');
            write_string(out, value);
            out.push(')');
        });
        out.push_str("])");
        out
    }
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
        (Some(path), false) => write_string(out, &store_dir.display(path)),
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

/// The bytes an ATerm string escapes.
static ESCAPED: [bool; 256] = {
    let mut table = [false; 256];
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table[b'\n' as usize] = true;
    table[b'\r' as usize] = true;
    table[b'\t' as usize] = true;
    table
};

/// Writes a quoted, escaped ATerm string.
pub(crate) fn write_string(out: &mut String, text: &str) {
    out.reserve(text.len() + 2);
    out.push('"');
    let mut rest = text;
    while let Some(at) = rest.bytes().position(|b| ESCAPED[usize::from(b)]) {
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
