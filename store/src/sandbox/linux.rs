//! Carrying a [`SandboxPlan`] out on Linux: the crate's only `unsafe`.
//!
//! # How the sandbox starts
//!
//! A library cannot re-execute its own binary as a helper, and `fork` in a
//! multi-threaded process leaves the child able to run only
//! async-signal-safe code. So [`start`] does every allocation and every
//! look at the host file system first, in the parent: [`prepare`] expands
//! the plan's steps into [`Op`]s whose paths are ready-made C strings (a
//! directory merge lists its source here, a bind looks at its source's
//! type here). It then spawns the builder with `std::process::Command`,
//! whose `pre_exec` hook runs [`child::run`] in the forked child. From there
//! on only raw system calls happen, on memory prepared in advance.
//!
//! The process tree is: the caller → the *outer* process (the `Command`'s
//! child: makes the namespaces, then waits) → the sandbox's *pid 1*
//! (assembles the root, then reaps) → the *builder* (returns from the hook,
//! and `Command` execs it). Three levels are needed because
//! `unshare(CLONE_NEWPID)` only puts the caller's *next* child in the new pid
//! namespace; the outer process is the `Child` the caller holds. When the
//! builder exits, pid 1 reports its status and exits, and the kernel kills
//! everything left in the namespace, so no daemonised process outlives a
//! build. To kill a build early, the caller kills the outer process's group
//! ([`Started::kill`]): it holds the outer process and pid 1, and pid 1's
//! death takes the namespace with it.
//!
//! The alternative, `clone(2)` with namespace flags straight from the caller,
//! saves one process but gives up `Command`'s pipes, environment handling and
//! exec-error reporting, all of which would have to be rewritten in
//! `unsafe` code.

#![expect(
    unsafe_code,
    reason = "namespaces, fork and _exit need it; this is the one module allowed to"
)]

use std::ffi::{CStr, CString};
use std::io::{self, PipeReader};
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use rustix::fs::{Mode, OFlags, StatVfsMountFlags};
use rustix::mount::{MountFlags, MountPropagationFlags, UnmountFlags};
use rustix::process::{Pid, Signal};
use thiserror::Error;

use super::child::{self, Phase, Report};
use super::plan::{Access, IdMap, SandboxPlan, Step};
use super::prepare::{Op, prepare};

