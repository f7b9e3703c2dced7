//! Path safety: turning an archive's entry names into paths relative to
//! the output root, and deciding whether a symlink's target escapes it.
//!
//! The rules, checked on the raw bytes before anything touches the disk:
//! an entry name may not be absolute nor contain a `..` component; `.` and
//! empty components are dropped (`./usr//bin/` is `usr/bin`). Stripping
//! leading components happens after these checks, so `pkg/../x` is refused
//! even when `pkg/` would be stripped.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::Problem;

/// How many symlinks resolving one target may go through before it is
/// taken to be a loop (Linux's `MAXSYMLINKS`).
const MAX_HOPS: usize = 40;

/// An entry's path relative to the output root: at least one component,
/// none of them empty, `.` or `..`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct RelPath(PathBuf);

impl RelPath {
    /// Returns the path, relative to the root.
    pub(super) fn as_path(&self) -> &Path {
        &self.0
    }

    /// Wraps a path that was cleaned before (the tree's own records).
    pub(super) fn from_clean(path: PathBuf) -> RelPath {
        RelPath(path)
    }

    /// Returns the components, each a plain name.
    pub(super) fn components(&self) -> impl Iterator<Item = &OsStr> {
        self.0.iter()
    }
}

/// What an entry name comes to once checked and stripped.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Cleaned {
    /// A path below the root.
    Path(RelPath),
    /// The root itself (`./`), or a name consumed by stripping.
    Nothing,
}

/// Checks an entry name and strips its first `strip` components.
pub(super) fn clean(raw: &[u8], strip: usize) -> Result<Cleaned, Problem> {
    if raw.starts_with(b"/") {
        return Err(Problem::Absolute);
    }
    if raw.contains(&0) {
        return Err(Problem::Nul);
    }
    let mut parts = Vec::new();
    for part in raw.split(|&b| b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => return Err(Problem::DotDot),
            name => parts.push(OsStr::from_bytes(name)),
        }
    }
    if parts.len() <= strip {
        return Ok(Cleaned::Nothing);
    }
    Ok(Cleaned::Path(RelPath(parts[strip..].iter().collect())))
}

/// What the unpacker has put at a path so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Node {
    /// A directory.
    Dir,
    /// A regular file.
    File,
    /// A symlink, with its target.
    Symlink(OsString),
}

/// Checks that the symlink at `link`, pointing to `target`, resolves to a
/// place inside the root, following the symlinks in `nodes` (the tree as
/// unpacked so far) the way the kernel would.
///
/// A path that does not exist (yet) is taken lexically. An absolute target,
/// met at the start or through another link, is accepted only when
/// `allow_absolute` is set: it is then kept as-is and never followed, since
/// it means the root filesystem the tree will be mounted as. A loop cannot
/// lead anywhere and is accepted.
pub(super) fn check_symlink(
    nodes: &HashMap<PathBuf, Node>,
    link: &RelPath,
    target: &OsStr,
    allow_absolute: bool,
) -> Result<(), Problem> {
    let absolute = |target: &OsStr| Problem::AbsoluteSymlink {
        target: target.to_owned(),
    };
    if target.as_bytes().starts_with(b"/") {
        return if allow_absolute {
            Ok(())
        } else {
            Err(absolute(target))
        };
    }
    let mut at: Vec<&OsStr> = link.components().collect();
    at.pop();
    let mut pending: Vec<&OsStr> = Vec::new();
    push_reversed(&mut pending, target);
    let mut hops = 0;
    while let Some(part) = pending.pop() {
        match part.as_bytes() {
            b"" | b"." => continue,
            b".." => {
                if at.pop().is_none() {
                    return Err(Problem::SymlinkEscapes {
                        target: target.to_owned(),
                    });
                }
                continue;
            }
            _ => at.push(part),
        }
        let Some(Node::Symlink(next)) = nodes.get(&at.iter().collect::<PathBuf>()) else {
            continue;
        };
        hops += 1;
        if hops > MAX_HOPS {
            return Ok(());
        }
        at.pop();
        if next.as_bytes().starts_with(b"/") {
            // Only allowed ones are in `nodes`; they are not followed.
            return if allow_absolute {
                Ok(())
            } else {
                Err(absolute(next))
            };
        }
        push_reversed(&mut pending, next);
    }
    Ok(())
}

