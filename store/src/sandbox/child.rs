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

use rustix::fs::Mode;
use rustix::io::Errno;
use rustix::process::{Pid, Signal, WaitOptions};

use super::linux::{self, Forked, Prepared};

/// A phase of the setup other than a plan step, named in failure reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// `unshare` of the user, mount, pid, ipc, uts (and network) namespaces.
    Unshare,
    /// Writing `/proc/self/{setgroups,uid_map,gid_map}`.
    IdMaps,
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
}

impl Phase {
    const ALL: [Phase; 9] = [
        Phase::Unshare,
        Phase::IdMaps,
        Phase::Fork,
        Phase::PrivateMounts,
        Phase::PivotRoot,
        Phase::Hostname,
        Phase::Loopback,
        Phase::Chdir,
        Phase::Wait,
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
            Phase::Fork => "cannot fork",
            Phase::PrivateMounts => "cannot make the mounts private",
            Phase::PivotRoot => "cannot enter the new root (pivot_root)",
            Phase::Hostname => "cannot set the host name",
            Phase::Loopback => "cannot bring up the loopback interface",
            Phase::Chdir => "cannot enter the build directory",
            Phase::Wait => "cannot wait for the builder",
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
    rustix::process::umask(Mode::from_raw_mode(0o022));
    // Die with the caller (if it died before this point, stop now).
    let death_signal = rustix::process::set_parent_process_death_signal(Some(Signal::KILL));
    if death_signal.is_err() || rustix::process::getppid() != Some(prepared.parent) {
        linux::exit_now(1);
    }
    // Drop supplementary groups while still able to (root only).
    let _ = rustix::thread::set_thread_groups(&[]);
    check(
        prepared,
        Phase::Unshare,
        linux::unshare(prepared.private_network),
    );
    check(prepared, Phase::IdMaps, write_id_maps(prepared));
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

/// Maps the caller's uid and gid to the build user's (the only mapping an
/// unprivileged process may write for itself; `setgroups` must be denied
/// first for the gid map).
fn write_id_maps(prepared: &Prepared) -> rustix::io::Result<()> {
    let files = [
        (c"/proc/self/setgroups", &b"deny"[..]),
        (c"/proc/self/uid_map", &prepared.uid_map[..]),
        (c"/proc/self/gid_map", &prepared.gid_map[..]),
    ];
    for (path, contents) in files {
        let flags = rustix::fs::OFlags::WRONLY | rustix::fs::OFlags::CLOEXEC;
        let fd = rustix::fs::open(path, flags, Mode::empty())?;
        linux::write_all(&fd, contents)?;
    }
    Ok(())
}

/// The sandbox's pid 1: assembles the root, forks the builder, reaps.
fn init(prepared: &Prepared) -> io::Result<()> {
    // Pid 1's parent is outside the namespace, so `getppid` reads 0 and
    // cannot tell whether the outer process is already gone; the window
    // between its fork and this call is the only one left open.
    let _ = rustix::process::set_parent_process_death_signal(Some(Signal::KILL));
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
    match linux::fork() {
        Err(error) => fail(prepared, Phase::Fork, error),
        Ok(Forked::Child) => {
            // The builder: no privilege gains through exec, and no
            // descriptor but stdin, stdout and stderr survives the exec.
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
