//! Planning a sandbox: everything a build will see, computed with no I/O.
//!
//! [`plan`] turns a [`SandboxSpec`] (the store paths a build may read, the
//! outputs it must write, its builder and environment) into a
//! [`SandboxPlan`]: the ordered [`Step`]s that assemble the sandbox's root
//! filesystem, the builder's exact environment, its ids and host names, and
//! the files to put in its build directory. Nothing here touches the file
//! system, so every decision about what a build sees is unit-testable
//! without root; [`super::linux`] carries the plan out.
//!
//! Paths called *sandbox paths* are absolute paths as the builder sees them
//! (`/nix/store/…`, `/build`); *host paths* are where things really are.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use thiserror::Error;

use super::variation::Variation;
use crate::store_path::{StoreDir, StorePath};

mod env;
mod steps;

pub use env::pass_as_file_name;

/// The derivation attribute naming a root filesystem (a store path in the
/// build's inputs) to mount as `/` beneath the store; see `docs/sandbox.md`.
pub const ROOTFS_ATTR: &str = "__kilnRootfs";
/// The build directory as the builder sees it (Nix's `sandbox-build-dir`).
pub const BUILD_DIR: &str = "/build";
/// `HOME`: a directory that does not exist, as in Nix.
pub const HOME_DIR: &str = "/homeless-shelter";
/// The default `SOURCE_DATE_EPOCH` (1980-01-01, the ZIP epoch, as nixpkgs).
pub const SOURCE_DATE_EPOCH: &str = "315532800";
/// The host name inside the sandbox.
pub const HOSTNAME: &str = "localhost";
/// The NIS domain name inside the sandbox (the kernel's default, as in Nix).
pub const DOMAINNAME: &str = "(none)";
/// The builder's uid inside the sandbox (Nix's `nixbld` sandbox user).
pub const SANDBOX_UID: u32 = 1000;
/// The builder's gid inside the sandbox (Nix's `nixbld` sandbox group).
pub const SANDBOX_GID: u32 = 100;
/// The host uid (and gid) builds run as when kiln runs as root: far above
/// ordinary users, and away from Nix's `auto-allocate-uids` range.
pub const ROOT_BUILD_ID: u32 = 0x3500_0000;

/// Top-level sandbox directories that a root filesystem cannot provide.
const RESERVED_TOP: [&str; 5] = ["build", "kiln-varied-build-directory", "dev", "proc", "etc"];

/// Host directories of one build; see [`SandboxDirs::under`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxDirs {
    /// The build directory, mounted writable at `/build`.
    pub build: PathBuf,
    /// The scratch store, mounted writable at the logical store directory:
    /// the builder creates its outputs here, and input store paths are
    /// mounted read-only over empty mount points made in it.
    pub store: PathBuf,
    /// An empty directory the sandbox's fresh root is assembled on (in the
    /// sandbox's own mount namespace: the host sees nothing there).
    pub root: PathBuf,
    /// Where `build` is mounted through disorderfs when the directory
    /// entries vary ([`super::Aspect::Dirents`]); bound in its place.
    pub reversed_build: PathBuf,
}

impl SandboxDirs {
    /// Returns `build`, `store` and `root` directories under `work`, a
    /// private per-build directory.
    pub fn under(work: &Path) -> SandboxDirs {
        SandboxDirs {
            build: work.join("build"),
            store: work.join("store"),
            root: work.join("root"),
            reversed_build: work.join("build-reversed"),
        }
    }
}

/// The user and group the builder runs as, and the host ids behind them.
///
/// Unprivileged, the only mapping a process may make is its own uid and
/// gid, so the builder is the caller under another name. As root that
/// would make the builder host root (kuid 0) without capabilities, which
/// the kernel still trusts in places (owner of every root-owned file it
/// can reach, such as the bound `/dev/null`; owner of `/proc/sys`). So a
/// root caller maps the sandbox's root to host root for setting up only,
/// and the builder to an unprivileged host id ([`ROOT_BUILD_ID`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdMap {
    /// The builder's uid inside the sandbox.
    pub inside_uid: u32,
    /// The builder's gid inside the sandbox.
    pub inside_gid: u32,
    /// The host uid mapped to `inside_uid` (the caller's effective uid).
    pub outside_uid: u32,
    /// The host gid mapped to `inside_gid` (the caller's effective gid).
    pub outside_gid: u32,
    /// Also map the sandbox's root to host root, set the sandbox up as it,
    /// and switch to the build user only for the builder. Needs a root
    /// caller (the maps are then written from outside the namespace).
    pub setup_as_root: bool,
}

