//! `builtins.toJSON` and `builtins.fromJSON` with Nix 2.8's rules: sets
//! with `outPath` become that string, paths are copied to the store,
//! floats print like `%g`, numbers that fit become integers (large
//! unsigned ones wrap), the last duplicate key wins.

use crate::error::{Error, ErrorKind, Result};
use crate::machine::{CoerceMode, Machine};
use crate::syntax::Pos;
use crate::value::{Context, Sym, Value};

/// Serialises a value to JSON, collecting the context of its strings.
pub fn to_json(machine: &mut Machine, v: &Value, ctx: &mut Context, pos: Pos) -> Result<String> {
    let mut out = String::new();
    write_json(machine, v, ctx, pos, &mut out)?;
    Ok(out)
}

fn write_json(
    machine: &mut Machine,
    v: &Value,
    ctx: &mut Context,
    pos: Pos,
    out: &mut String,
) -> Result<()> {
    machine.charge(1)?;
    let v = machine.force(v)?;
    match &v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::Float(f) => out.push_str(&super::format_float(*f)),
        Value::String(s) => {
            s.merge_context_into(ctx);
            json_string(out, s.as_str());
        }
        Value::Path(_) => {
            let s = machine.coerce_to_string(&v, CoerceMode::Interpolate { copy: true }, pos)?;
            s.merge_context_into(ctx);
            json_string(out, s.as_str());
        }
        Value::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(machine, item, ctx, pos, out)?;
            }
            out.push(']');
        }
        Value::Attrs(attrs) => {
            if attrs.get("__toString").is_some() {
                let s =
                    machine.coerce_to_string(&v, CoerceMode::Interpolate { copy: false }, pos)?;
                s.merge_context_into(ctx);
                json_string(out, s.as_str());
                return Ok(());
            }
            if let Some(out_path) = attrs.get("outPath") {
                let out_path = out_path.clone();
                return write_json(machine, &out_path, ctx, pos, out);
            }
            out.push('{');
            for (i, a) in attrs.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json_string(out, a.name.as_str());
                out.push(':');
                write_json(machine, &a.value, ctx, pos, out)
                    .map_err(|e| e.frame(|| format!("evaluating attribute '{}'", a.name), a.pos))?;
            }
            out.push('}');
        }
        other => {
            let message = format!("cannot convert {} to JSON", other.type_desc());
            return Err(Error::new(ErrorKind::Builtin { message }).at(pos));
        }
    }
    Ok(())
}

/// Writes a JSON string literal with Nix's escapes.
pub fn json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Parses JSON into a Nix value.
pub fn from_json(text: &str) -> Result<Value> {
    let parsed: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        Error::new(ErrorKind::Builtin {
            message: format!("while decoding JSON: {e}"),
        })
    })?;
    Ok(convert(parsed))
}

fn convert(v: serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(b),
        serde_json::Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::Int(i)
            } else if let Some(u) = n.as_u64() {
                Value::Int(u as i64)
            } else {
                // serde_json reads `-0` as a float; Nix reads it as the integer 0.
                let f = n.as_f64().unwrap_or(0.0);
                if f == 0.0 && f.is_sign_negative() {
                    Value::Int(0)
                } else {
                    Value::Float(f)
                }
            }
        }
        serde_json::Value::String(s) => Value::string(s),
        serde_json::Value::Array(items) => Value::list(items.into_iter().map(convert).collect()),
        serde_json::Value::Object(map) => {
            let pairs: Vec<(Sym, Value)> = map
                .into_iter()
                .map(|(k, v)| (Sym::new(&k), convert(v)))
                .collect();
            Value::attrs(crate::value::Attrs::from_pairs(pairs))
        }
    }
}
