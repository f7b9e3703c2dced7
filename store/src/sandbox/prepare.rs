//! Preparing a plan for the child side: every allocation and every look
//! at the host file system happens here, before `fork` (see
//! [`super::linux`]).

use std::ffi::{CString, OsString};
use std::io::{self, PipeWriter};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::process::Pid;

use super::linux::SetupError;
use super::plan::{Access, SandboxPlan, Step};

/// One prepared system-call step; paths are host paths in the sandbox's
/// mount namespace (under the new root until `pivot_root`).
#[derive(Debug)]
pub enum Op {
    /// `mkdir`, tolerating an existing directory.
    Mkdir(CString),
    /// Creates an empty file (a mount point).
    Touch(CString),
    /// Writes a file with a mode.
    Write(CString, Vec<u8>, u32),
    /// `symlink(target, path)`: (path, target).
    Symlink(CString, CString),
    /// Mounts a tmpfs with the given options.
    Tmpfs(CString, CString),
    /// Bind-mounts (source, target), then optionally makes it read-only.
    Bind(CString, CString, Access),
    /// Mounts `proc`.
    Proc(CString),
    /// Mounts a private `devpts`.
    Devpts(CString),
    /// Remounts a mount read-only, keeping its other flags.
    ReadOnly(CString),
    /// `chown(path, uid, gid)`.
    Chown(CString, u32, u32),
}

/// Everything the child side needs, allocated before `fork`.
#[derive(Debug)]
pub struct Prepared {
    /// The ops, each with the index of the plan step it comes from.
    pub ops: Vec<(usize, Op)>,
    /// The host directory the new root is assembled on.
    pub root: CString,
    /// The working directory inside.
    pub cwd: CString,
    /// `/proc/self/uid_map` contents.
    pub uid_map: Vec<u8>,
    /// `/proc/self/gid_map` contents.
    pub gid_map: Vec<u8>,
    /// Host name and NIS domain name.
    pub hostname: Vec<u8>,
    /// The NIS domain name.
    pub domainname: Vec<u8>,
    /// Whether to make a network namespace (loopback only).
    pub private_network: bool,
    /// The builder's umask.
    pub umask: u32,
    /// `/proc/self/timens_offsets` contents when the clocks are moved (a
    /// time namespace is made then), else empty.
    pub timens_offsets: Vec<u8>,
    /// The caller's nice value, as text, when it is above 0 (for the
    /// builder session's autogroup), else empty.
    pub autogroup_nice: Vec<u8>,
    /// The caller's pid: the outer process dies with it.
    pub parent: Pid,
    /// Where the child side reports (see [`super::child::Report`]).
    pub status: PipeWriter,
    /// The caller's argument strings, overwritten in pid 1.
    pub argument_area: Option<(usize, usize)>,
    /// Whether the maps are written from outside and the sandbox is set up
    /// as its root (see [`super::IdMap`]).
    pub setup_as_root: bool,
    /// The builder's uid and gid inside.
    pub builder_ids: (u32, u32),
}

/// The caller's nice value when it runs below normal priority, as
/// `/proc/self/autogroup` takes it.
fn autogroup_nice() -> Vec<u8> {
    match rustix::process::getpriority_process(None) {
        Ok(nice) if nice > 0 => format!("{nice}\n").into_bytes(),
        _ => Vec::new(),
    }
}

/// The offsets of the monotonic and boot-time clocks in a time namespace
/// (`man 7 time_namespaces`), or nothing for no namespace.
fn timens_offsets(secs: i64) -> Vec<u8> {
    if secs == 0 {
        return Vec::new();
    }
    format!("monotonic {secs} 0\nboottime {secs} 0\n").into_bytes()
}

/// Expands the plan into [`Op`]s, reading the host where a step depends on
/// it (the type of a bind source, the entries of a merged directory).
pub fn prepare(plan: &SandboxPlan, status: PipeWriter) -> Result<Prepared, SetupError> {
    let root = &plan.dirs.root;
    let mut ops = Vec::new();
    for (index, step) in plan.steps.iter().enumerate() {
        for op in step_ops(root, step)? {
            ops.push((index, op));
        }
    }
    let ids = &plan.ids;
    let root_line = if ids.setup_as_root { "0 0 1\n" } else { "" };
    Ok(Prepared {
        ops,
        root: c_path(root)?,
        cwd: c_path(&plan.cwd)?,
        uid_map: format!("{root_line}{} {} 1\n", ids.inside_uid, ids.outside_uid).into_bytes(),
        gid_map: format!("{root_line}{} {} 1\n", ids.inside_gid, ids.outside_gid).into_bytes(),
        hostname: plan.hostname.clone().into_bytes(),
        domainname: plan.domainname.clone().into_bytes(),
        private_network: plan.private_network,
        umask: plan.umask,
        timens_offsets: timens_offsets(plan.clock_shift_secs),
        autogroup_nice: autogroup_nice(),
        parent: rustix::process::getpid(),
        status,
        argument_area: argument_area(),
        setup_as_root: ids.setup_as_root,
        builder_ids: (ids.inside_uid, ids.inside_gid),
    })
}