impl IdMap {
    /// Maps an unprivileged caller's ids to Nix's `nixbld` user (1000) and
    /// group (100).
    pub fn unprivileged(outside_uid: u32, outside_gid: u32) -> IdMap {
        IdMap {
            inside_uid: SANDBOX_UID,
            inside_gid: SANDBOX_GID,
            outside_uid,
            outside_gid,
            setup_as_root: false,
        }
    }

    /// For a root caller: the build user is [`ROOT_BUILD_ID`] on the host.
    pub fn privileged() -> IdMap {
        IdMap {
            outside_uid: ROOT_BUILD_ID,
            outside_gid: ROOT_BUILD_ID,
            setup_as_root: true,
            ..IdMap::unprivileged(0, 0)
        }
    }
}

/// What a build needs: the input of [`plan`].
#[derive(Debug, Clone)]
pub struct SandboxSpec {
    /// The logical store directory (`/nix/store`).
    pub store_dir: StoreDir,
    /// The host directories of this build.
    pub dirs: SandboxDirs,
    /// The input closure: each store path with the host path holding it.
    pub inputs: Vec<(StorePath, PathBuf)>,
    /// The outputs: name (`out`) and logical store path.
    pub outputs: Vec<(String, StorePath)>,
    /// The builder, an absolute sandbox path.
    pub builder: String,
    /// The builder's arguments (without `argv[0]`).
    pub args: Vec<String>,
    /// The derivation's environment.
    pub env: BTreeMap<String, String>,
    /// A root filesystem to mount as `/` beneath the store: one of `inputs`.
    pub rootfs: Option<StorePath>,
    /// A fixed-output derivation: it shares the host's network.
    pub fixed_output: bool,
    /// For fixed-output builds, the values of the derivation's
    /// `impureEnvVars` taken from the caller's environment.
    pub impure_env: BTreeMap<String, String>,
    /// `NIX_BUILD_CORES`.
    pub cores: u32,
    /// Who the builder is.
    pub ids: IdMap,
    /// What differs from a normal build's surroundings (`--vary`).
    pub variation: Variation,
}

/// Whether a bind mount may be written through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Mounted read-only.
    ReadOnly,
    /// Mounted writable (subject to file permissions).
    Writable,
}

/// One step of assembling the sandbox, in order. Targets are sandbox paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Creates a directory unless it exists.
    Dir {
        /// The directory.
        path: PathBuf,
    },
    /// Mounts a fresh tmpfs with the given root mode (`/` is the new root).
    Tmpfs {
        /// The mount point.
        path: PathBuf,
        /// The mode of the tmpfs root.
        mode: u32,
    },
    /// Bind-mounts a host path, making the mount point to match its type; a
    /// symlink is copied instead (a mount cannot sit on a symlink).
    Bind {
        /// The host path.
        source: PathBuf,
        /// The sandbox path.
        target: PathBuf,
        /// Read-only or writable.
        access: Access,
        /// Skip the step if `source` does not exist.
        optional: bool,
    },
    /// Binds each entry of a host directory read-only into a sandbox
    /// directory (symlinks are copied), except the names in `skip`.
    Merge {
        /// The host directory.
        source: PathBuf,
        /// The sandbox directory.
        target: PathBuf,
        /// Entry names left out (the sandbox provides them).
        skip: BTreeSet<String>,
        /// Skip the step if `source` does not exist.
        optional: bool,
    },
    /// Mounts a fresh `proc` of the sandbox's pid namespace.
    Proc {
        /// The mount point.
        path: PathBuf,
    },
    /// Mounts a fresh `devpts` instance (its own `ptmx`).
    Devpts {
        /// The mount point.
        path: PathBuf,
    },
    /// Creates a symlink.
    Symlink {
        /// The link.
        path: PathBuf,
        /// What it points to.
        target: PathBuf,
    },
    /// Writes a file.
    File {
        /// The file.
        path: PathBuf,
        /// Its contents.
        contents: Vec<u8>,
        /// Its mode.
        mode: u32,
    },
    /// Makes the mount at `path` read-only.
    ReadOnly {
        /// The mount point.
        path: PathBuf,
    },
    /// Gives a directory to the build user.
    Chown {
        /// The directory.
        path: PathBuf,
        /// The owner inside the sandbox.
        uid: u32,
        /// The group inside the sandbox.
        gid: u32,
    },
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Dir { path } => write!(f, "mkdir {}", path.display()),
            Step::Tmpfs { path, mode } => write!(f, "tmpfs (mode {mode:o}) on {}", path.display()),
            Step::Bind {
                source,
                target,
                access,
                ..
            } => {
                let how = if *access == Access::ReadOnly {
                    "read-only"
                } else {
                    "writable"
                };
                write!(
                    f,
                    "bind {} on {} ({how})",
                    source.display(),
                    target.display()
                )
            }
            Step::Merge { source, target, .. } => {
                write!(f, "merge {} into {}", source.display(), target.display())
            }
            Step::Proc { path } => write!(f, "proc on {}", path.display()),
            Step::Devpts { path } => write!(f, "devpts on {}", path.display()),
            Step::Symlink { path, target } => {
                write!(f, "symlink {} -> {}", path.display(), target.display())
            }
            Step::File { path, .. } => write!(f, "write {}", path.display()),
            Step::ReadOnly { path } => write!(f, "remount {} read-only", path.display()),
            Step::Chown { path, uid, gid } => write!(f, "chown {uid}:{gid} {}", path.display()),
        }
    }
}

