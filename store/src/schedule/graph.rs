//! The derivation graph of one run, loaded from the `.drv` files in the
//! store.
//!
//! Loading starts at the root derivations and parses each `.drv` once. A
//! derivation whose outputs are all valid is a leaf: its inputs are not
//! looked at (they may even have been collected), which is what makes a
//! run with nothing to do cost one `.drv` parse and a few queries per
//! root. The loader walks with an explicit stack, so a deep graph cannot
//! overflow the thread's stack.
//!
//! [`Graph::load_checking`] loads the graph for checking the roots
//! ([`crate::realise::check`]): each root is needed even when its outputs
//! are valid, so its inputs are loaded and realised first.

use std::collections::{BTreeSet, HashMap};

use crate::derivation::{Derivation, ParseError};
use crate::store::{Store, StoreError};
use crate::store_path::StorePath;

/// Why the graph could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    /// A derivation is not a valid path in the store.
    #[error("derivation `{0}` is not valid in the store")]
    NotValid(String),
    /// A path given as a derivation is not a `.drv`.
    #[error("`{0}` is not a derivation (a `.drv` store path)")]
    NotADerivation(String),
    /// A `.drv` file could not be read.
    #[error("cannot read the derivation `{path}`")]
    Read {
        /// The derivation.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A `.drv` file does not parse.
    #[error("cannot parse the derivation `{path}`")]
    Parse {
        /// The derivation.
        path: String,
        /// Why.
        #[source]
        source: ParseError,
    },
    /// A derivation uses an output its input derivation does not have.
    #[error("`{drv}` uses output `{output}` of `{input}`, which has no such output with a path")]
    NoSuchOutput {
        /// The derivation.
        drv: String,
        /// The input derivation.
        input: String,
        /// The output name.
        output: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One derivation of the graph.
#[derive(Debug, Clone)]
pub struct Node {
    /// The `.drv` store path.
    pub drv_path: StorePath,
    /// The parsed derivation.
    pub drv: Derivation,
    /// Whether it must be realised: some output is invalid, or it is
    /// being checked.
    pub needed: bool,
    /// Whether it is a root being checked ([`Graph::load_checking`]).
    pub check: bool,
    /// The store paths the build reads: input sources and the used
    /// outputs of input derivations (empty when not `needed`).
    pub inputs: BTreeSet<StorePath>,
    /// The input derivations that must be realised first (indices).
    pub deps: Vec<usize>,
    /// The derivations that use this one (indices).
    pub dependents: Vec<usize>,
}

/// The derivation graph below some roots.
#[derive(Debug, Clone, Default)]
pub struct Graph {
    /// Every derivation, each once.
    pub nodes: Vec<Node>,
    /// The roots, as indices into `nodes`, in the order given.
    pub roots: Vec<usize>,
}

impl Graph {
    /// Loads the graph below `roots` from `store`.
    pub fn load(store: &Store, roots: &[StorePath]) -> Result<Graph, GraphError> {
        Graph::load_with(store, roots, false)
    }

    /// Loads the graph below `roots` for checking them: every root is
    /// needed and marked [`Node::check`].
    pub fn load_checking(store: &Store, roots: &[StorePath]) -> Result<Graph, GraphError> {
        Graph::load_with(store, roots, true)
    }

    fn load_with(store: &Store, roots: &[StorePath], check: bool) -> Result<Graph, GraphError> {
        let mut graph = Graph::default();
        let mut index: HashMap<StorePath, usize> = HashMap::new();
        let mut stack = Vec::new();
        for root in roots {
            let id = graph.add(store, root, check, &mut index, &mut stack)?;
            if !graph.roots.contains(&id) {
                graph.roots.push(id);
            }
        }
        while let Some(id) = stack.pop() {
            graph.expand(store, id, &mut index, &mut stack)?;
        }
        Ok(graph)
    }

    /// Returns the derivation at `drv_path`'s index, adding (parsing) it
    /// if it is new (to be checked with `check`); a new node that is
    /// needed is pushed for expansion.
    fn add(
        &mut self,
        store: &Store,
        drv_path: &StorePath,
        check: bool,
        index: &mut HashMap<StorePath, usize>,
        stack: &mut Vec<usize>,
    ) -> Result<usize, GraphError> {
        if let Some(&id) = index.get(drv_path) {
            return Ok(id);
        }
        let drv = load_drv(store, drv_path)?;
        let mut needed = check;
        for output in drv.outputs.values() {
            let valid = match &output.path {
                Some(path) => store.is_valid(path)?,
                None => false,
            };
            needed |= !valid;
        }
        let id = self.nodes.len();
        self.nodes.push(Node {
            drv_path: drv_path.clone(),
            drv,
            needed,
            check,
            inputs: BTreeSet::new(),
            deps: Vec::new(),
            dependents: Vec::new(),
        });
        index.insert(drv_path.clone(), id);
        if needed {
            stack.push(id);
        }
        Ok(id)
    }

    /// Adds the inputs of a needed node.
    fn expand(
        &mut self,
        store: &Store,
        id: usize,
        index: &mut HashMap<StorePath, usize>,
        stack: &mut Vec<usize>,
    ) -> Result<(), GraphError> {
        let Some(node) = self.nodes.get(id) else {
            return Ok(());
        };
        let drv_path = node.drv_path.clone();
        let input_drvs = node.drv.input_drvs.clone();
        let mut inputs = node.drv.input_srcs.clone();
        let mut deps = Vec::new();
        for (input, outputs) in &input_drvs {
            let dep = self.add(store, input, false, index, stack)?;
            let Some(dep_node) = self.nodes.get_mut(dep) else {
                continue;
            };
            for output in outputs {
                let path = dep_node
                    .drv
                    .outputs
                    .get(output)
                    .and_then(|o| o.path.clone())
                    .ok_or_else(|| GraphError::NoSuchOutput {
                        drv: store.display(&drv_path),
                        input: store.display(input),
                        output: output.clone(),
                    })?;
                inputs.insert(path);
            }
            if dep_node.needed {
                dep_node.dependents.push(id);
                deps.push(dep);
            }
        }
        if let Some(node) = self.nodes.get_mut(id) {
            node.inputs = inputs;
            node.deps = deps;
        }
        Ok(())
    }

    /// Returns the nodes that must be realised.
    pub fn needed(&self) -> impl Iterator<Item = (usize, &Node)> {
        self.nodes
            .iter()
            .enumerate()
            .filter(|(_, node)| node.needed)
    }
}

/// Reads and parses a `.drv` from the store.
pub fn load_drv(store: &Store, drv_path: &StorePath) -> Result<Derivation, GraphError> {
    let shown = || store.display(drv_path);
    if !drv_path.is_derivation() {
        return Err(GraphError::NotADerivation(shown()));
    }
    if !store.is_valid(drv_path)? {
        return Err(GraphError::NotValid(shown()));
    }
    let bytes = fs_err::read(store.physical(drv_path)).map_err(|source| GraphError::Read {
        path: shown(),
        source,
    })?;
    Derivation::parse(&bytes, store.store_dir()).map_err(|source| GraphError::Parse {
        path: shown(),
        source,
    })
}
