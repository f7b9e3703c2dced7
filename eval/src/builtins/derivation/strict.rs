//! `derivationStrict`: a set of attributes becomes a [`Derivation`], written
//! to the store as a `.drv` file, as Nix 2.8's `prim_derivationStrict` does.
//!
//! Every attribute but `args` and `__ignoreNulls` goes to the builder's
//! environment (coerced to a string, paths copied to the store), or, with
//! `__structuredAttrs = true`, into one JSON object in `__json`. `builder`,
//! `system`, `outputs` and the `outputHash*` attributes also shape the
//! derivation itself. The contexts of all those strings name its inputs.
//! Output paths are then computed the way Nix does (fixed-output, or from
//! the hash of the derivation modulo its inputs), the `.drv` is written
//! through the [`Io`](crate::io::Io), and its hash modulo is remembered for
//! the derivations that will use it.

use std::collections::{BTreeSet, HashMap};

use kiln_store::derivation::{Derivation, DerivationOutput, DrvHashes, FixedOutputHash};
use kiln_store::hash::{Hash, HashAlgo};
use kiln_store::store_path::{FileIngestionMethod, StoreDir, StorePath};

use super::context::ContextRef;
use crate::builtins::fail;
use crate::error::{Error, Result};
use crate::machine::{CoerceMode, Machine};
use crate::print::json::{json_string, to_json};
use crate::syntax::Pos;
use crate::value::{Attr, Attrs, Context, NixString, Sym, Value};

/// What an evaluation knows about the derivations and texts it wrote: the
/// hashes modulo of `.drv`s, and the references of every text (`.drv`s and
/// `toFile` outputs), which `=<drv>` contexts need to compute closures.
#[derive(Default)]
pub(crate) struct DrvState {
    hashes: DrvHashes,
    references: HashMap<String, BTreeSet<String>>,
}

impl DrvState {
    /// Records the references of a text this evaluation added.
    pub(crate) fn record_text(&mut self, path: String, references: BTreeSet<String>) {
        self.references.insert(path, references);
    }
}

/// The derivation being assembled from the attributes.
struct Draft {
    name: String,
    drv: Derivation,
    outputs: BTreeSet<String>,
    output_hash: Option<String>,
    output_hash_algo: Option<String>,
    method: Option<FileIngestionMethod>,
    context: Context,
    json: Option<String>,
    /// The environment, in the order the attributes come (by name):
    /// collected here and made a map once, at the end.
    env: Vec<(String, String)>,
}

/// Builds, writes and returns the derivation for `attrs`: its `.drv` path
/// and output paths, each a string with the context Nix gives it.
pub(crate) fn derivation_strict(m: &mut Machine, attrs: &Attrs) -> Result<Value> {
    let name_value = attrs
        .get("name")
        .cloned()
        .ok_or_else(|| fail("required attribute 'name' missing"))?;
    let name = m
        .force_string_no_context(&name_value, Pos::NONE)
        .map_err(|e| {
            e.frame(
                || "evaluating the derivation attribute 'name'".into(),
                Pos::NONE,
            )
        })?;
    let structured = flag(m, attrs, "__structuredAttrs")?;
    let ignore_nulls = flag(m, attrs, "__ignoreNulls")?;
    let mut draft = Draft {
        name,
        drv: Derivation::default(),
        outputs: BTreeSet::from(["out".to_owned()]),
        output_hash: None,
        output_hash_algo: None,
        method: None,
        context: Context::new(),
        json: structured.then(String::new),
        env: Vec::with_capacity(attrs.len()),
    };
    for attr in attrs.iter() {
        let key = attr.name.as_str();
        if key == "__ignoreNulls" {
            continue;
        }
        draft.attribute(m, attr, ignore_nulls).map_err(|e| {
            let drv_name = draft.name.clone();
            e.frame(
                || format!("evaluating the attribute '{key}' of the derivation '{drv_name}'"),
                attr.pos,
            )
        })?;
    }
    if let Some(mut json) = draft.json.take() {
        json.insert(0, '{');
        json.push('}');
        draft.env.push(("__json".to_owned(), json));
    }
    let (drv_path, drv) = draft.finish(m)?;
    Ok(result(&drv_path, &drv, &m.options.store_dir))
}

fn flag(m: &mut Machine, attrs: &Attrs, name: &str) -> Result<bool> {
    match attrs.get(name).cloned() {
        Some(v) => m.expect_bool(&v, Pos::NONE),
        None => Ok(false),
    }
}