/// A file to create in the build directory before the build starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildFile {
    /// Its name inside the build directory.
    pub name: String,
    /// Its contents.
    pub contents: Vec<u8>,
}

/// An output as planned: where the builder writes it and where that is on
/// the host once the build has finished.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedOutput {
    /// The output name (`out`).
    pub name: String,
    /// The logical store path.
    pub path: StorePath,
    /// The host path the builder's output appears at (in the scratch store).
    pub host_path: PathBuf,
}

/// Everything the sandbox executor needs, decided in advance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxPlan {
    /// The host directories (created, and the build directory filled,
    /// before the build starts).
    pub dirs: SandboxDirs,
    /// Assembly steps, in order.
    pub steps: Vec<Step>,
    /// The builder's whole environment.
    pub env: BTreeMap<String, String>,
    /// The builder, a sandbox path.
    pub builder: String,
    /// `argv[0]`: the builder's base name, as Nix passes it.
    pub arg0: String,
    /// The remaining arguments.
    pub args: Vec<String>,
    /// The working directory, the build directory (`/build`).
    pub cwd: PathBuf,
    /// Host name inside the sandbox.
    pub hostname: String,
    /// NIS domain name inside the sandbox.
    pub domainname: String,
    /// The builder's umask.
    pub umask: u32,
    /// How far the sandbox's monotonic and boot-time clocks are moved, in
    /// seconds (0: not at all, and no time namespace).
    pub clock_shift_secs: i64,
    /// Whether the build directory is shown through disorderfs, its
    /// directory entries reversed (mounted at `dirs.reversed_build`).
    pub reverse_dirents: bool,
    /// Ids inside and outside.
    pub ids: IdMap,
    /// Whether the build gets a network namespace of its own (loopback
    /// only); fixed-output builds share the host's.
    pub private_network: bool,
    /// Files to create in the build directory (`passAsFile`).
    pub build_files: Vec<BuildFile>,
    /// The outputs and where they land.
    pub outputs: Vec<PlannedOutput>,
}

/// Why a sandbox cannot be planned.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum PlanError {
    /// The builder is not an absolute path.
    #[error("builder `{0}` is not an absolute path")]
    RelativeBuilder(String),
    /// A host directory is not absolute.
    #[error("{what} `{path}` is not an absolute path")]
    RelativeHostPath {
        /// Which directory.
        what: &'static str,
        /// The path.
        path: PathBuf,
    },
    /// The store directory is `/` or collides with a directory the sandbox owns.
    #[error("store directory `{0}` collides with the sandbox's own directories")]
    BadStoreDir(String),
    /// The root filesystem is not one of the inputs.
    #[error("root filesystem `{0}` is not one of the build's inputs")]
    RootfsNotAnInput(String),
    /// The root filesystem attribute does not name a store path.
    #[error("`{ROOTFS_ATTR}` = `{0}` is not a store path")]
    RootfsNotAStorePath(String),
    /// A store path is both an input and an output.
    #[error("`{0}` is both an input and an output")]
    InputIsOutput(String),
    /// An environment variable name is empty or holds `=` or NUL.
    #[error("environment variable name `{0}` is not allowed")]
    BadEnvName(String),
    /// A string passed to the builder holds a NUL byte.
    #[error("{what} `{name}` contains a NUL byte")]
    Nul {
        /// What kind of string (argument, environment variable).
        what: &'static str,
        /// Its name or position.
        name: String,
    },
}

