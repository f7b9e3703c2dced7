//! What runs inside: the namespace-creating *outer* process and the
//! sandbox's *pid 1*.
//!
//! [`run`] is the `pre_exec` hook of the builder's `Command` (see
//! [`super::linux`] for why the tree has three levels). Everything here
//! runs between `fork` and `exec` of a possibly multi-threaded caller, so it
//! only makes system calls on memory prepared in advance: no allocation, no
//! locks, no panics on any path input can reach.
//!
//! Failures cannot be returned as Rust errors across the process boundary,
//! so they are sent as one fixed-size [`Report`] on a status pipe; the
//! builder's wait status is sent the same way. The caller decodes it with
//! [`Report::decode`].

use std::fmt;
use std::io;
use std::os::fd::AsRawFd;

use std::os::fd::OwnedFd;

use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;
use rustix::process::{Pid, Signal, WaitOptions};

use super::linux::{self, Forked};
use super::prepare::Prepared;

/// A phase of the setup other than a plan step, named in failure reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// `unshare` of the user, mount, pid, ipc, uts (and network) namespaces.
    Unshare,
    /// Writing `/proc/self/{setgroups,uid_map,gid_map}`.
    IdMaps,
    /// Moving the clocks of the time namespace (`--vary clock`).
    Clock,
    /// `fork` of pid 1 or of the builder.
    Fork,
    /// Making the mounts private.
    PrivateMounts,
    /// `pivot_root` into the new root.
    PivotRoot,
    /// Setting the host and domain names.
    Hostname,
    /// Bringing up the loopback interface.
    Loopback,
    /// Entering the working directory.
    Chdir,
    /// Waiting for the builder.
    Wait,
    /// Switching the builder to the build user.
    BuildUser,
}

impl Phase {
    const ALL: [Phase; 11] = [
        Phase::Unshare,
        Phase::IdMaps,
        Phase::Clock,
        Phase::Fork,
        Phase::PrivateMounts,
        Phase::PivotRoot,
        Phase::Hostname,
        Phase::Loopback,
        Phase::Chdir,
        Phase::Wait,
        Phase::BuildUser,
    ];

    fn code(self) -> u32 {
        Phase::ALL
            .iter()
            .position(|phase| *phase == self)
            .unwrap_or_default() as u32
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Phase::Unshare => "cannot create the namespaces (are user namespaces enabled?)",
            Phase::IdMaps => "cannot map the build user's ids",
            Phase::Clock => "cannot move the clocks of the time namespace",
            Phase::Fork => "cannot fork",
            Phase::PrivateMounts => "cannot make the mounts private",
            Phase::PivotRoot => "cannot enter the new root (pivot_root)",
            Phase::Hostname => "cannot set the host name",
            Phase::Loopback => "cannot bring up the loopback interface",
            Phase::Chdir => "cannot enter the build directory",
            Phase::Wait => "cannot wait for the builder",
            Phase::BuildUser => "cannot switch to the build user",
        })
    }
}

/// One message from the child side on the status pipe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Report {
    /// The builder ended with this raw wait status.
    Exited(i32),
    /// Plan step number `step` failed with `errno`.
    StepFailed {
        /// The index of the step in the plan.
        step: u32,
        /// The error number.
        errno: i32,
    },
    /// A phase failed with `errno`.
    PhaseFailed {
        /// The phase.
        phase: Phase,
        /// The error number.
        errno: i32,
    },
}

impl Report {
    /// The size of an encoded report: kind, argument, value (little endian).
    pub const SIZE: usize = 12;

    /// Encodes the report (fixed size, so one `write` is atomic on a pipe).
    pub fn encode(self) -> [u8; Report::SIZE] {
        let (kind, argument, value) = match self {
            Report::Exited(status) => (0u32, 0u32, status),
            Report::StepFailed { step, errno } => (1, step, errno),
            Report::PhaseFailed { phase, errno } => (2, phase.code(), errno),
        };
        let mut bytes = [0; Report::SIZE];
        bytes[..4].copy_from_slice(&kind.to_le_bytes());
        bytes[4..8].copy_from_slice(&argument.to_le_bytes());
        bytes[8..].copy_from_slice(&value.to_le_bytes());
        bytes
    }

    /// Decodes the first report in `bytes`, if there is a whole valid one.
    pub fn decode(bytes: &[u8]) -> Option<Report> {
        let word = |at: usize| -> Option<[u8; 4]> { bytes.get(at..at + 4)?.try_into().ok() };
        let kind = u32::from_le_bytes(word(0)?);
        let argument = u32::from_le_bytes(word(4)?);
        let value = i32::from_le_bytes(word(8)?);
        match kind {
            0 => Some(Report::Exited(value)),
            1 => Some(Report::StepFailed {
                step: argument,
                errno: value,
            }),
            2 => {
                let phase = *Phase::ALL.get(argument as usize)?;
                Some(Report::PhaseFailed {
                    phase,
                    errno: value,
                })
            }
            _ => None,
        }
    }
}

