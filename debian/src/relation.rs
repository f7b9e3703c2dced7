//! Package relations: the values of `Depends`, `Pre-Depends` and
//! `Provides`.
//!
//! A field is a comma-separated list of relations, all of which must
//! hold; a relation is a `|`-separated list of alternatives, one of which
//! must hold. Each alternative ([`Atom`]) names a package, optionally
//! qualified by an architecture (`foo:any`, `foo:native`, `foo:amd64`),
//! optionally constrained by a version (`(>= 1.2)`, with the operators
//! `<<`, `<=`, `=`, `>=`, `>>`), optionally restricted to architectures
//! (`[amd64 !i386]`) and build profiles (`<!nocheck>`). The last two
//! appear in source packages' `Build-Depends`; they are parsed here so
//! that any field reads, and [`Atom::applies_to`] evaluates the first.

use std::fmt;

use thiserror::Error;

use crate::version::{Version, VersionError};

/// Why a relation field could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RelationError {
    /// Something other than what the grammar allows at this point.
    #[error("unexpected `{found}` at byte {offset} of `{field}`, expected {expected}")]
    Unexpected {
        /// The whole field.
        field: String,
        /// Where.
        offset: usize,
        /// What was there (`end of text` at the end).
        found: String,
        /// What would have done.
        expected: &'static str,
    },
    /// The version in a constraint is not valid.
    #[error("bad version in `{field}`")]
    Version {
        /// The whole field.
        field: String,
        /// Why.
        #[source]
        source: VersionError,
    },
}

/// A version operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// `<<`: strictly earlier.
    Earlier,
    /// `<=`: earlier or equal.
    EarlierEqual,
    /// `=`: exactly equal.
    Equal,
    /// `>=`: later or equal.
    LaterEqual,
    /// `>>`: strictly later.
    Later,
}

impl Op {
    /// Returns the operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Earlier => "<<",
            Op::EarlierEqual => "<=",
            Op::Equal => "=",
            Op::LaterEqual => ">=",
            Op::Later => ">>",
        }
    }
}

/// A version constraint: `(op version)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Constraint {
    /// The operator.
    pub op: Op,
    /// The version it compares with.
    pub version: Version,
}

impl Constraint {
    /// Whether `version` satisfies the constraint.
    pub fn allows(&self, version: &Version) -> bool {
        let order = version.cmp(&self.version);
        match self.op {
            Op::Earlier => order.is_lt(),
            Op::EarlierEqual => order.is_le(),
            Op::Equal => order.is_eq(),
            Op::LaterEqual => order.is_ge(),
            Op::Later => order.is_gt(),
        }
    }
}

impl fmt::Display for Constraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "({} {})", self.op.as_str(), self.version)
    }
}

/// One entry of an architecture restriction list (`[amd64 !i386]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchRestriction {
    /// `!` before the name.
    pub negated: bool,
    /// The architecture or wildcard (`amd64`, `any`, `linux-any`, `any-amd64`).
    pub arch: String,
}

/// One alternative: a package name with its qualifiers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Atom {
    /// The package (or virtual package) name.
    pub name: String,
    /// The architecture qualifier after `:` (`any`, `native`, `amd64`…).
    pub arch: Option<String>,
    /// The version constraint.
    pub constraint: Option<Constraint>,
    /// The architecture restriction list; empty when there is none.
    pub arches: Vec<ArchRestriction>,
    /// The build-profile restriction formulas, as written (ignored by
    /// the resolver: binary packages do not have them).
    pub profiles: Vec<String>,
}

impl Atom {
    /// Whether the atom applies when installing for `arch`: its
    /// restriction list is empty, or names `arch` (or is all negations
    /// and does not name it).
    pub fn applies_to(&self, arch: &str) -> bool {
        if self.arches.is_empty() {
            return true;
        }
        let matches = |r: &ArchRestriction| arch_matches(&r.arch, arch);
        if self.arches.iter().all(|r| r.negated) {
            !self.arches.iter().any(matches)
        } else {
            self.arches.iter().any(|r| !r.negated && matches(r))
        }
    }
}

impl fmt::Display for Atom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if let Some(arch) = &self.arch {
            write!(f, ":{arch}")?;
        }
        if let Some(constraint) = &self.constraint {
            write!(f, " {constraint}")?;
        }
        Ok(())
    }
}

/// Whether the architecture `pattern` (a name or a Debian wildcard such
/// as `any`, `linux-any`, `any-amd64`) matches `arch` on Linux.
fn arch_matches(pattern: &str, arch: &str) -> bool {
    pattern == arch
        || pattern == "any"
        || pattern == "linux-any"
        || pattern == format!("linux-{arch}")
        || pattern == format!("any-{arch}")
}