fn step_ops(root: &Path, step: &Step) -> Result<Vec<Op>, SetupError> {
    let at = |path: &Path| c_path(&under(root, path));
    Ok(match step {
        Step::Dir { path } => vec![Op::Mkdir(at(path)?)],
        Step::Tmpfs { path, mode } => {
            let options = CString::new(format!("mode={mode:o}")).map_err(|_| nul(path))?;
            vec![Op::Tmpfs(at(path)?, options)]
        }
        Step::Bind {
            source,
            target,
            access,
            optional,
        } => bind_ops(source, &under(root, target), *access, *optional)?,
        Step::Merge {
            source,
            target,
            skip,
            optional,
        } => {
            let mut ops = Vec::new();
            for name in merge_entries(source, *optional)? {
                if skip.contains(name.to_string_lossy().as_ref()) {
                    continue;
                }
                let target = under(root, target).join(&name);
                ops.extend(bind_ops(
                    &source.join(&name),
                    &target,
                    Access::ReadOnly,
                    false,
                )?);
            }
            ops
        }
        Step::Proc { path } => vec![Op::Proc(at(path)?)],
        Step::Devpts { path } => vec![Op::Devpts(at(path)?)],
        Step::Symlink { path, target } => vec![Op::Symlink(at(path)?, c_path(target)?)],
        Step::File {
            path,
            contents,
            mode,
        } => vec![Op::Write(at(path)?, contents.clone(), *mode)],
        Step::ReadOnly { path } => vec![Op::ReadOnly(at(path)?)],
        Step::Chown { path, uid, gid } => vec![Op::Chown(at(path)?, *uid, *gid)],
    })
}

/// The ops binding `source` at `target`: a mount point of the right type
/// and the bind, or a copy of a symlink.
fn bind_ops(
    source: &Path,
    target: &Path,
    access: Access,
    optional: bool,
) -> Result<Vec<Op>, SetupError> {
    let metadata = match fs_err::symlink_metadata(source) {
        Err(error) if optional && error.kind() == io::ErrorKind::NotFound => return Ok(vec![]),
        Err(source_error) => {
            return Err(SetupError::Prepare {
                path: source.to_owned(),
                source: source_error,
            });
        }
        Ok(metadata) => metadata,
    };
    let file_type = metadata.file_type();
    if file_type.is_symlink() {
        let link = fs_err::read_link(source).map_err(|error| SetupError::Prepare {
            path: source.to_owned(),
            source: error,
        })?;
        return Ok(vec![Op::Symlink(c_path(target)?, c_path(&link)?)]);
    }
    let mount_point = if file_type.is_dir() {
        Op::Mkdir(c_path(target)?)
    } else {
        Op::Touch(c_path(target)?)
    };
    Ok(vec![
        mount_point,
        Op::Bind(c_path(source)?, c_path(target)?, access),
    ])
}

/// Lists a directory to merge, sorted (an absent optional one is empty).
fn merge_entries(source: &Path, optional: bool) -> Result<Vec<OsString>, SetupError> {
    let prepare_error = |error| SetupError::Prepare {
        path: source.to_owned(),
        source: error,
    };
    let entries = match fs_err::read_dir(source) {
        Err(error) if optional && error.kind() == io::ErrorKind::NotFound => return Ok(vec![]),
        other => other.map_err(prepare_error)?,
    };
    let mut names = Vec::new();
    for entry in entries {
        names.push(entry.map_err(prepare_error)?.file_name());
    }
    names.sort();
    Ok(names)
}

/// Returns `root` joined with the sandbox path `path` (`/` is `root`).
fn under(root: &Path, path: &Path) -> PathBuf {
    root.join(path.strip_prefix("/").unwrap_or(path))
}

fn c_path(path: &Path) -> Result<CString, SetupError> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| nul(path))
}

fn nul(path: &Path) -> SetupError {
    SetupError::Nul(path.to_owned())
}

/// Returns the caller's argument-strings area (`arg_start`, `arg_end`:
/// fields 48 and 49 of `/proc/self/stat`), which pid 1 overwrites so that
/// `/proc/1/cmdline` in the sandbox does not show the caller's command line.
pub fn argument_area() -> Option<(usize, usize)> {
    let stat = fs_err::read_to_string("/proc/self/stat").ok()?;
    let after_name = stat.get(stat.rfind(')')? + 1..)?;
    // The first field after the name is field 3.
    let mut fields = after_name.split_whitespace().skip(48 - 3);
    let start: usize = fields.next()?.parse().ok()?;
    let end: usize = fields.next()?.parse().ok()?;
    (start < end).then_some((start, end))
}
