//! The JSON form of derivations, shaped like `nix show-derivation`'s.

use serde_json::{Map, Value, json};

use super::Derivation;
use crate::hash::Encoding;
use crate::store_path::StoreDir;

impl Derivation {
    /// Returns the JSON object `nix show-derivation` prints for this
    /// derivation (the value under its `.drv` path key).
    pub fn to_json(&self, store_dir: &StoreDir) -> Value {
        let mut outputs = Map::new();
        for (name, output) in &self.outputs {
            let mut fields = Map::new();
            if let Some(path) = &output.path {
                fields.insert("path".into(), json!(store_dir.display(path)));
            }
            if let Some(fixed) = &output.fixed {
                fields.insert("hashAlgo".into(), json!(fixed.algo_field()));
                fields.insert("hash".into(), json!(fixed.hash.encode(Encoding::Base16)));
            }
            outputs.insert(name.clone(), Value::Object(fields));
        }
        let input_srcs: Vec<String> = self
            .input_srcs
            .iter()
            .map(|p| store_dir.display(p))
            .collect();
        let input_drvs: Map<String, Value> = self
            .input_drvs
            .iter()
            .map(|(path, names)| (store_dir.display(path), json!(names)))
            .collect();
        json!({
            "outputs": outputs,
            "inputSrcs": input_srcs,
            "inputDrvs": input_drvs,
            "system": self.platform,
            "builder": self.builder,
            "args": self.args,
            "env": self.env,
        })
    }
}
