//! `hashString` and `hashFile` (base16 digests), on `kiln-store`'s hashes.

use std::str::FromStr;

use kiln_store::hash::{Encoding, Hash, HashAlgo};

use super::{Entry, R, arity, fail};
use crate::error::Result;
use crate::machine::Machine;
use crate::syntax::Pos;
use crate::value::Value;

pub(crate) const PRIMOPS: &[Entry] = &[("hashString", 2, hash_string), ("hashFile", 2, hash_file)];

fn algo(m: &mut Machine, v: &Value) -> Result<HashAlgo> {
    let name = m.force_string_no_context(v, Pos::NONE)?;
    HashAlgo::from_str(&name).map_err(|_| fail(format!("unknown hash algorithm '{name}'")))
}

fn hash_string(m: &mut Machine, args: &[Value]) -> R {
    let [a, s] = args else { return Err(arity()) };
    let algo = algo(m, a)?;
    let s = m.force_string(s, Pos::NONE)?;
    Ok(Value::string(
        Hash::digest(algo, s.as_str().as_bytes()).encode(Encoding::Base16),
    ))
}

fn hash_file(m: &mut Machine, args: &[Value]) -> R {
    let [a, p] = args else { return Err(arity()) };
    let algo = algo(m, a)?;
    let (path, _) = m.coerce_to_path(p, Pos::NONE)?;
    let bytes = m.io.read_file(&path).map_err(|e| e.into_error())?;
    Ok(Value::string(
        Hash::digest(algo, &bytes).encode(Encoding::Base16),
    ))
}

/// Nix's `hashPlaceholder`: `/` + nixbase32(sha256("nix-output:<name>")).
pub fn placeholder(output: &str) -> String {
    let h = Hash::digest(HashAlgo::Sha256, format!("nix-output:{output}").as_bytes());
    format!("/{}", h.encode(Encoding::Nixbase32))
}