impl Draft {
    /// Takes one attribute into the derivation.
    fn attribute(&mut self, m: &mut Machine, attr: &Attr, ignore_nulls: bool) -> Result<()> {
        let key = attr.name.as_str();
        if ignore_nulls && matches!(m.force(&attr.value)?, Value::Null) {
            return Ok(());
        }
        match key {
            "__contentAddressed" | "__impure" => Err(fail(format!(
                "the attribute '{key}' needs an experimental feature kiln does not support"
            ))),
            "args" => {
                let items = m.force_list(&attr.value, attr.pos)?;
                for item in items.iter() {
                    let s = self.coerce(m, item, attr.pos)?;
                    self.drv.args.push(s);
                }
                Ok(())
            }
            _ if self.json.is_some() => self.json_attribute(m, attr),
            _ => {
                let s = self.coerce(m, &attr.value, attr.pos)?;
                self.special(key, &s)?;
                self.env.push((key.to_owned(), s));
                Ok(())
            }
        }
    }

    /// Coerces like `toString` with paths copied to the store, keeping the
    /// context.
    fn coerce(&mut self, m: &mut Machine, v: &Value, pos: Pos) -> Result<String> {
        let s = m.coerce_to_string(v, CoerceMode::ToStringCopy, pos)?;
        s.merge_context_into(&mut self.context);
        Ok(NixString::into_text(s))
    }

    /// The attributes that shape the derivation, in environment mode.
    fn special(&mut self, key: &str, s: &str) -> Result<()> {
        match key {
            "builder" => self.drv.builder = s.to_owned(),
            "system" => self.drv.platform = s.to_owned(),
            "outputHash" => self.output_hash = Some(s.to_owned()),
            "outputHashAlgo" => self.output_hash_algo = Some(s.to_owned()),
            "outputHashMode" => self.method = Some(hash_mode(s)?),
            "outputs" => {
                self.set_outputs(s.split([' ', '\t', '\n', '\r']).filter(|o| !o.is_empty()))?
            }
            _ => {}
        }
        Ok(())
    }

    /// One attribute of a structured-attributes derivation.
    fn json_attribute(&mut self, m: &mut Machine, attr: &Attr) -> Result<()> {
        let key = attr.name.as_str();
        if key == "__structuredAttrs" {
            return Ok(());
        }
        let value = to_json(m, &attr.value, &mut self.context, attr.pos)?;
        if let Some(json) = self.json.as_mut() {
            if !json.is_empty() {
                json.push(',');
            }
            json_string(json, key);
            json.push(':');
            json.push_str(&value);
        }
        let string = |m: &mut Machine| m.force_string_no_context(&attr.value, attr.pos);
        match key {
            "builder" => {
                let s = m.force_string(&attr.value, attr.pos)?;
                s.merge_context_into(&mut self.context);
                self.drv.builder = s.as_str().to_owned();
            }
            "system" => self.drv.platform = string(m)?,
            "outputHash" => self.output_hash = Some(string(m)?),
            "outputHashAlgo" => self.output_hash_algo = Some(string(m)?),
            "outputHashMode" => self.method = Some(hash_mode(&string(m)?)?),
            "outputs" => {
                let items = m.force_list(&attr.value, attr.pos)?;
                let mut names = Vec::new();
                for item in items.iter() {
                    names.push(m.force_string_no_context(item, attr.pos)?);
                }
                self.set_outputs(names.iter().map(String::as_str))?;
            }
            _ => {}
        }
        Ok(())
    }

