//! Finding the derivations a value names, as `nix-instantiate` and
//! `nix-build` do (Nix's `getDerivations`): a derivation itself; the
//! elements of a list; the attributes of a set, in lexicographic order,
//! descending into nested sets only when they say
//! `recurseForDerivations = true`. Functions are called with the automatic
//! arguments first. Each derivation set is reported once.

use std::collections::HashSet;
use std::rc::Rc;

use crate::Evaluator;
use crate::error::{Error, ErrorKind};
use crate::syntax::Pos;
use crate::value::{Attrs, Value};

/// A derivation found in a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundDrv {
    /// Where it was found (`hello`, `0`, `pkgs.tool`); empty at the top.
    pub attr_path: String,
    /// Its `.drv` store path.
    pub drv_path: String,
    /// The output the value selects (`outputName`, default `out`).
    pub output: String,
}

impl FoundDrv {
    /// Renders it as `nix-instantiate` prints it: the `.drv` path, with
    /// `!<output>` when the output is not `out`.
    pub fn to_instantiate_line(&self) -> String {
        if self.output == "out" {
            self.drv_path.clone()
        } else {
            format!("{}!{}", self.drv_path, self.output)
        }
    }
}

impl Evaluator {
    /// Returns the derivations `v` names, in Nix's order.
    pub fn find_derivations(
        &mut self,
        v: &Value,
        auto_args: &Rc<Attrs>,
    ) -> Result<Vec<FoundDrv>, Error> {
        let mut found = Vec::new();
        let mut seen = HashSet::new();
        self.collect(v, "", auto_args, &mut found, &mut seen)?;
        Ok(found)
    }

    fn collect(
        &mut self,
        v: &Value,
        prefix: &str,
        auto_args: &Rc<Attrs>,
        found: &mut Vec<FoundDrv>,
        seen: &mut HashSet<*const Attrs>,
    ) -> Result<(), Error> {
        let v = self.auto_call(v, auto_args)?;
        if !self.take_if_derivation(&v, prefix, found, seen)? {
            return Ok(());
        }
        match &v {
            Value::Attrs(attrs) => {
                let mut entries: Vec<_> = attrs.iter().cloned().collect();
                entries.sort_by(|a, b| a.name.as_str().cmp(b.name.as_str()));
                for attr in entries {
                    let path = join(prefix, attr.name.as_str());
                    let item = self.machine.force(&attr.value)?;
                    if self.take_if_derivation(&item, &path, found, seen)?
                        && self.recurses(&item)?
                    {
                        self.collect(&item, &path, auto_args, found, seen)?;
                    }
                }
                Ok(())
            }
            Value::List(items) => {
                for (i, item) in items.iter().enumerate() {
                    let path = join(prefix, &i.to_string());
                    let item = self.machine.force(item)?;
                    if self.take_if_derivation(&item, &path, found, seen)? {
                        self.collect(&item, &path, auto_args, found, seen)?;
                    }
                }
                Ok(())
            }
            _ => Err(Error::new(ErrorKind::Builtin {
                message: "expression does not evaluate to a derivation (or a set or list of those)"
                    .to_owned(),
            })),
        }
    }

    /// Records `v` if it is a derivation; returns whether the caller
    /// should look further (it was not one).
    fn take_if_derivation(
        &mut self,
        v: &Value,
        path: &str,
        found: &mut Vec<FoundDrv>,
        seen: &mut HashSet<*const Attrs>,
    ) -> Result<bool, Error> {
        let Value::Attrs(attrs) = v else {
            return Ok(true);
        };
        if !self.machine.is_derivation(attrs)? {
            return Ok(true);
        }
        if !seen.insert(Rc::as_ptr(attrs)) {
            return Ok(false);
        }
        let drv_path = self.string_attr(attrs, "drvPath")?.unwrap_or_default();
        let output = self
            .string_attr(attrs, "outputName")?
            .unwrap_or_else(|| "out".to_owned());
        found.push(FoundDrv {
            attr_path: path.to_owned(),
            drv_path,
            output,
        });
        Ok(false)
    }

    fn string_attr(&mut self, attrs: &Attrs, name: &str) -> Result<Option<String>, Error> {
        match attrs.get(name).cloned() {
            Some(v) => Ok(Some(
                self.machine
                    .force_string(&v, Pos::NONE)?
                    .as_str()
                    .to_owned(),
            )),
            None => Ok(None),
        }
    }

    fn recurses(&mut self, v: &Value) -> Result<bool, Error> {
        let Value::Attrs(attrs) = v else {
            return Ok(false);
        };
        match attrs.get("recurseForDerivations").cloned() {
            Some(flag) => self.machine.expect_bool(&flag, Pos::NONE),
            None => Ok(false),
        }
    }
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_owned()
    } else {
        format!("{prefix}.{name}")
    }
}
