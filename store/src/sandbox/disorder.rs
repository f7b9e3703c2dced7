//! The build directory through disorderfs, for the `dirents` variation:
//! a FUSE file system that shows a directory's entries in reverse order,
//! so that a build that depends on the order `readdir` returns gives other
//! outputs. The mount lives on the host, for the duration of one build;
//! the sandbox binds it at the build directory.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The program that mounts the reversed view.
const DISORDERFS: &str = "disorderfs";
/// The program that unmounts a FUSE file system without privileges.
const FUSERMOUNT: [&str; 2] = ["fusermount3", "fusermount"];

/// Whether this machine can reverse directory entries: `disorderfs` on
/// `PATH` and `/dev/fuse`. The error says what is missing.
pub fn available() -> Result<(), String> {
    if find_program(DISORDERFS).is_none() {
        return Err(
            "the `dirents` variation needs disorderfs, which is not on PATH (Debian: apt install disorderfs)"
                .to_owned(),
        );
    }
    if !Path::new("/dev/fuse").exists() {
        return Err("the `dirents` variation needs FUSE, and /dev/fuse does not exist".to_owned());
    }
    Ok(())
}

fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// A disorderfs mount, unmounted when dropped.
#[derive(Debug)]
pub struct ReversedMount {
    point: PathBuf,
}

impl ReversedMount {
    /// Mounts `source` at `point` (created if needed) with its directory
    /// entries reversed, readable and writable by every user (the builder
    /// runs as another uid).
    pub fn mount(source: &Path, point: &Path) -> std::io::Result<ReversedMount> {
        fs_err::create_dir_all(point)?;
        let out = Command::new(DISORDERFS)
            .args([
                "--multi-user=yes",
                "--reverse-dirents=yes",
                "--shuffle-dirents=no",
                "--sort-dirents=no",
            ])
            .arg(source)
            .arg(point)
            .output()
            .map_err(|e| std::io::Error::new(e.kind(), format!("cannot run {DISORDERFS}: {e}")))?;
        if !out.status.success() {
            return Err(std::io::Error::other(format!(
                "{DISORDERFS} could not mount `{}` ({}): {}",
                source.display(),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(ReversedMount {
            point: point.to_owned(),
        })
    }
}

impl Drop for ReversedMount {
    fn drop(&mut self) {
        let unmounted = FUSERMOUNT.iter().any(|program| {
            Command::new(program)
                .arg("-u")
                .arg(&self.point)
                .output()
                .is_ok_and(|out| out.status.success())
        });
        if !unmounted {
            // As root, without fusermount: detach it.
            let _ = rustix::mount::unmount(&self.point, rustix::mount::UnmountFlags::DETACH);
        }
        let _ = std::fs::remove_dir(&self.point);
    }
}