/// A relation: alternatives, one of which must hold.
pub type Relation = Vec<Atom>;

/// Parses a relation field: relations separated by `,`, each a list of
/// alternatives separated by `|`. An empty field gives no relations.
pub fn parse_relations(field: &str) -> Result<Vec<Relation>, RelationError> {
    let mut parser = Parser { field, offset: 0 };
    let mut relations = Vec::new();
    loop {
        parser.skip_space();
        if parser.at_end() {
            return Ok(relations);
        }
        let mut relation = vec![parser.atom()?];
        loop {
            parser.skip_space();
            match parser.peek() {
                Some('|') => {
                    parser.bump();
                    relation.push(parser.atom()?);
                }
                Some(',') => {
                    parser.bump();
                    break;
                }
                None => break,
                Some(_) => return Err(parser.unexpected("`,`, `|` or the end")),
            }
        }
        relations.push(relation);
    }
}

struct Parser<'a> {
    field: &'a str,
    offset: usize,
}

impl Parser<'_> {
    fn rest(&self) -> &str {
        self.field.get(self.offset..).unwrap_or_default()
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn at_end(&self) -> bool {
        self.rest().is_empty()
    }

    fn bump(&mut self) {
        self.offset += self.peek().map_or(0, char::len_utf8);
    }

    fn skip_space(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.bump();
        }
    }

    fn unexpected(&self, expected: &'static str) -> RelationError {
        RelationError::Unexpected {
            field: self.field.to_owned(),
            offset: self.offset,
            found: self
                .peek()
                .map_or_else(|| "end of text".to_owned(), String::from),
            expected,
        }
    }

    /// Takes characters while `keep` holds.
    fn word(&mut self, keep: impl Fn(char) -> bool) -> String {
        let start = self.offset;
        while self.peek().is_some_and(&keep) {
            self.bump();
        }
        self.field
            .get(start..self.offset)
            .unwrap_or_default()
            .to_owned()
    }

    fn expect(&mut self, c: char, expected: &'static str) -> Result<(), RelationError> {
        self.skip_space();
        if self.peek() != Some(c) {
            return Err(self.unexpected(expected));
        }
        self.bump();
        Ok(())
    }

    fn atom(&mut self) -> Result<Atom, RelationError> {
        self.skip_space();
        let name = self.word(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
        if name.is_empty() {
            return Err(self.unexpected("a package name"));
        }
        let arch = if self.peek() == Some(':') {
            self.bump();
            let arch = self.word(|c| c.is_ascii_alphanumeric() || c == '-');
            if arch.is_empty() {
                return Err(self.unexpected("an architecture after `:`"));
            }
            Some(arch)
        } else {
            None
        };
        let mut atom = Atom {
            name,
            arch,
            constraint: None,
            arches: Vec::new(),
            profiles: Vec::new(),
        };
        self.skip_space();
        if self.peek() == Some('(') {
            self.bump();
            atom.constraint = Some(self.constraint()?);
        }
        self.restrictions(&mut atom)?;
        Ok(atom)
    }

    fn constraint(&mut self) -> Result<Constraint, RelationError> {
        self.skip_space();
        let op = self.word(|c| "<=>".contains(c));
        let op = match op.as_str() {
            "<<" => Op::Earlier,
            "<=" => Op::EarlierEqual,
            "=" => Op::Equal,
            ">=" => Op::LaterEqual,
            ">>" => Op::Later,
            _ => return Err(self.unexpected("one of `<<`, `<=`, `=`, `>=`, `>>`")),
        };
        self.skip_space();
        let text = self.word(|c| !c.is_whitespace() && c != ')');
        let version = Version::parse(&text).map_err(|source| RelationError::Version {
            field: self.field.to_owned(),
            source,
        })?;
        self.expect(')', "`)`")?;
        Ok(Constraint { op, version })
    }

    fn restrictions(&mut self, atom: &mut Atom) -> Result<(), RelationError> {
        loop {
            self.skip_space();
            match self.peek() {
                Some('[') => {
                    self.bump();
                    loop {
                        self.skip_space();
                        if self.peek() == Some(']') {
                            self.bump();
                            break;
                        }
                        let negated = self.peek() == Some('!');
                        if negated {
                            self.bump();
                        }
                        let arch = self.word(|c| c.is_ascii_alphanumeric() || c == '-');
                        if arch.is_empty() {
                            return Err(self.unexpected("an architecture or `]`"));
                        }
                        atom.arches.push(ArchRestriction { negated, arch });
                    }
                }
                Some('<') => {
                    self.bump();
                    let formula = self.word(|c| c != '>');
                    self.expect('>', "`>`")?;
                    atom.profiles.push(formula.trim().to_owned());
                }
                _ => return Ok(()),
            }
        }
    }
}

#[cfg(test)]
mod tests;
