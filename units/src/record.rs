//! The records of a planning build (`recipes/rust/plan-rustc.sh`): one
//! directory per rustc call (`calls/compile.*`: `cwd`, `args`, `env`) and
//! per build-script run (`calls/run.*`: `program`, `cwd`, `env`), the
//! builder's environment before cargo ran (`base-env`), the paths the
//! records mention (`paths`) and cargo's unit graph (`unit-graph.json`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::PlanError;
use crate::graph::UnitGraph;

/// A rustc call, as cargo made it.
#[derive(Debug, Clone)]
pub struct CompileCall {
    /// Where the record is (for messages).
    pub record: PathBuf,
    /// The working directory.
    pub cwd: String,
    /// The arguments (rustc's own path not included).
    pub args: Vec<String>,
    /// The whole environment.
    pub env: BTreeMap<String, String>,
}

/// A build script's run, as cargo made it.
#[derive(Debug, Clone)]
pub struct RunCall {
    /// Where the record is (for messages).
    pub record: PathBuf,
    /// The program cargo ran (`…/build/<pkg>-<hash>/build-script-build`).
    pub program: String,
    /// The working directory.
    pub cwd: String,
    /// The whole environment.
    pub env: BTreeMap<String, String>,
}

/// Everything a planning build recorded.
#[derive(Debug, Clone)]
pub struct Records {
    /// rustc calls, in record-name order.
    pub compiles: Vec<CompileCall>,
    /// Build-script runs, in record-name order.
    pub runs: Vec<RunCall>,
    /// The builder's environment before cargo.
    pub base_env: BTreeMap<String, String>,
    /// Named paths: `src` (where cargo ran), `vendor`, `toolchain`, ….
    pub paths: BTreeMap<String, String>,
    /// cargo's unit graph for the same command.
    pub graph: UnitGraph,
    /// The SHA-256 of every Cargo.toml and Cargo.lock of the source tree,
    /// by path relative to its top.
    pub manifests: BTreeMap<String, String>,
}

impl Records {
    /// Reads the records under `dir` (a planning build's output).
    pub fn read(dir: &Path) -> Result<Records, PlanError> {
        let graph_path = dir.join("unit-graph.json");
        let graph: UnitGraph =
            serde_json::from_str(&read_text(&graph_path)?).map_err(|e| PlanError::Record {
                path: graph_path.clone(),
                reason: format!("not cargo's unit graph: {e}"),
            })?;
        if graph.version != 1 {
            return Err(PlanError::Record {
                path: graph_path,
                reason: format!("unit graph version {}, kiln reads version 1", graph.version),
            });
        }
        let base_env = read_env(&dir.join("base-env"))?;
        let paths_file = dir.join("paths");
        let fields = read_fields(&paths_file)?;
        if fields.len() % 2 != 0 {
            return Err(PlanError::Record {
                path: paths_file,
                reason: "an odd number of fields (name, path pairs expected)".to_owned(),
            });
        }
        let paths = fields
            .chunks(2)
            .map(|pair| (pair[0].clone(), pair[1].clone()))
            .collect();
        let manifests_file = dir.join("manifests");
        let mut manifests = BTreeMap::new();
        for line in read_text(&manifests_file)?.lines() {
            let Some((hash, path)) = line.split_once("  ") else {
                return Err(PlanError::Record {
                    path: manifests_file,
                    reason: format!("`{line}` is not `sha256sum` output"),
                });
            };
            manifests.insert(path.trim_start_matches("./").to_owned(), hash.to_owned());
        }
        let calls = dir.join("calls");
        let mut names: Vec<String> = fs_err::read_dir(&calls)
            .map_err(|e| io(&calls, e))?
            .map(|entry| entry.map(|e| e.file_name().to_string_lossy().into_owned()))
            .collect::<Result<_, _>>()
            .map_err(|e| io(&calls, e))?;
        names.sort();
        let mut compiles = Vec::new();
        let mut runs = Vec::new();
        for name in names {
            let record = calls.join(&name);
            let cwd = read_line(&record.join("cwd"))?;
            let env = read_env(&record.join("env"))?;
            if name.starts_with("compile.") {
                let args = read_fields(&record.join("args"))?;
                compiles.push(CompileCall {
                    record,
                    cwd,
                    args,
                    env,
                });
            } else if name.starts_with("run.") {
                let program = read_line(&record.join("program"))?;
                runs.push(RunCall {
                    record,
                    program,
                    cwd,
                    env,
                });
            } else {
                return Err(PlanError::Record {
                    path: record,
                    reason: "neither a compile.* nor a run.* record".to_owned(),
                });
            }
        }
        Ok(Records {
            compiles,
            runs,
            base_env,
            paths,
            graph,
            manifests,
        })
    }
}

fn io(path: &Path, source: std::io::Error) -> PlanError {
    PlanError::Record {
        path: path.to_owned(),
        reason: source.to_string(),
    }
}

fn read_text(path: &Path) -> Result<String, PlanError> {
    fs_err::read_to_string(path).map_err(|e| io(path, e))
}

fn read_line(path: &Path) -> Result<String, PlanError> {
    Ok(read_text(path)?.trim_end_matches('\n').to_owned())
}

/// NUL-terminated fields.
fn read_fields(path: &Path) -> Result<Vec<String>, PlanError> {
    let bytes = fs_err::read(path).map_err(|e| io(path, e))?;
    let text = String::from_utf8(bytes).map_err(|_| PlanError::Record {
        path: path.to_owned(),
        reason: "not UTF-8".to_owned(),
    })?;
    let mut fields: Vec<String> = text.split('\0').map(str::to_owned).collect();
    // The last field ends with a NUL too.
    if fields.last().is_some_and(String::is_empty) {
        fields.pop();
    }
    Ok(fields)
}

/// `env -0` output: NUL-terminated `NAME=value` entries.
fn read_env(path: &Path) -> Result<BTreeMap<String, String>, PlanError> {
    let mut env = BTreeMap::new();
    for entry in read_fields(path)? {
        let Some((name, value)) = entry.split_once('=') else {
            return Err(PlanError::Record {
                path: path.to_owned(),
                reason: format!("`{entry}` is not NAME=value"),
            });
        };
        env.insert(name.to_owned(), value.to_owned());
    }
    Ok(env)
}