/// Pushes the components of `target` onto `stack` so that the first one is
/// popped first.
fn push_reversed<'a>(stack: &mut Vec<&'a OsStr>, target: &'a OsStr) {
    stack.extend(
        target
            .as_bytes()
            .rsplit(|&b| b == b'/')
            .map(OsStr::from_bytes),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rel(text: &str) -> RelPath {
        match clean(text.as_bytes(), 0) {
            Ok(Cleaned::Path(path)) => path,
            other => panic!("`{text}` did not clean to a path: {other:?}"),
        }
    }

    #[test]
    fn clean_drops_dots_and_empty_components() {
        assert_eq!(
            clean(b"./usr//bin/./x", 0),
            Ok(Cleaned::Path(rel("usr/bin/x")))
        );
        assert_eq!(clean(b"./", 0), Ok(Cleaned::Nothing));
    }

    #[test]
    fn clean_refuses_absolute_and_dotdot() {
        assert_eq!(clean(b"/etc/passwd", 0), Err(Problem::Absolute));
        assert_eq!(clean(b"a/../../x", 0), Err(Problem::DotDot));
        assert_eq!(clean(b"pkg/../x", 1), Err(Problem::DotDot));
        assert_eq!(clean(b"a\0b", 0), Err(Problem::Nul));
    }

    #[test]
    fn clean_strips_components() {
        assert_eq!(
            clean(b"itoa-1.0.11/src/lib.rs", 1),
            Ok(Cleaned::Path(rel("src/lib.rs")))
        );
        assert_eq!(clean(b"itoa-1.0.11/", 1), Ok(Cleaned::Nothing));
    }

    #[test]
    fn symlinks_inside_are_fine() {
        let nodes = HashMap::new();
        let check =
            |link: &str, target: &str| check_symlink(&nodes, &rel(link), OsStr::new(target), false);
        assert_eq!(check("a/b/c", "../../x"), Ok(()));
        assert_eq!(check("a/b/c", "./d/../e"), Ok(()));
        assert!(check("a/b/c", "../../../x").is_err());
        assert!(check("c", "..").is_err());
        assert!(check("c", "/etc").is_err());
    }

    #[test]
    fn escapes_through_other_symlinks_are_found() {
        let mut nodes = HashMap::new();
        nodes.insert(PathBuf::from("p/q/up"), Node::Symlink("../..".into()));
        // Lexically inside, but `p/q/up` is the root, and `..` of it is out.
        let link = rel("l");
        assert!(check_symlink(&nodes, &link, OsStr::new("p/q/up/.."), false).is_err());
        assert_eq!(
            check_symlink(&nodes, &link, OsStr::new("p/q/up/x"), false),
            Ok(())
        );
    }

    #[test]
    fn absolute_targets_need_the_option() {
        let mut nodes = HashMap::new();
        nodes.insert(
            PathBuf::from("cc"),
            Node::Symlink("/etc/alternatives/cc".into()),
        );
        let link = rel("usr/bin/gcc");
        assert!(check_symlink(&nodes, &link, OsStr::new("/usr/bin/x"), false).is_err());
        assert_eq!(
            check_symlink(&nodes, &link, OsStr::new("/usr/bin/x"), true),
            Ok(())
        );
        assert_eq!(
            check_symlink(&nodes, &link, OsStr::new("../../cc/.."), true),
            Ok(())
        );
    }

    #[test]
    fn loops_end() {
        let mut nodes = HashMap::new();
        nodes.insert(PathBuf::from("a"), Node::Symlink("b".into()));
        nodes.insert(PathBuf::from("b"), Node::Symlink("a".into()));
        assert_eq!(
            check_symlink(&nodes, &rel("c"), OsStr::new("a"), false),
            Ok(())
        );
    }
}
