//! Serialisation: `toJSON`, `fromJSON`, `fromTOML`, `toXML`.

use super::{Entry, R, arity, fail};
use crate::machine::Machine;
use crate::print::{json, xml};
use crate::syntax::Pos;
use crate::value::{Attrs, Context, NixString, Sym, Value};

pub(crate) const PRIMOPS: &[Entry] = &[
    ("toJSON", 1, to_json),
    ("fromJSON", 1, from_json),
    ("fromTOML", 1, from_toml),
    ("toXML", 1, to_xml),
];

fn to_json(m: &mut Machine, args: &[Value]) -> R {
    let [v] = args else { return Err(arity()) };
    let mut ctx = Context::new();
    let text = json::to_json(m, v, &mut ctx, Pos::NONE)?;
    Ok(Value::from_nix_string(NixString::with_context(text, ctx)))
}

fn from_json(m: &mut Machine, args: &[Value]) -> R {
    let [v] = args else { return Err(arity()) };
    let s = m.force_string(v, Pos::NONE)?;
    json::from_json(s.as_str())
}

fn to_xml(m: &mut Machine, args: &[Value]) -> R {
    let [v] = args else { return Err(arity()) };
    let mut ctx = Context::new();
    let options = xml::XmlOptions {
        strict: true,
        location: false,
    };
    let text = xml::to_xml(m, v, options, &mut ctx)?;
    Ok(Value::from_nix_string(NixString::with_context(text, ctx)))
}

fn from_toml(m: &mut Machine, args: &[Value]) -> R {
    let [v] = args else { return Err(arity()) };
    let s = m.force_string(v, Pos::NONE)?;
    let table: toml::Table = s.as_str().parse().map_err(|e: toml::de::Error| {
        fail(format!("while parsing a TOML string: {}", e.message()))
    })?;
    convert(toml::Value::Table(table))
}

fn convert(v: toml::Value) -> R {
    Ok(match v {
        toml::Value::String(s) => Value::string(s),
        toml::Value::Integer(i) => Value::Int(i),
        toml::Value::Float(f) => Value::Float(f),
        toml::Value::Boolean(b) => Value::Bool(b),
        toml::Value::Datetime(d) => {
            return Err(fail(format!(
                "while parsing a TOML string: unsupported type: date-time `{d}`"
            )));
        }
        toml::Value::Array(items) => {
            Value::list(items.into_iter().map(convert).collect::<Result<_, _>>()?)
        }
        toml::Value::Table(t) => {
            let mut pairs = Vec::with_capacity(t.len());
            for (k, v) in t {
                pairs.push((Sym::new(&k), convert(v)?));
            }
            Value::attrs(Attrs::from_pairs(pairs))
        }
    })
}