    fn set_outputs<'a>(&mut self, names: impl Iterator<Item = &'a str>) -> Result<()> {
        self.outputs.clear();
        for name in names {
            if name == "drv" {
                return Err(fail("invalid derivation output name 'drv'"));
            }
            if !self.outputs.insert(name.to_owned()) {
                return Err(fail(format!("duplicate derivation output '{name}'")));
            }
        }
        if self.outputs.is_empty() {
            return Err(fail("derivation cannot have an empty set of outputs"));
        }
        Ok(())
    }

    /// Checks the derivation, adds its inputs, computes its output paths
    /// and writes it; returns the `.drv` path and the derivation.
    fn finish(mut self, m: &mut Machine) -> Result<(StorePath, Derivation)> {
        if self.drv.builder.is_empty() {
            return Err(fail("required attribute 'builder' missing"));
        }
        if self.drv.platform.is_empty() {
            return Err(fail("required attribute 'system' missing"));
        }
        if self.name.ends_with(".drv") {
            return Err(fail("derivation names are not allowed to end in '.drv'"));
        }
        // Sorted already, but for `__json`: the map is built in bulk.
        self.drv.env = std::mem::take(&mut self.env).into_iter().collect();
        let store_dir = StoreDir::new(m.options.store_dir.clone());
        self.add_inputs(m, &store_dir)?;
        self.set_output_slots(m)?;
        ensure_input_hashes(m, &self.drv, &store_dir)?;
        let mut drv = self.drv;
        let (aterm, hash_modulo) = drv
            .fill_output_paths_and_aterm(&store_dir, &m.derivations.hashes, &self.name)
            .map_err(|e| fail(e.to_string()))?;
        let file_name = format!("{}.drv", self.name);
        let references = drv.references();
        let drv_path = store_dir
            .make_text_path(&file_name, aterm.text().as_bytes(), &references)
            .map_err(|e| fail(format!("invalid derivation name '{}': {e}", self.name)))?;
        m.derivations
            .hashes
            .insert_hash(drv_path.clone(), hash_modulo);
        // Its references are not recorded: a `=<drv>` context reads them back
        // from the text when it needs them, which most evaluations never do.
        m.io.add_derivation(&drv_path, &file_name, aterm.into_text(), &references)
            .map_err(|e| e.into_error())?;
        Ok((drv_path, drv))
    }

    /// Turns the collected context into input sources and derivations.
    fn add_inputs(&mut self, m: &mut Machine, store_dir: &StoreDir) -> Result<()> {
        let context = std::mem::take(&mut self.context);
        for elem in context.iter() {
            match ContextRef::parse(elem) {
                ContextRef::Opaque(path) => {
                    self.drv.input_srcs.insert(parse_path(store_dir, path)?);
                }
                ContextRef::Output { output, drv } => {
                    let drv = parse_path(store_dir, drv)?;
                    let outputs = self.drv.input_drvs.entry(drv).or_default();
                    if !outputs.contains(output) {
                        outputs.insert(output.to_owned());
                    }
                }
                ContextRef::AllOutputs(drv) => {
                    for path in closure(m, drv)? {
                        let sp = parse_path(store_dir, &path)?;
                        if sp.is_derivation() {
                            let outputs = read_derivation(m, &path, store_dir)?
                                .outputs
                                .into_keys()
                                .collect::<BTreeSet<_>>();
                            self.drv.input_drvs.insert(sp.clone(), outputs);
                        }
                        self.drv.input_srcs.insert(sp);
                    }
                }
            }
        }
        Ok(())
    }

    /// Declares the outputs: one fixed output, or input-addressed ones.
    fn set_output_slots(&mut self, m: &Machine) -> Result<()> {
        let Some(text) = self.output_hash.take() else {
            for output in &self.outputs {
                let slot = DerivationOutput {
                    path: None,
                    fixed: None,
                };
                self.drv.outputs.insert(output.clone(), slot);
            }
            return Ok(());
        };
        if self.outputs.len() != 1 || !self.outputs.contains("out") {
            return Err(fail(
                "multiple outputs are not supported in fixed-output derivations",
            ));
        }
        let algo = self
            .output_hash_algo
            .as_deref()
            .and_then(|a| a.parse::<HashAlgo>().ok());
        let hash = parse_output_hash(m, &text, algo)?;
        let fixed = FixedOutputHash {
            method: self.method.unwrap_or(FileIngestionMethod::Flat),
            hash,
        };
        let slot = DerivationOutput {
            path: None,
            fixed: Some(fixed),
        };
        self.drv.outputs.insert("out".to_owned(), slot);
        Ok(())
    }
}

fn hash_mode(s: &str) -> Result<FileIngestionMethod> {
    match s {
        "recursive" => Ok(FileIngestionMethod::Recursive),
        "flat" => Ok(FileIngestionMethod::Flat),
        _ => Err(fail(format!(
            "invalid value '{s}' for 'outputHashMode' attribute"
        ))),
    }
}