/// The `pre_exec` hook: runs in the outer process, forks pid 1, which forks
/// the builder. Returns only in the builder, which `Command` then execs;
/// the other two end with `_exit`.
pub fn run(prepared: &mut Prepared) -> io::Result<()> {
    let prepared = &*prepared;
    // A session of its own: no controlling terminal (a builder must not
    // reach the user's terminal through /dev/tty), and a process group
    // the caller can kill as a whole.
    let _ = rustix::process::setsid();
    // The new session's autogroup keeps the caller's priority (best
    // effort: without autogroups, the nice value is inherited anyway).
    if !prepared.autogroup_nice.is_empty() {
        let _ = linux::set_autogroup_nice(&prepared.autogroup_nice);
    }
    rustix::process::umask(Mode::from_raw_mode(prepared.umask));
    // Die with the caller (if it died before this point, stop now).
    let death_signal = rustix::process::set_parent_process_death_signal(Some(Signal::KILL));
    if death_signal.is_err() || rustix::process::getppid() != Some(prepared.parent) {
        linux::exit_now(1);
    }
    // Drop supplementary groups while still able to (root only).
    let _ = rustix::thread::set_thread_groups(&[]);
    if prepared.setup_as_root {
        unshare_mapped_from_outside(prepared);
    } else {
        check(
            prepared,
            Phase::Unshare,
            linux::unshare(prepared.private_network, moves_clocks(prepared)),
        );
        let proc_self = open_proc_self();
        check(
            prepared,
            Phase::IdMaps,
            proc_self.and_then(|dir| write_id_maps(&dir, prepared)),
        );
    }
    if moves_clocks(prepared) {
        check(
            prepared,
            Phase::Clock,
            linux::set_time_offsets(&prepared.timens_offsets),
        );
    }
    match linux::fork() {
        Err(error) => fail(prepared, Phase::Fork, error),
        Ok(Forked::Child) => init(prepared),
        Ok(Forked::Parent(pid)) => {
            linux::close_fds_except(2);
            wait_for(pid);
            linux::exit_now(0)
        }
    }
}

/// Whether the sandbox gets a time namespace with moved clocks.
fn moves_clocks(prepared: &Prepared) -> bool {
    !prepared.timens_offsets.is_empty()
}

fn open_proc_self() -> rustix::io::Result<OwnedFd> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    rustix::fs::open(c"/proc/self", flags, Mode::empty())
}

/// Writes the id maps of the process whose `/proc/<pid>` is `proc_dir`.
/// Unprivileged, the only allowed mapping is the caller's own ids, and
/// `setgroups` must be denied first for the gid map.
fn write_id_maps(proc_dir: &OwnedFd, prepared: &Prepared) -> rustix::io::Result<()> {
    let deny: &[u8] = if prepared.setup_as_root { b"" } else { b"deny" };
    let files = [
        (c"setgroups", deny),
        (c"uid_map", &prepared.uid_map[..]),
        (c"gid_map", &prepared.gid_map[..]),
    ];
    for (name, contents) in files {
        if contents.is_empty() {
            continue;
        }
        let flags = OFlags::WRONLY | OFlags::CLOEXEC;
        let fd = rustix::fs::openat(proc_dir, name, flags, Mode::empty())?;
        linux::write_all(&fd, contents)?;
    }
    Ok(())
}

/// As root: creates the namespaces while a helper, forked first and so
/// still in the host's user namespace (where it may write any mapping),
/// writes the maps; a process cannot map ids other than its own for itself.
fn unshare_mapped_from_outside(prepared: &Prepared) {
    let proc_self = open_proc_self().unwrap_or_else(|error| fail(prepared, Phase::IdMaps, error));
    let pipes = rustix::pipe::pipe().and_then(|go| Ok((go, rustix::pipe::pipe()?)));
    let ((go_reader, go_writer), (done_reader, done_writer)) =
        pipes.unwrap_or_else(|error| fail(prepared, Phase::IdMaps, error));
    match linux::fork() {
        Err(error) => fail(prepared, Phase::Fork, error),
        Ok(Forked::Child) => {
            drop((go_writer, done_reader));
            let mut byte = [0u8; 1];
            if rustix::io::read(&go_reader, &mut byte) != Ok(1) {
                linux::exit_now(0); // the namespaces were not made
            }
            let code = match write_id_maps(&proc_self, prepared) {
                Ok(()) => 0,
                Err(error) => error.raw_os_error(),
            };
            let _ = linux::write_all(&done_writer, &code.to_le_bytes());
            linux::exit_now(0)
        }
        Ok(Forked::Parent(helper)) => {
            drop((go_reader, done_writer));
            let unshared = linux::unshare(prepared.private_network, moves_clocks(prepared));
            if unshared.is_ok() {
                let _ = linux::write_all(&go_writer, b"1");
            }
            drop(go_writer);
            let mut code = [0u8; 4];
            let read = read_exact(&done_reader, &mut code);
            wait_for(helper);
            check(prepared, Phase::Unshare, unshared);
            check(prepared, Phase::IdMaps, read);
            let code = i32::from_le_bytes(code);
            if code != 0 {
                fail(prepared, Phase::IdMaps, Errno::from_raw_os_error(code));
            }
        }
    }
}

