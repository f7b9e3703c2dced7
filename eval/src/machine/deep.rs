//! Deep forcing (`--strict`, `deepSeq`): every list element and attribute
//! value, recursively, visiting each list or set once so cycles end.

use std::collections::HashSet;

use super::Machine;
use crate::error::Result;
use crate::syntax::Pos;
use crate::value::Value;

impl Machine {
    /// Forces a value and everything inside it.
    pub fn deep_force(&mut self, v: &Value) -> Result<()> {
        let mut seen = HashSet::new();
        self.deep_force_inner(v, &mut seen)
    }

    fn deep_force_inner(&mut self, v: &Value, seen: &mut HashSet<usize>) -> Result<()> {
        self.enter()?;
        let r = self.deep_force_value(v, seen);
        self.leave();
        r
    }

    fn deep_force_value(&mut self, v: &Value, seen: &mut HashSet<usize>) -> Result<()> {
        let v = self.force(v)?;
        match &v {
            Value::Attrs(attrs) => {
                if !seen.insert(std::rc::Rc::as_ptr(attrs) as *const u8 as usize) {
                    return Ok(());
                }
                for a in attrs.iter() {
                    self.deep_force_inner(&a.value, seen).map_err(|e| {
                        e.frame(|| format!("evaluating the attribute '{}'", a.name), a.pos)
                            .at(a.pos)
                    })?;
                }
            }
            Value::List(items) => {
                if !seen.insert(std::rc::Rc::as_ptr(items) as *const u8 as usize) {
                    return Ok(());
                }
                for item in items.iter() {
                    self.deep_force_inner(item, seen)?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Forces a value and returns it (convenience for builtins).
    pub fn forced(&mut self, v: &Value, _pos: Pos) -> Result<Value> {
        self.force(v)
    }
}