/// Parses `outputHash` as Nix's `newHashAllowEmpty`: an empty hash stands
/// for the all-zero hash of the given algorithm, with a warning.
fn parse_output_hash(m: &Machine, text: &str, algo: Option<HashAlgo>) -> Result<Hash> {
    if text.is_empty() {
        let algo = algo.ok_or_else(|| fail("empty hash requires explicit hash type"))?;
        let zero =
            Hash::from_bytes(algo, &vec![0; algo.size()]).map_err(|e| fail(e.to_string()))?;
        m.io.trace(&format!("warning: found empty hash, assuming '{zero}'"));
        return Ok(zero);
    }
    Hash::parse(text, algo).map_err(|e| fail(format!("invalid 'outputHash' `{text}`: {e}")))
}

fn parse_path(store_dir: &StoreDir, path: &str) -> Result<StorePath> {
    store_dir
        .parse(path)
        .map_err(|e| fail(format!("path '{path}' is not a valid store path: {e}")))
}

/// The store paths `root` refers to, transitively, including itself.
fn closure(m: &mut Machine, root: &str) -> Result<BTreeSet<String>> {
    let mut seen = BTreeSet::new();
    let mut todo = vec![root.to_owned()];
    while let Some(path) = todo.pop() {
        if !seen.insert(path.clone()) {
            continue;
        }
        todo.extend(references(m, &path)?);
    }
    Ok(seen)
}

/// The references of a store path: recorded for texts this evaluation
/// wrote; read from the file for other `.drv`s; none for sources.
fn references(m: &mut Machine, path: &str) -> Result<BTreeSet<String>> {
    if let Some(refs) = m.derivations.references.get(path) {
        return Ok(refs.clone());
    }
    if !path.ends_with(".drv") {
        return Ok(BTreeSet::new());
    }
    let store_dir = StoreDir::new(m.options.store_dir.clone());
    let drv = read_derivation(m, path, &store_dir)?;
    let refs: BTreeSet<String> = drv
        .references()
        .iter()
        .map(|p| store_dir.display(p))
        .collect();
    m.derivations
        .references
        .insert(path.to_owned(), refs.clone());
    Ok(refs)
}

fn read_derivation(m: &Machine, path: &str, store_dir: &StoreDir) -> Result<Derivation> {
    let bytes = m.io.read_file(path).map_err(|e| e.into_error())?;
    Derivation::parse(&bytes, store_dir)
        .map_err(|e| fail(format!("cannot parse the derivation '{path}': {e}")))
}

/// Makes sure the hash modulo of every input derivation is known, reading
/// the ones this evaluation did not write.
fn ensure_input_hashes(m: &mut Machine, drv: &Derivation, store_dir: &StoreDir) -> Result<()> {
    for input in drv.input_drvs.keys() {
        if m.derivations.hashes.get(input).is_some() {
            continue;
        }
        let io = m.io.clone();
        let read = |p: &StorePath| -> std::result::Result<Derivation, Error> {
            let text = store_dir.display(p);
            let bytes = io.read_file(&text).map_err(|e| e.into_error())?;
            Derivation::parse(&bytes, store_dir)
                .map_err(|e| fail(format!("cannot parse the derivation '{text}': {e}")))
        };
        m.derivations
            .hashes
            .insert_closure(input, store_dir, read)
            .map_err(|e| match e {
                kiln_store::derivation::hash_modulo::ClosureError::Read(e) => e,
                kiln_store::derivation::hash_modulo::ClosureError::Compute(e) => {
                    fail(e.to_string())
                }
            })?;
    }
    Ok(())
}

/// The value `derivationStrict` returns: `drvPath` with context `=<drv>`
/// and each output's path with context `!<out>!<drv>`.
fn result(drv_path: &StorePath, drv: &Derivation, store_dir: &str) -> Value {
    let store_dir = StoreDir::new(store_dir);
    let drv_text = store_dir.display(drv_path);
    let mut pairs = Vec::with_capacity(1 + drv.outputs.len());
    // The context elements' string forms (see `ContextElem::encode`).
    let drv_elem = ["=", &drv_text].concat();
    pairs.push((Sym::new("drvPath"), with_context(&drv_text, drv_elem)));
    for (output, out) in &drv.outputs {
        let path = out
            .path
            .as_ref()
            .map(|p| store_dir.display(p))
            .unwrap_or_default();
        let elem = ["!", output, "!", &drv_text].concat();
        pairs.push((Sym::new(output), with_context(&path, elem)));
    }
    Value::attrs(Attrs::from_pairs(pairs))
}

fn with_context(text: &str, elem: String) -> Value {
    let mut ctx = Context::new();
    ctx.insert(elem);
    Value::from_nix_string(crate::value::NixString::with_context(text, ctx))
}