fn read_exact(fd: &OwnedFd, mut buffer: &mut [u8]) -> rustix::io::Result<()> {
    while !buffer.is_empty() {
        match rustix::io::read(fd, &mut *buffer) {
            Ok(0) => return Err(Errno::PIPE),
            Ok(count) => buffer = buffer.get_mut(count..).unwrap_or_default(),
            Err(Errno::INTR) => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

/// In the builder, as root of the sandbox: becomes the build user, with no
/// supplementary groups.
fn become_build_user(prepared: &Prepared) -> rustix::io::Result<()> {
    let (uid, gid) = prepared.builder_ids;
    rustix::thread::set_thread_groups(&[])?;
    rustix::thread::set_thread_gid(rustix::process::Gid::from_raw(gid))?;
    rustix::thread::set_thread_uid(rustix::process::Uid::from_raw(uid))
}

/// The sandbox's pid 1: assembles the root, forks the builder, reaps.
fn init(prepared: &Prepared) -> io::Result<()> {
    // Pid 1's parent is outside the namespace, so `getppid` reads 0 and
    // cannot tell whether the outer process is already gone; the window
    // between its fork and this call is the only one left open.
    let _ = rustix::process::set_parent_process_death_signal(Some(Signal::KILL));
    if let Some(area) = prepared.argument_area {
        linux::set_process_title(area, b"kiln-sandbox-init", c"kiln-init");
    }
    assemble(prepared);
    match linux::fork() {
        Err(error) => fail(prepared, Phase::Fork, error),
        Ok(Forked::Child) => {
            // The builder: the build user, no privilege gains through exec,
            // and no descriptor but stdin, stdout and stderr survives it.
            if prepared.setup_as_root {
                check(prepared, Phase::BuildUser, become_build_user(prepared));
            }
            let _ = rustix::thread::set_no_new_privs(true);
            linux::cloexec_fds();
            Ok(())
        }
        Ok(Forked::Parent(builder)) => {
            linux::close_fds_except(prepared.status.as_raw_fd());
            reap(prepared, builder)
        }
    }
}

/// Assembles the root from the prepared ops and enters it, then sets the
/// host names, the loopback interface and the working directory.
fn assemble(prepared: &Prepared) {
    check(prepared, Phase::PrivateMounts, linux::make_mounts_private());
    for (step, op) in &prepared.ops {
        if let Err(error) = linux::run_op(op) {
            let step = u32::try_from(*step).unwrap_or(u32::MAX);
            report(
                prepared,
                Report::StepFailed {
                    step,
                    errno: error.raw_os_error(),
                },
            );
            linux::exit_now(1);
        }
    }
    check(
        prepared,
        Phase::PivotRoot,
        linux::enter_root(&prepared.root),
    );
    check(
        prepared,
        Phase::Hostname,
        rustix::system::sethostname(&prepared.hostname),
    );
    check(
        prepared,
        Phase::Hostname,
        rustix::system::setdomainname(&prepared.domainname),
    );
    if prepared.private_network {
        check(prepared, Phase::Loopback, linux::loopback_up());
    }
    check(
        prepared,
        Phase::Chdir,
        rustix::process::chdir(prepared.cwd.as_c_str()),
    );
}

/// Reaps every child (orphans are re-parented to pid 1) until the builder
/// ends, reports its status and exits, which ends the namespace.
fn reap(prepared: &Prepared, builder: Pid) -> ! {
    loop {
        match rustix::process::waitpid(None, WaitOptions::empty()) {
            Ok(Some((pid, status))) if pid == builder => {
                report(prepared, Report::Exited(status.as_raw()));
                linux::exit_now(0);
            }
            Ok(_) | Err(Errno::INTR) => {}
            Err(error) => fail(prepared, Phase::Wait, error),
        }
    }
}

/// Waits for `pid`, retrying on interruption.
fn wait_for(pid: Pid) {
    loop {
        match rustix::process::waitpid(Some(pid), WaitOptions::empty()) {
            Err(Errno::INTR) => {}
            _ => return,
        }
    }
}

fn check<T>(prepared: &Prepared, phase: Phase, result: rustix::io::Result<T>) {
    if let Err(error) = result {
        fail(prepared, phase, error);
    }
}

fn fail(prepared: &Prepared, phase: Phase, error: Errno) -> ! {
    report(
        prepared,
        Report::PhaseFailed {
            phase,
            errno: error.raw_os_error(),
        },
    );
    linux::exit_now(1)
}

fn report(prepared: &Prepared, report: Report) {
    let _ = linux::write_all(&prepared.status, &report.encode());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_round_trip() {
        let reports = [
            Report::Exited(0x0900),
            Report::StepFailed {
                step: 17,
                errno: 13,
            },
            Report::PhaseFailed {
                phase: Phase::Loopback,
                errno: 1,
            },
            Report::PhaseFailed {
                phase: Phase::Wait,
                errno: 10,
            },
        ];
        for report in reports {
            assert_eq!(Report::decode(&report.encode()), Some(report));
        }
        assert_eq!(Report::decode(&[0; 11]), None);
        assert_eq!(Report::decode(&[7; 12]), None);
    }
}
