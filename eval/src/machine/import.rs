//! Loading source: files (`import`, with a cache), strings (`-E`),
//! `scopedImport`, and the search path behind `<name>`.

use std::rc::Rc;

use super::Machine;
use crate::error::{Error, ErrorKind, Result};
use crate::io::FileType;
use crate::lower::ir::Expr;
use crate::lower::scope::{Scope, StaticScope};
use crate::lower::{self, LowerContext};
use crate::syntax::{self, Origin, Pos};
use crate::value::{Attrs, EnvFrame, Sym, Value};

/// Where `<nix/…>` points when no search path entry has it (Nix's
/// built-in "corepkgs").
const COREPKGS: &str = "/__corepkgs__/";

/// `<nix/fetchurl.nix>`: a fixed-output derivation using the built-in
/// `builtin:fetchurl` builder.
const FETCHURL_NIX: &str = r#"
{ system ? "", url, hash ? "", sha256 ? "", sha1 ? "", md5 ? "", outputHash ? null
, outputHashAlgo ? null, executable ? false, unpack ? false
, name ? baseNameOf (toString url), impure ? false }:
let
  algo = if hash != "" then "" else if sha256 != "" then "sha256" else if sha1 != "" then "sha1" else "md5";
  digest = if hash != "" then hash else if sha256 != "" then sha256 else if sha1 != "" then sha1 else md5;
in derivation ({
  builder = "builtin:fetchurl";
  system = "builtin";
  outputHashMode = if unpack || executable then "recursive" else "flat";
  inherit name url executable unpack;
  preferLocalBuild = true;
  impureEnvVars = [ "http_proxy" "https_proxy" "ftp_proxy" "all_proxy" "no_proxy" ];
  urls = [ url ];
} // (if impure then { __impure = true; } else {
  outputHashAlgo = if outputHashAlgo != null then outputHashAlgo else algo;
  outputHash = if outputHash != null then outputHash else digest;
}))
"#;

/// One search path entry: `prefix=path` or just `path`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchPathEntry {
    /// The prefix (`nixpkgs` in `nixpkgs=/src`), empty for none.
    pub prefix: String,
    /// The path.
    pub path: String,
}

impl SearchPathEntry {
    /// Parses `prefix=path` or `path`.
    pub fn parse(s: &str) -> SearchPathEntry {
        match s.split_once('=') {
            Some((prefix, path)) => SearchPathEntry {
                prefix: prefix.to_owned(),
                path: path.to_owned(),
            },
            None => SearchPathEntry {
                prefix: String::new(),
                path: s.to_owned(),
            },
        }
    }
}

impl Machine {
    /// Parses and lowers a source text (registered under `origin`).
    pub fn compile(
        &mut self,
        text: &str,
        origin: Origin,
        base_dir: &str,
        extra: Option<Rc<StaticScope>>,
    ) -> Result<Rc<Expr>> {
        let file = syntax::add_source(origin, Rc::from(text));
        let root = syntax::parse(file)?;
        let ctx = LowerContext {
            file,
            base_dir: base_dir.to_owned(),
            home: self.options.home.clone(),
        };
        let mut outer = vec![Scope::Static(self.base_scope.clone())];
        if let Some(extra) = extra {
            outer.push(Scope::Static(extra));
        }
        lower::lower(&root, ctx, outer)
    }

    /// Evaluates an expression given as text, relative to `base_dir`.
    pub fn eval_string(&mut self, text: &str, base_dir: &str) -> Result<Value> {
        let expr = self.compile(text, Origin::String, base_dir, None)?;
        let env = self.base_env.clone();
        self.eval(&expr, &env)
    }

    /// Resolves an imported path: a directory means its `default.nix`.
    pub fn resolve_import(&mut self, path: &str) -> Result<String> {
        let io = self.io.clone();
        match io.path_type(path).map_err(|e| e.into_error())? {
            Some(FileType::Directory) => Ok(format!("{}/default.nix", path.trim_end_matches('/'))),
            _ => Ok(path.to_owned()),
        }
    }

