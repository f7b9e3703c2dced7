//! The dependency closure of a root set: which packages a root
//! filesystem needs.
//!
//! [`resolve`] walks `Pre-Depends` and `Depends` breadth first from the
//! roots, in the order given. For each relation:
//!
//! 1. alternatives whose `[arch]` list excludes the architecture are
//!    dropped (a relation left with none holds);
//! 2. if a package selected already satisfies an alternative (by name and
//!    version, or through its `Provides`), the relation holds;
//! 3. otherwise the first alternative that some package can satisfy picks
//!    it: the highest version of the real package of that name that meets
//!    the constraint, else a package that provides the name (with a
//!    version meeting the constraint, when there is one: an unversioned
//!    `Provides` satisfies only unversioned relations), preferring
//!    `required`/`important`/`standard` priority, then the name;
//! 4. if none can, [`ResolveError::Unsatisfiable`] names the chain of
//!    packages that led there and why each alternative fails.
//!
//! Only packages of the target architecture and `all` are considered.
//! `Recommends`, `Suggests`, `Conflicts` and `Breaks` are ignored, and a
//! name is selected at most once: a root filesystem is a set of files,
//! not an installed dpkg database. The result is sorted by name, and the
//! same index and roots always give the same result.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;

use thiserror::Error;

use crate::packages::Package;
use crate::relation::{Atom, Relation};
use crate::version::Version;

/// Why the closure could not be computed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ResolveError {
    /// A relation has no alternative that any package satisfies.
    #[error(
        "cannot satisfy `{relation}` (needed by {})\n{}",
        if chain.is_empty() { "the root set".to_owned() } else { chain.join(" -> ") },
        reasons.iter().map(|r| format!("  {r}")).collect::<Vec<_>>().join("\n")
    )]
    Unsatisfiable {
        /// The packages from a root to the one that has the relation.
        chain: Vec<String>,
        /// The relation, as written.
        relation: String,
        /// Why each alternative fails.
        reasons: Vec<Unmet>,
    },
}

/// Why one alternative cannot be satisfied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unmet {
    /// No package has or provides the name for this architecture.
    Missing {
        /// The name.
        name: String,
    },
    /// The name was selected already, at a version the constraint rejects.
    SelectedOther {
        /// The alternative.
        atom: String,
        /// The selected version.
        selected: String,
    },
    /// Packages of that name exist, but no version meets the constraint.
    NoVersion {
        /// The alternative.
        atom: String,
        /// The versions there are.
        available: Vec<String>,
    },
    /// The architecture qualifier names another architecture.
    ForeignArch {
        /// The alternative.
        atom: String,
    },
}

impl fmt::Display for Unmet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unmet::Missing { name } => write!(f, "no package is or provides `{name}`"),
            Unmet::SelectedOther { atom, selected } => {
                write!(f, "`{atom}`: version {selected} is selected already")
            }
            Unmet::NoVersion { atom, available } => {
                write!(f, "`{atom}`: only {} available", available.join(", "))
            }
            Unmet::ForeignArch { atom } => write!(f, "`{atom}`: another architecture"),
        }
    }
}

/// The packages of an index that can be installed for one architecture,
/// indexed by name and by what they provide.
#[derive(Debug)]
pub struct Universe<'p> {
    arch: String,
    /// Real packages by name, highest version first.
    by_name: HashMap<&'p str, Vec<&'p Package>>,
    /// Providers by provided name, with the provided version.
    providers: HashMap<&'p str, Vec<(&'p Package, Option<&'p Version>)>>,
}

impl<'p> Universe<'p> {
    /// Indexes the packages of architecture `arch` or `all`.
    pub fn new(packages: &'p [Package], arch: &str) -> Universe<'p> {
        let mut by_name: HashMap<&str, Vec<&Package>> = HashMap::new();
        let mut providers: HashMap<&str, Vec<_>> = HashMap::new();
        for package in packages {
            if package.architecture != arch && package.architecture != "all" {
                continue;
            }
            by_name.entry(&package.name).or_default().push(package);
            for atom in package.provides.iter().flatten() {
                let version = atom.constraint.as_ref().map(|c| &c.version);
                providers
                    .entry(&atom.name)
                    .or_default()
                    .push((package, version));
            }
        }
        for versions in by_name.values_mut() {
            versions.sort_by(|a, b| b.version.cmp(&a.version));
        }
        for list in providers.values_mut() {
            list.sort_by(|(a, _), (b, _)| {
                (rank(a), &a.name, &b.version).cmp(&(rank(b), &b.name, &a.version))
            });
        }
        Universe {
            arch: arch.to_owned(),
            by_name,
            providers,
        }
    }

    /// Returns the `Essential: yes` packages, as relations naming each.
    pub fn essential(&self) -> Vec<Relation> {
        let mut names: Vec<&str> = self
            .by_name
            .iter()
            .filter(|(_, versions)| versions.first().is_some_and(|p| p.essential))
            .map(|(name, _)| *name)
            .collect();
        names.sort_unstable();
        names
            .into_iter()
            .map(|name| {
                vec![Atom {
                    name: name.to_owned(),
                    arch: None,
                    constraint: None,
                    arches: Vec::new(),
                    profiles: Vec::new(),
                }]
            })
            .collect()
    }
}

/// Orders providers: higher priorities first.
fn rank(package: &Package) -> u8 {
    match package.priority.as_deref() {
        Some("required") => 0,
        Some("important") => 1,
        Some("standard") => 2,
        _ => 3,
    }
}

/// Returns the closure of `roots` over `Pre-Depends` and `Depends`,
/// sorted by name.
pub fn resolve<'p>(
    universe: &Universe<'p>,
    roots: &[Relation],
) -> Result<Vec<&'p Package>, ResolveError> {
    let mut state = State {
        universe,
        selected: BTreeMap::new(),
        provided: HashMap::new(),
        queue: VecDeque::new(),
    };
    for root in roots {
        state.satisfy(root, None)?;
    }
    while let Some(package) = state.queue.pop_front() {
        for relation in package.pre_depends.iter().chain(&package.depends) {
            state.satisfy(relation, Some(&package.name))?;
        }
    }
    Ok(state.selected.into_values().map(|(p, _)| p).collect())
}