/// Returns the root filesystem a derivation environment names with
/// [`ROOTFS_ATTR`], if any.
pub fn rootfs_attr(
    env: &BTreeMap<String, String>,
    store_dir: &StoreDir,
) -> Result<Option<StorePath>, PlanError> {
    let Some(value) = env.get(ROOTFS_ATTR) else {
        return Ok(None);
    };
    let path = store_dir
        .parse(value)
        .map_err(|_| PlanError::RootfsNotAStorePath(value.clone()))?;
    Ok(Some(path))
}

/// Plans the sandbox for one build.
pub fn plan(spec: &SandboxSpec) -> Result<SandboxPlan, PlanError> {
    validate(spec)?;
    let store_dir = PathBuf::from(spec.store_dir.as_str());
    let (env, build_files) = env::environment(spec);
    let outputs = spec
        .outputs
        .iter()
        .map(|(name, path)| PlannedOutput {
            name: name.clone(),
            path: path.clone(),
            host_path: spec.dirs.store.join(path.base_name()),
        })
        .collect();
    Ok(SandboxPlan {
        dirs: spec.dirs.clone(),
        steps: steps::steps(spec, &store_dir),
        env,
        builder: spec.builder.clone(),
        arg0: base_name(&spec.builder).to_owned(),
        args: spec.args.clone(),
        cwd: PathBuf::from(spec.variation.build_dir()),
        hostname: spec.variation.hostname().to_owned(),
        domainname: spec.variation.domainname().to_owned(),
        umask: spec.variation.umask(),
        clock_shift_secs: spec.variation.clock_shift_secs(),
        reverse_dirents: spec.variation.varies(super::Aspect::Dirents),
        ids: spec.ids,
        private_network: !spec.fixed_output,
        build_files,
        outputs,
    })
}

fn base_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

fn validate(spec: &SandboxSpec) -> Result<(), PlanError> {
    if !spec.builder.starts_with('/') {
        return Err(PlanError::RelativeBuilder(spec.builder.clone()));
    }
    let dirs = [
        ("build directory", &spec.dirs.build),
        ("scratch store", &spec.dirs.store),
    ];
    let root = [("sandbox root", &spec.dirs.root)];
    let inputs = spec.inputs.iter().map(|(_, host)| ("input", host));
    for (what, path) in dirs.into_iter().chain(root).chain(inputs) {
        if !path.is_absolute() {
            return Err(PlanError::RelativeHostPath {
                what,
                path: path.clone(),
            });
        }
    }
    let store = spec.store_dir.as_str();
    let top = store
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or("");
    if !store.starts_with('/') || top.is_empty() || RESERVED_TOP.contains(&top) {
        return Err(PlanError::BadStoreDir(store.to_owned()));
    }
    let input_paths: BTreeSet<&StorePath> = spec.inputs.iter().map(|(path, _)| path).collect();
    if let Some((_, path)) = spec
        .outputs
        .iter()
        .find(|(_, path)| input_paths.contains(path))
    {
        return Err(PlanError::InputIsOutput(spec.store_dir.display(path)));
    }
    if let Some(rootfs) = &spec.rootfs
        && !input_paths.contains(rootfs)
    {
        return Err(PlanError::RootfsNotAnInput(spec.store_dir.display(rootfs)));
    }
    validate_strings(spec)
}

fn validate_strings(spec: &SandboxSpec) -> Result<(), PlanError> {
    let env = spec.env.iter().chain(&spec.impure_env);
    for (name, value) in env {
        if name.is_empty() || name.contains(['=', '\0']) {
            return Err(PlanError::BadEnvName(name.clone()));
        }
        if value.contains('\0') {
            return Err(PlanError::Nul {
                what: "environment variable",
                name: name.clone(),
            });
        }
    }
    if spec.builder.contains('\0') {
        return Err(PlanError::Nul {
            what: "builder",
            name: spec.builder.clone(),
        });
    }
    if let Some(position) = spec.args.iter().position(|arg| arg.contains('\0')) {
        return Err(PlanError::Nul {
            what: "argument",
            name: position.to_string(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests;
