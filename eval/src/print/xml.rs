//! `builtins.toXML` and `nix-instantiate --xml`: Nix 2.8's XML rendering
//! of values, with or without source locations.

use std::collections::HashSet;

use crate::error::Result;
use crate::lower::ir::Param;
use crate::machine::Machine;
use crate::syntax::{self, Origin, Pos};
use crate::value::{Context, Value};

/// Options of the XML printer.
#[derive(Clone, Copy, Debug)]
pub struct XmlOptions {
    /// Force values (otherwise unevaluated thunks print as `<unevaluated />`).
    pub strict: bool,
    /// Write `line`, `column` and `path` of attributes and functions.
    pub location: bool,
}

struct Writer<'a> {
    machine: &'a mut Machine,
    options: XmlOptions,
    out: String,
    depth: usize,
    context: &'a mut Context,
    drvs_seen: HashSet<String>,
}

/// Renders a value as an XML document.
pub fn to_xml(
    machine: &mut Machine,
    v: &Value,
    options: XmlOptions,
    context: &mut Context,
) -> Result<String> {
    let mut w = Writer {
        machine,
        options,
        out: String::new(),
        depth: 1,
        context,
        drvs_seen: HashSet::new(),
    };
    w.out
        .push_str("<?xml version='1.0' encoding='utf-8'?>\n<expr>\n");
    w.value(v)?;
    w.out.push_str("</expr>\n");
    Ok(w.out)
}

fn escape(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '"' => out.push_str("&quot;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\n' => out.push_str("&#xA;"),
            c => out.push(c),
        }
    }
}

impl Writer<'_> {
    fn indent(&mut self) {
        for _ in 0..self.depth {
            self.out.push_str("  ");
        }
    }

    fn attrs_text(&self, attrs: &[(&str, String)]) -> String {
        let mut sorted: Vec<&(&str, String)> = attrs.iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(b.0));
        let mut s = String::new();
        for (k, v) in sorted {
            s.push(' ');
            s.push_str(k);
            s.push_str("=\"");
            escape(&mut s, v);
            s.push('"');
        }
        s
    }

    fn empty(&mut self, name: &str, attrs: &[(&str, String)]) {
        self.indent();
        let a = self.attrs_text(attrs);
        self.out.push_str(&format!("<{name}{a} />\n"));
    }

    fn open(&mut self, name: &str, attrs: &[(&str, String)]) {
        self.indent();
        let a = self.attrs_text(attrs);
        self.out.push_str(&format!("<{name}{a}>\n"));
        self.depth += 1;
    }

    fn close(&mut self, name: &str) {
        self.depth -= 1;
        self.indent();
        self.out.push_str(&format!("</{name}>\n"));
    }

    fn location(&self, pos: Pos, attrs: &mut Vec<(&'static str, String)>) {
        if !self.options.location {
            return;
        }
        if let Some(src) = syntax::source(pos.file) {
            let (line, column) = src.line_col(pos.offset);
            let path = match &src.origin {
                Origin::File(p) => p.clone(),
                Origin::String => src.text.to_string(),
            };
            attrs.push(("column", column.to_string()));
            attrs.push(("line", line.to_string()));
            attrs.push(("path", path));
        }
    }

    fn value(&mut self, v: &Value) -> Result<()> {
        let v = if self.options.strict {
            self.machine.force(v)?
        } else {
            settled(v)
        };
        match &v {
            Value::Null => self.empty("null", &[]),
            Value::Bool(b) => self.empty("bool", &[("value", b.to_string())]),
            Value::Int(i) => self.empty("int", &[("value", i.to_string())]),
            Value::Float(f) => self.empty("float", &[("value", super::format_float(*f))]),
            Value::String(s) => {
                s.merge_context_into(self.context);
                self.empty("string", &[("value", s.as_str().to_owned())]);
            }
            Value::Path(p) => self.empty("path", &[("value", p.to_string())]),
            Value::List(items) => {
                self.open("list", &[]);
                for item in items.iter() {
                    self.value(item)?;
                }
                self.close("list");
            }
            Value::Attrs(attrs) => self.attrs(attrs)?,
            Value::Lambda(c) => {
                let mut attrs = Vec::new();
                self.location(c.lambda.pos, &mut attrs);
                self.open("function", &attrs);
                match &c.lambda.param {
                    Param::Ident(name) => self.empty("varpat", &[("name", name.to_string())]),
                    Param::Pattern {
                        formals,
                        ellipsis,
                        bind,
                    } => {
                        let mut pat = Vec::new();
                        if *ellipsis {
                            pat.push(("ellipsis", "1".to_owned()));
                        }
                        if let Some(b) = bind {
                            pat.push(("name", b.to_string()));
                        }
                        self.open("attrspat", &pat);
                        let mut names: Vec<&str> =
                            formals.iter().map(|f| f.name.as_str()).collect();
                        names.sort_unstable();
                        for name in names {
                            self.empty("attr", &[("name", name.to_owned())]);
                        }
                        self.close("attrspat");
                    }
                }
                self.close("function");
            }
            _ => self.empty("unevaluated", &[]),
        }
        Ok(())
    }

    fn attrs(&mut self, attrs: &crate::value::Attrs) -> Result<()> {
        if self.machine.is_derivation(attrs)? {
            let mut xa = Vec::new();
            let mut drv_path = String::new();
            for (key, name) in [("drvPath", "drvPath"), ("outPath", "outPath")] {
                if let Some(v) = attrs.get(name) {
                    let v = if self.options.strict {
                        self.machine.force(v)?
                    } else {
                        settled(v)
                    };
                    if let Value::String(s) = v {
                        if key == "drvPath" {
                            drv_path = s.as_str().to_owned();
                        }
                        xa.push((key, s.as_str().to_owned()));
                    }
                }
            }
            self.open("derivation", &xa);
            if !drv_path.is_empty() && self.drvs_seen.insert(drv_path) {
                self.attr_list(attrs)?;
            } else {
                self.empty("repeated", &[]);
            }
            self.close("derivation");
            return Ok(());
        }
        self.open("attrs", &[]);
        self.attr_list(attrs)?;
        self.close("attrs");
        Ok(())
    }

    fn attr_list(&mut self, attrs: &crate::value::Attrs) -> Result<()> {
        for a in attrs.iter() {
            let mut xa = vec![("name", a.name.to_string())];
            self.location(a.pos, &mut xa);
            self.open("attr", &xa);
            self.value(&a.value)?;
            self.close("attr");
        }
        Ok(())
    }
}

fn settled(v: &Value) -> Value {
    match v {
        Value::Thunk(t) => t.value().unwrap_or_else(|| v.clone()),
        other => other.clone(),
    }
}