struct State<'u, 'p> {
    universe: &'u Universe<'p>,
    /// Selected packages by name, with the name of the package that
    /// pulled each in (`None` for a root).
    selected: BTreeMap<&'p str, (&'p Package, Option<&'p str>)>,
    /// What the selected packages provide.
    provided: HashMap<&'p str, Vec<Option<&'p Version>>>,
    queue: VecDeque<&'p Package>,
}

impl<'p> State<'_, 'p> {
    fn satisfy(
        &mut self,
        relation: &Relation,
        parent: Option<&'p str>,
    ) -> Result<(), ResolveError> {
        let atoms: Vec<&Atom> = relation
            .iter()
            .filter(|atom| atom.applies_to(&self.universe.arch))
            .collect();
        if atoms.is_empty() || atoms.iter().any(|atom| self.holds(atom)) {
            return Ok(());
        }
        let mut reasons = Vec::new();
        for atom in &atoms {
            match self.candidate(atom) {
                Ok(package) => {
                    self.select(package, parent);
                    return Ok(());
                }
                Err(unmet) => reasons.push(unmet),
            }
        }
        let relation = atoms
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" | ");
        Err(ResolveError::Unsatisfiable {
            chain: self.chain(parent),
            relation,
            reasons,
        })
    }

    /// Whether a selected package satisfies `atom`.
    fn holds(&self, atom: &Atom) -> bool {
        if !self.arch_ok(atom) {
            return false;
        }
        let by_name = self.selected.get(atom.name.as_str()).is_some_and(|(p, _)| {
            atom.constraint
                .as_ref()
                .is_none_or(|c| c.allows(&p.version))
        });
        by_name
            || self
                .provided
                .get(atom.name.as_str())
                .is_some_and(|versions| versions.iter().any(|v| provides(atom, *v)))
    }

    fn arch_ok(&self, atom: &Atom) -> bool {
        match atom.arch.as_deref() {
            None | Some("any" | "native") => true,
            Some(arch) => arch == self.universe.arch,
        }
    }

    /// Returns the package that would satisfy `atom`, or why none does.
    fn candidate(&self, atom: &Atom) -> Result<&'p Package, Unmet> {
        if !self.arch_ok(atom) {
            return Err(Unmet::ForeignArch {
                atom: atom.to_string(),
            });
        }
        let name = atom.name.as_str();
        if let Some((package, _)) = self.selected.get(name) {
            return Err(Unmet::SelectedOther {
                atom: atom.to_string(),
                selected: package.version.to_string(),
            });
        }
        let real = self.universe.by_name.get(name);
        let allowed = |v: &Version| atom.constraint.as_ref().is_none_or(|c| c.allows(v));
        if let Some(package) = real.into_iter().flatten().find(|p| allowed(&p.version)) {
            return Ok(package);
        }
        let providers = self.universe.providers.get(name).into_iter().flatten();
        if let Some((package, _)) = providers
            .filter(|(p, _)| !self.selected.contains_key(p.name.as_str()))
            .find(|(_, version)| provides(atom, *version))
        {
            return Ok(package);
        }
        match real {
            Some(versions) => Err(Unmet::NoVersion {
                atom: atom.to_string(),
                available: versions.iter().map(|p| p.version.to_string()).collect(),
            }),
            None => Err(Unmet::Missing {
                name: name.to_owned(),
            }),
        }
    }

    fn select(&mut self, package: &'p Package, parent: Option<&'p str>) {
        self.selected.insert(&package.name, (package, parent));
        for atom in package.provides.iter().flatten() {
            let version = atom.constraint.as_ref().map(|c| &c.version);
            self.provided.entry(&atom.name).or_default().push(version);
        }
        self.queue.push_back(package);
    }

    /// Returns the chain of packages from a root to `last`.
    fn chain(&self, mut last: Option<&'p str>) -> Vec<String> {
        let mut chain = Vec::new();
        while let Some(name) = last {
            let Some((package, parent)) = self.selected.get(name) else {
                break;
            };
            chain.push(format!("{} {}", package.name, package.version));
            last = *parent;
            if chain.len() > self.selected.len() {
                break; // cannot happen: parents are selected before children
            }
        }
        chain.reverse();
        chain
    }
}

/// Whether a `Provides` entry at `version` satisfies `atom`: an
/// unversioned one only satisfies unversioned relations.
fn provides(atom: &Atom, version: Option<&Version>) -> bool {
    match (&atom.constraint, version) {
        (None, _) => true,
        (Some(constraint), Some(version)) => constraint.allows(version),
        (Some(_), None) => false,
    }
}

#[cfg(test)]
mod tests;