/// Why a sandbox could not be set up or its builder not started.
#[derive(Debug, Error)]
pub enum SetupError {
    /// Looking at a host path while preparing failed.
    #[error("cannot prepare the sandbox: cannot read `{path}`")]
    Prepare {
        /// The host path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// A path holds a NUL byte and cannot be passed to the kernel.
    #[error("path `{0}` contains a NUL byte")]
    Nul(PathBuf),
    /// The pipes or the outer process could not be created.
    #[error("cannot start the sandbox")]
    Spawn(#[source] io::Error),
    /// A step of the plan failed inside the sandbox.
    #[error("sandbox setup failed at `{step}`")]
    Step {
        /// The step.
        step: Step,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// Another phase of the setup failed inside the sandbox.
    #[error("sandbox setup failed: {phase}")]
    Phase {
        /// The phase.
        phase: Phase,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The builder could not be executed.
    #[error("cannot execute the builder `{builder}`")]
    Exec {
        /// The builder (a sandbox path).
        builder: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The sandbox ended without reporting the builder's status.
    #[error("the sandbox ended without reporting the builder's status")]
    NoReport,
}

/// A started sandbox: the outer process and the pipe its reports come on.
#[derive(Debug)]
pub struct Started {
    child: Child,
    status: PipeReader,
    steps: Vec<Step>,
}

/// Returns the id mapping for the calling process: [`IdMap::privileged`]
/// as root, else the caller's own ids as the build user.
pub fn current_ids() -> IdMap {
    let (uid, gid) = (rustix::process::geteuid(), rustix::process::getegid());
    if uid.is_root() {
        IdMap::privileged()
    } else {
        IdMap::unprivileged(uid.as_raw(), gid.as_raw())
    }
}

/// Prepares and starts the sandbox for `plan`, with the builder's stdout
/// and stderr both going to `log`. Returns once the builder has been
/// executed (or the setup has failed: [`Started::finish`] says so).
pub fn start(plan: &SandboxPlan, log: OwnedFd) -> Result<Started, SetupError> {
    let (status_reader, status_writer) = io::pipe().map_err(SetupError::Spawn)?;
    let mut prepared = prepare(plan, status_writer)?;
    let log_err = log.try_clone().map_err(SetupError::Spawn)?;
    let mut command = Command::new(&plan.builder);
    command
        .arg0(&plan.arg0)
        .args(&plan.args)
        .env_clear()
        .envs(&plan.env)
        .stdin(Stdio::null())
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(log_err));
    // SAFETY: the hook runs in the forked child of a possibly
    // multi-threaded process. `child::run` makes only system calls (through
    // rustix and the wrappers below) on memory `prepare` allocated, never
    // allocates or takes a lock, and either returns (in the builder, which
    // `Command` then execs) or ends its process with `_exit`.
    unsafe {
        command.pre_exec(move || child::run(&mut prepared));
    }
    let spawned = command.spawn();
    drop(command); // closes the parent's copies of the pipes' write ends
    let child = spawned.map_err(|source| SetupError::Exec {
        builder: plan.builder.clone(),
        source,
    })?;
    Ok(Started {
        child,
        status: status_reader,
        steps: plan.steps.clone(),
    })
}

impl Started {
    /// Kills everything in the sandbox (idempotent).
    pub fn kill(&self) {
        if let Some(pid) = Pid::from_raw(self.child.id() as i32) {
            // The outer process leads its own process group, which holds pid 1
            // too; pid 1's death empties the namespace.
            let _ = rustix::process::kill_process_group(pid, Signal::KILL);
        }
    }

    /// Waits for the outer process and returns the builder's raw wait
    /// status, or the setup failure the sandbox reported.
    pub fn finish(mut self) -> Result<Option<i32>, SetupError> {
        self.child.wait().map_err(SetupError::Spawn)?;
        let mut reports = Vec::new();
        io::Read::read_to_end(&mut self.status, &mut reports).map_err(SetupError::Spawn)?;
        match Report::decode(&reports) {
            Some(Report::Exited(status)) => Ok(Some(status)),
            Some(Report::StepFailed { step, errno }) => {
                let step = self
                    .steps
                    .get(step as usize)
                    .cloned()
                    .ok_or(SetupError::NoReport)?;
                Err(SetupError::Step {
                    step,
                    source: io::Error::from_raw_os_error(errno),
                })
            }
            Some(Report::PhaseFailed { phase, errno }) => Err(SetupError::Phase {
                phase,
                source: io::Error::from_raw_os_error(errno),
            }),
            None => Ok(None),
        }
    }
}

/// Runs one op. Called in the child: system calls only.
pub fn run_op(op: &Op) -> rustix::io::Result<()> {
    use rustix::fs::{mkdir, open, symlink};
    match op {
        Op::Mkdir(path) => match mkdir(path.as_c_str(), Mode::from_raw_mode(0o755)) {
            Err(rustix::io::Errno::EXIST) => Ok(()),
            other => other,
        },
        Op::Touch(path) => {
            let flags = OFlags::CREATE | OFlags::WRONLY | OFlags::CLOEXEC;
            open(path.as_c_str(), flags, Mode::from_raw_mode(0o644)).map(drop)
        }
        Op::Write(path, contents, mode) => write_file(path, contents, *mode),
        Op::Symlink(path, target) => symlink(target.as_c_str(), path.as_c_str()),
        Op::Tmpfs(path, options) => {
            let flags = MountFlags::NOSUID | MountFlags::NODEV;
            rustix::mount::mount(
                c"tmpfs",
                path.as_c_str(),
                c"tmpfs",
                flags,
                options.as_c_str(),
            )
        }
        Op::Bind(source, target, access) => {
            rustix::mount::mount_bind(source.as_c_str(), target.as_c_str())?;
            match access {
                Access::ReadOnly => read_only(target),
                Access::Writable => Ok(()),
            }
        }
        Op::Proc(path) => {
            let flags = MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC;
            rustix::mount::mount(c"proc", path.as_c_str(), c"proc", flags, None)
        }
        Op::Devpts(path) => {
            let flags = MountFlags::NOSUID | MountFlags::NOEXEC;
            // A private instance with its own ptmx, as Nix mounts it.
            let options = c"newinstance,ptmxmode=0666,mode=0620";
            rustix::mount::mount(c"devpts", path.as_c_str(), c"devpts", flags, options)
        }
        Op::ReadOnly(path) => read_only(path),
        Op::Chown(path, uid, gid) => {
            // Ids not mapped in the namespace are refused by the kernel.
            let uid = rustix::process::Uid::from_raw(*uid);
            let gid = rustix::process::Gid::from_raw(*gid);
            rustix::fs::chown(path.as_c_str(), Some(uid), Some(gid))
        }
    }
}

fn write_file(path: &CString, contents: &[u8], mode: u32) -> rustix::io::Result<()> {
    let flags = OFlags::CREATE | OFlags::TRUNC | OFlags::WRONLY | OFlags::CLOEXEC;
    let fd = rustix::fs::open(path.as_c_str(), flags, Mode::from_raw_mode(mode))?;
    write_all(&fd, contents)
}

/// Writes all of `bytes` to `fd`.
pub fn write_all(fd: impl AsFd, mut bytes: &[u8]) -> rustix::io::Result<()> {
    while !bytes.is_empty() {
        match rustix::io::write(&fd, bytes) {
            Ok(0) => return Err(rustix::io::Errno::IO),
            Ok(written) => bytes = bytes.get(written..).unwrap_or_default(),
            Err(rustix::io::Errno::INTR) => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

/// Remounts a bind mount read-only. The flags a user namespace may not
/// clear (nosuid, nodev, noexec, the atime mode: "locked" when the mount
/// came from a more privileged namespace) are read back and kept.
fn read_only(path: &CString) -> rustix::io::Result<()> {
    let current = rustix::fs::statvfs(path.as_c_str())?.f_flag;
    let mut flags = MountFlags::BIND | MountFlags::RDONLY | MountFlags::NOSUID | MountFlags::NODEV;
    let keep = [
        (StatVfsMountFlags::NOEXEC, MountFlags::NOEXEC),
        (StatVfsMountFlags::NODIRATIME, MountFlags::NODIRATIME),
    ];
    for (stat_flag, mount_flag) in keep {
        if current.contains(stat_flag) {
            flags |= mount_flag;
        }
    }
    flags |= if current.contains(StatVfsMountFlags::NOATIME) {
        MountFlags::NOATIME
    } else if current.contains(StatVfsMountFlags::RELATIME) {
        MountFlags::RELATIME
    } else {
        MountFlags::STRICTATIME
    };
    rustix::mount::mount_remount(path.as_c_str(), flags, c"")
}

/// Replaces the process's command line (as `/proc/<pid>/cmdline` shows it)
/// with `title`, and its name with `name`.
pub fn set_process_title(area: (usize, usize), title: &[u8], name: &CStr) {
    let (start, end) = area;
    let len = end - start;
    let copied = title.len().min(len.saturating_sub(1));
    // SAFETY: [start, end) is the argument strings area the kernel set up
    // on this process's stack (read from /proc/self/stat before the fork),
    // which stays mapped and writable. Nothing in this forked child reads
    // the arguments again; the only Rust-side references to them are the
    // raw pointers std keeps for `env::args`, which the child never calls.
    unsafe {
        let base = start as *mut u8;
        std::ptr::write_bytes(base, 0, len);
        std::ptr::copy_nonoverlapping(title.as_ptr(), base, copied);
    }
    let _ = rustix::thread::set_name(name);
}

/// Makes every mount private, so nothing the sandbox mounts reaches the host.
pub fn make_mounts_private() -> rustix::io::Result<()> {
    rustix::mount::mount_change(
        c"/",
        MountPropagationFlags::PRIVATE | MountPropagationFlags::REC,
    )
}

/// Enters the assembled root at `root` and detaches the old one.
pub fn enter_root(root: &CString) -> rustix::io::Result<()> {
    rustix::process::chdir(root.as_c_str())?;
    // pivot_root(".", "."): the old root ends up stacked on the new one,
    // and unmounting "." detaches it (pivot_root(2), "NOTES").
    rustix::process::pivot_root(c".", c".")?;
    rustix::mount::unmount(c".", UnmountFlags::DETACH)?;
    rustix::process::chdir(c"/")
}

/// Creates the namespaces (a user namespace first, owning the others); a
/// time namespace too when `time` (its clocks are set before the first
/// process enters it: see [`set_time_offsets`]).
pub fn unshare(private_network: bool, time: bool) -> rustix::io::Result<()> {
    use rustix::thread::UnshareFlags;
    let mut flags = UnshareFlags::NEWUSER
        | UnshareFlags::NEWNS
        | UnshareFlags::NEWPID
        | UnshareFlags::NEWIPC
        | UnshareFlags::NEWUTS;
    if private_network {
        flags |= UnshareFlags::NEWNET;
    }
    if time {
        flags |= UnshareFlags::NEWTIME;
    }
    // SAFETY: CLONE_FILES is not among the flags, so no thread can be left
    // with a file-descriptor table it does not expect; and the caller is
    // the single-threaded child of a fork.
    unsafe { rustix::thread::unshare_unsafe(flags) }
}

/// Moves the clocks of the time namespace this process made (its children
/// enter it) by writing `/proc/self/timens_offsets`.
pub fn set_time_offsets(offsets: &[u8]) -> rustix::io::Result<()> {
    let flags = OFlags::WRONLY | OFlags::CLOEXEC;
    let file = rustix::fs::open(c"/proc/self/timens_offsets", flags, Mode::empty())?;
    write_all(&file, offsets)
}

/// Sets the nice value of this process's scheduling autogroup (`man 7
/// sched`): with autogroups, a new session competes with every other
/// session as an equal, whatever its processes' own nice values, so a
/// `nice kiln build` would lose its low priority at the builder's setsid.
/// Writes nothing when autogroups are off (the file is absent or refuses).
pub fn set_autogroup_nice(nice: &[u8]) -> rustix::io::Result<()> {
    let flags = OFlags::WRONLY | OFlags::CLOEXEC;
    let file = rustix::fs::open(c"/proc/self/autogroup", flags, Mode::empty())?;
    write_all(&file, nice)
}

/// Brings the loopback interface up in a fresh network namespace.
pub fn loopback_up() -> rustix::io::Result<()> {
    use rustix::net::{AddressFamily, SocketType, socket};
    let socket = socket(AddressFamily::INET, SocketType::DGRAM, None)?;
    // SAFETY: `ifreq` is plain data, valid when zeroed.
    let mut request: libc::ifreq = unsafe { std::mem::zeroed() };
    for (slot, byte) in request.ifr_name.iter_mut().zip(b"lo") {
        *slot = *byte as libc::c_char;
    }
    request.ifr_ifru.ifru_flags = (libc::IFF_UP | libc::IFF_LOOPBACK | libc::IFF_RUNNING) as i16;
    // The request's type is the libc's `Ioctl`: `c_ulong` on glibc, `c_int`
    // on musl (a static kiln built by kiln).
    #[allow(clippy::cast_possible_truncation, clippy::unnecessary_cast)]
    let flags_request = libc::SIOCSIFFLAGS as libc::Ioctl;
    // SAFETY: SIOCSIFFLAGS reads an `ifreq`, which `request` is, and the
    // socket is open for the duration of the call.
    let result = unsafe { libc::ioctl(socket.as_raw_fd(), flags_request, &request) };
    if result == -1 {
        Err(rustix::io::Errno::from_raw_os_error(errno()))
    } else {
        Ok(())
    }
}

/// What `fork` returned.
pub enum Forked {
    /// In the parent, with the child's pid.
    Parent(Pid),
    /// In the child.
    Child,
}

/// `fork(2)`.
pub fn fork() -> rustix::io::Result<Forked> {
    // SAFETY: called only from the single-threaded children the sandbox
    // makes, where the forked copy runs system calls only (see `start`).
    let pid = unsafe { libc::fork() };
    match pid {
        -1 => Err(rustix::io::Errno::from_raw_os_error(errno())),
        0 => Ok(Forked::Child),
        pid => Pid::from_raw(pid)
            .map(Forked::Parent)
            .ok_or(rustix::io::Errno::INVAL),
    }
}

/// Ends the calling process at once (`_exit(2)`: no atexit handlers, no
/// stdio flush, which a forked child must not run).
pub fn exit_now(code: i32) -> ! {
    // SAFETY: `_exit` is async-signal-safe and touches no process memory.
    unsafe { libc::_exit(code) }
}

/// Closes every descriptor from 3 up except `keep`.
pub fn close_fds_except(keep: RawFd) {
    let keep = keep as u32;
    if keep > 3 {
        close_range(3, keep - 1, 0);
    }
    close_range(keep.max(2) + 1, u32::MAX, 0);
}

/// Marks every descriptor from 3 up close-on-exec.
pub fn cloexec_fds() {
    close_range(3, u32::MAX, libc::CLOSE_RANGE_CLOEXEC as i32);
}

fn close_range(first: u32, last: u32, flags: i32) {
    // SAFETY: close_range takes plain integers; closing descriptors the
    // child does not use cannot break memory safety (the child runs no Rust
    // code that owns them past this point).
    unsafe {
        libc::syscall(libc::SYS_close_range, first, last, flags);
    }
}

fn errno() -> i32 {
    io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}