    /// Reads, parses and lowers a file.
    pub fn compile_file(&mut self, path: &str, extra: Option<Rc<StaticScope>>) -> Result<Rc<Expr>> {
        if path == format!("{COREPKGS}fetchurl.nix") {
            return self.compile(FETCHURL_NIX, Origin::File(path.to_owned()), "/", extra);
        }
        let io = self.io.clone();
        let bytes = io.read_file(path).map_err(|e| e.into_error())?;
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let base_dir = parent_dir(path);
        self.compile(&text, Origin::File(path.to_owned()), &base_dir, extra)
    }

    /// `import path`: evaluates a file once per evaluation.
    pub fn import_file(&mut self, path: &str, pos: Pos) -> Result<Value> {
        let path = self.resolve_import(path)?;
        if let Some(v) = self.import_cache.get(&path) {
            return Ok(v.clone());
        }
        let expr = self.compile_file(&path, None).map_err(|e| e.at(pos))?;
        let env = self.base_env.clone();
        let v = self.eval(&expr, &env)?;
        self.import_cache.insert(path, v.clone());
        Ok(v)
    }

    /// `scopedImport attrs path`: the file sees `attrs` as variables in
    /// front of the builtins.
    pub fn scoped_import(&mut self, attrs: &Attrs, path: &str, pos: Pos) -> Result<Value> {
        let path = self.resolve_import(path)?;
        let names: Vec<Sym> = attrs.iter().map(|a| a.name.clone()).collect();
        let values: Vec<Value> = attrs.iter().map(|a| a.value.clone()).collect();
        let scope = Rc::new(StaticScope::new(names));
        let expr = self
            .compile_file(&path, Some(scope))
            .map_err(|e| e.at(pos))?;
        let env = EnvFrame::new(values, Some(self.base_env.clone()));
        self.eval(&expr, &env)
    }

    /// Returns `__nixPath`: the search path as a list of `{ path, prefix }`.
    pub fn nix_path_value(&self) -> Value {
        let items = self
            .options
            .search_path
            .iter()
            .map(|e| {
                Value::attrs(Attrs::from_pairs([
                    (Sym::new("path"), Value::string(e.path.as_str())),
                    (Sym::new("prefix"), Value::string(e.prefix.as_str())),
                ]))
            })
            .collect();
        Value::list(items)
    }

    /// `findFile searchPath name`: the first entry under which `name`
    /// exists; then the tool's own entries
    /// ([`EvalOptions::builtin_search_path`](super::EvalOptions), not part
    /// of `builtins.nixPath`), then Nix's `<nix/…>` corepkgs.
    pub fn find_file(
        &mut self,
        entries: &[(String, String)],
        name: &str,
        pos: Pos,
    ) -> Result<Value> {
        let builtin: Vec<(String, String)> = self
            .options
            .builtin_search_path
            .iter()
            .map(|e| (e.prefix.clone(), e.path.clone()))
            .collect();
        for (prefix, path) in entries.iter().chain(&builtin) {
            if let Some(found) = self.search_entry(prefix, path, name)? {
                return Ok(Value::Path(Rc::new(found)));
            }
        }
        if let Some(rest) = name.strip_prefix("nix/") {
            return Ok(Value::Path(Rc::new(format!("{COREPKGS}{rest}"))));
        }
        Err(Error::new(ErrorKind::NotInSearchPath {
            name: name.to_owned(),
        })
        .at(pos))
    }

    /// The path `name` has under one search path entry, if it exists.
    fn search_entry(&self, prefix: &str, path: &str, name: &str) -> Result<Option<String>> {
        let candidate = if prefix.is_empty() {
            format!("{path}/{name}")
        } else if name == prefix {
            path.to_owned()
        } else if let Some(rest) = name.strip_prefix(prefix).and_then(|r| r.strip_prefix('/')) {
            format!("{path}/{rest}")
        } else {
            return Ok(None);
        };
        let candidate = if candidate.starts_with('/') {
            candidate
        } else {
            format!("{}/{candidate}", self.options.cwd)
        };
        let candidate = lower::canon_path(&candidate);
        let exists = self
            .io
            .path_type(&candidate)
            .map_err(|e| e.into_error())?
            .is_some();
        Ok(exists.then_some(candidate))
    }
}

/// Returns the directory part of an absolute path.
pub fn parent_dir(path: &str) -> String {
    match path.rfind('/') {
        Some(0) | None => "/".to_owned(),
        Some(i) => path[..i].to_owned(),
    }
}
