//! The steps that assemble the sandbox's root filesystem.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::{Access, IdMap, RESERVED_TOP, SandboxSpec, Step};
use crate::sandbox::Aspect;
use crate::store_path::StorePath;

/// Host devices bound into the sandbox's `/dev`.
const DEVICES: [&str; 6] = ["null", "zero", "full", "random", "urandom", "tty"];
/// Entries of `/etc` that the sandbox writes itself.
const ETC_FILES: [&str; 3] = ["passwd", "group", "hosts"];
/// Host files a fixed-output build may read, to reach the network.
const NETWORK_FILES: [&str; 3] = [
    "/etc/resolv.conf",
    "/etc/services",
    "/etc/ssl/certs/ca-certificates.crt",
];
pub(super) fn steps(spec: &SandboxSpec, store_dir: &Path) -> Vec<Step> {
    let mut steps = vec![Step::Tmpfs {
        path: "/".into(),
        mode: 0o755,
    }];
    let rootfs_host = spec.rootfs.as_ref().and_then(|rootfs| {
        spec.inputs
            .iter()
            .find(|(path, _)| path == rootfs)
            .map(|(_, host)| host.clone())
    });
    if let Some(host) = &rootfs_host {
        let top = store_dir
            .iter()
            .nth(1)
            .map(|c| c.to_string_lossy().into_owned());
        let skip = RESERVED_TOP
            .iter()
            .map(|s| (*s).to_owned())
            .chain(top)
            .collect();
        steps.push(Step::Merge {
            source: host.clone(),
            target: "/".into(),
            skip,
            optional: false,
        });
    }
    steps.extend(store_steps(spec, store_dir));
    let build_dir = spec.variation.build_dir();
    steps.push(Step::Dir {
        path: build_dir.into(),
    });
    // Varied directory order: the build directory as disorderfs shows it
    // (mounted by `build::run` before the sandbox starts).
    let build_source = if spec.variation.varies(Aspect::Dirents) {
        &spec.dirs.reversed_build
    } else {
        &spec.dirs.build
    };
    steps.push(Step::Bind {
        source: build_source.clone(),
        target: build_dir.into(),
        access: Access::Writable,
        optional: false,
    });
    steps.push(chown(spec, build_dir.into()));
    steps.extend(dev_steps());
    steps.push(Step::Dir {
        path: "/proc".into(),
    });
    steps.push(Step::Proc {
        path: "/proc".into(),
    });
    steps.extend(etc_steps(spec, rootfs_host.as_deref()));
    steps.push(Step::ReadOnly { path: "/".into() });
    steps
}

/// Gives `path` to the build user (a no-op when unprivileged: the caller
/// owns it already under that name).
fn chown(spec: &SandboxSpec, path: PathBuf) -> Step {
    Step::Chown {
        path,
        uid: spec.ids.inside_uid,
        gid: spec.ids.inside_gid,
    }
}

/// The store directory and its ancestors, the scratch store on it, and
/// each input read-only at its logical path.
fn store_steps(spec: &SandboxSpec, store_dir: &Path) -> Vec<Step> {
    let mut steps: Vec<Step> = store_dir
        .ancestors()
        .filter(|dir| dir.parent().is_some())
        .map(|dir| Step::Dir {
            path: dir.to_owned(),
        })
        .collect();
    steps.reverse();
    steps.push(Step::Bind {
        source: spec.dirs.store.clone(),
        target: store_dir.to_owned(),
        access: Access::Writable,
        optional: false,
    });
    steps.push(chown(spec, store_dir.to_owned()));
    let inputs: BTreeMap<&StorePath, &PathBuf> = spec
        .inputs
        .iter()
        .map(|(path, host)| (path, host))
        .collect();
    steps.extend(inputs.into_iter().map(|(path, host)| Step::Bind {
        source: host.clone(),
        target: store_dir.join(path.base_name()),
        access: Access::ReadOnly,
        optional: false,
    }));
    steps
}

/// A minimal `/dev`: host devices, a private devpts, a private shm, the
/// `fd` links; then the directory itself read-only.
fn dev_steps() -> Vec<Step> {
    let mut steps = vec![
        Step::Dir {
            path: "/dev".into(),
        },
        Step::Tmpfs {
            path: "/dev".into(),
            mode: 0o755,
        },
    ];
    for device in DEVICES {
        let path = PathBuf::from("/dev").join(device);
        steps.push(Step::Bind {
            source: path.clone(),
            target: path,
            access: Access::Writable,
            optional: false,
        });
    }
    let links = [
        ("ptmx", "pts/ptmx"),
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ];
    steps.extend([
        Step::Dir {
            path: "/dev/pts".into(),
        },
        Step::Devpts {
            path: "/dev/pts".into(),
        },
        Step::Dir {
            path: "/dev/shm".into(),
        },
        Step::Tmpfs {
            path: "/dev/shm".into(),
            mode: 0o1777,
        },
    ]);
    for (name, target) in links {
        steps.push(Step::Symlink {
            path: PathBuf::from("/dev").join(name),
            target: target.into(),
        });
    }
    steps.push(Step::ReadOnly {
        path: "/dev".into(),
    });
    steps
}

/// `/etc`: the root filesystem's entries (if any), the network files of a
/// fixed-output build, and the sandbox's own `passwd`, `group`, `hosts`.
fn etc_steps(spec: &SandboxSpec, rootfs_host: Option<&Path>) -> Vec<Step> {
    let mut steps = vec![Step::Dir {
        path: "/etc".into(),
    }];
    let mut skip: BTreeSet<String> = ETC_FILES.iter().map(|s| (*s).to_owned()).collect();
    if spec.fixed_output {
        skip.extend(["resolv.conf", "services", "ssl"].map(str::to_owned));
    }
    if let Some(host) = rootfs_host {
        let source = host.join("etc");
        steps.push(Step::Merge {
            source,
            target: "/etc".into(),
            skip,
            optional: true,
        });
    }
    if spec.fixed_output {
        steps.push(Step::Dir {
            path: "/etc/ssl".into(),
        });
        steps.push(Step::Dir {
            path: "/etc/ssl/certs".into(),
        });
        for file in NETWORK_FILES {
            let path = PathBuf::from(file);
            steps.push(Step::Bind {
                source: path.clone(),
                target: path,
                access: Access::ReadOnly,
                optional: true,
            });
        }
    }
    let ids = &spec.ids;
    let files = [
        ("passwd", passwd(ids, spec.variation.build_dir())),
        ("group", group(ids)),
        ("hosts", hosts()),
    ];
    for (name, contents) in files {
        let path = PathBuf::from("/etc").join(name);
        steps.push(Step::File {
            path,
            contents: contents.into_bytes(),
            mode: 0o644,
        });
    }
    steps
}

/// `/etc/passwd`: root, the build user (home: the build directory), nobody.
fn passwd(ids: &IdMap, build_dir: &str) -> String {
    let (uid, gid) = (ids.inside_uid, ids.inside_gid);
    format!(
        "root:x:0:0:root:{build_dir}:/noshell\n\
         nixbld:x:{uid}:{gid}:kiln build user:{build_dir}:/noshell\n\
         nobody:x:65534:65534:nobody:/:/noshell\n"
    )
}

/// `/etc/group`: root, the build group, nogroup.
fn group(ids: &IdMap) -> String {
    format!(
        "root:x:0:\nnixbld:!:{}:\nnogroup:x:65534:\n",
        ids.inside_gid
    )
}

/// `/etc/hosts`: localhost over IPv4 and IPv6.
fn hosts() -> String {
    "127.0.0.1 localhost\n::1 localhost\n".to_owned()
}
