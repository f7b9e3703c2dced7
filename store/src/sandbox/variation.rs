//! Variations of a build's surroundings, to test that its outputs do not
//! depend on them (`kiln build --vary`), in the spirit of reprotest.
//!
//! A normal build runs in fixed surroundings: `/build`, host name
//! `localhost`, umask 022, `TZ=UTC`, `LC_ALL=C`, the configured number of
//! cores, the machine's clocks and the file system's order of directory
//! entries. A [`Variation`] changes some of these
//! ([`Aspect`]s) for one build; a reproducible derivation gives the same
//! outputs either way. `SOURCE_DATE_EPOCH` never varies: it is part of the
//! derivation.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use thiserror::Error;

use super::plan::{BUILD_DIR, DOMAINNAME, HOSTNAME};

/// The build directory of a varied build: another name, another length.
pub const VARIED_BUILD_DIR: &str = "/kiln-varied-build-directory";
/// The host name of a varied build.
pub const VARIED_HOSTNAME: &str = "kiln-variation";
/// The NIS domain name of a varied build.
pub const VARIED_DOMAINNAME: &str = "varied.invalid";
/// The umask of a normal build.
pub const UMASK: u32 = 0o022;
/// The umask of a varied build (group-writable files, as reprotest's).
pub const VARIED_UMASK: u32 = 0o002;
/// The time zone of a varied build: a POSIX zone 14 hours ahead of UTC
/// (another date most of the day), which needs no zoneinfo files.
pub const VARIED_TZ: &str = "GMT-14";
/// The locale of a varied build (as reprotest's; the root filesystem may
/// not have it, in which case programs fall back to `C` after seeing it).
pub const VARIED_LOCALE: &str = "fr_CH.UTF-8";
/// How far a varied build's monotonic and boot-time clocks are moved:
/// 398 days and a bit, so that uptime-derived values change in every unit.
pub const CLOCK_SHIFT_SECS: i64 = 398 * 86_400 + 12_345;

/// One thing a variation can change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Aspect {
    /// The build directory's path ([`VARIED_BUILD_DIR`] for `/build`).
    BuildDir,
    /// The monotonic and boot-time clocks, moved by [`CLOCK_SHIFT_SECS`]
    /// in a time namespace. The wall clock cannot be moved per namespace
    /// on Linux; a varied build runs at a later wall-clock time anyway.
    Clock,
    /// `TZ` ([`VARIED_TZ`] for `UTC`).
    Timezone,
    /// `LC_ALL` and `LANG` ([`VARIED_LOCALE`] for `C`).
    Locale,
    /// The umask ([`VARIED_UMASK`] for 022).
    Umask,
    /// The host and domain names.
    Hostname,
    /// `NIX_BUILD_CORES`: 1 when builds normally get more, and every core
    /// of the machine when they normally get 1.
    Cores,
    /// The order of directory entries in the build directory: reversed, by
    /// mounting it through disorderfs (a FUSE file system), as reprotest
    /// does. Needs `disorderfs` and `/dev/fuse` ([`super::disorder`]).
    Dirents,
}

impl Aspect {
    /// Every aspect, in the order variations are reported.
    pub const ALL: [Aspect; 8] = [
        Aspect::BuildDir,
        Aspect::Clock,
        Aspect::Timezone,
        Aspect::Locale,
        Aspect::Umask,
        Aspect::Hostname,
        Aspect::Cores,
        Aspect::Dirents,
    ];

    /// The aspect's name on the command line (`build-dir`).
    pub fn name(self) -> &'static str {
        match self {
            Aspect::BuildDir => "build-dir",
            Aspect::Clock => "clock",
            Aspect::Timezone => "timezone",
            Aspect::Locale => "locale",
            Aspect::Umask => "umask",
            Aspect::Hostname => "hostname",
            Aspect::Cores => "cores",
            Aspect::Dirents => "dirents",
        }
    }

    /// What the aspect changes, for reports.
    pub fn describe(self) -> &'static str {
        match self {
            Aspect::BuildDir => "build directory /build -> /kiln-varied-build-directory",
            Aspect::Clock => "monotonic and boot-time clocks moved by 398 days",
            Aspect::Timezone => "TZ UTC -> GMT-14",
            Aspect::Locale => "LC_ALL/LANG C -> fr_CH.UTF-8",
            Aspect::Umask => "umask 022 -> 002",
            Aspect::Hostname => {
                "host name localhost -> kiln-variation, domain (none) -> varied.invalid"
            }
            Aspect::Cores => "NIX_BUILD_CORES (1 <-> all cores)",
            Aspect::Dirents => "directory entries of the build directory in reverse order",
        }
    }
}

impl fmt::Display for Aspect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is not an aspect.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
#[error(
    "unknown variation `{0}` (expected `all` or a comma-separated list of: build-dir, clock, timezone, locale, umask, hostname, cores, dirents)"
)]
pub struct UnknownAspect(pub String);

impl FromStr for Aspect {
    type Err = UnknownAspect;

    fn from_str(s: &str) -> Result<Aspect, UnknownAspect> {
        Aspect::ALL
            .into_iter()
            .find(|aspect| aspect.name() == s)
            .ok_or_else(|| UnknownAspect(s.to_owned()))
    }
}

/// The aspects one build varies; empty for a normal build.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Variation {
    aspects: BTreeSet<Aspect>,
}

impl Variation {
    /// A normal build: nothing varies.
    pub fn none() -> Variation {
        Variation::default()
    }

    /// Varies every aspect at once.
    pub fn all() -> Variation {
        Variation::of(Aspect::ALL)
    }

    /// Varies the given aspects.
    pub fn of(aspects: impl IntoIterator<Item = Aspect>) -> Variation {
        Variation {
            aspects: aspects.into_iter().collect(),
        }
    }

    /// Parses `all` or a comma-separated list of aspect names.
    pub fn parse(list: &str) -> Result<Variation, UnknownAspect> {
        if list.trim() == "all" {
            return Ok(Variation::all());
        }
        list.split(',')
            .map(|name| name.trim().parse())
            .collect::<Result<BTreeSet<Aspect>, _>>()
            .map(|aspects| Variation { aspects })
    }

    /// The same variation without `aspect`.
    pub fn without(&self, aspect: Aspect) -> Variation {
        let mut aspects = self.aspects.clone();
        aspects.remove(&aspect);
        Variation { aspects }
    }

    /// Whether nothing varies.
    pub fn is_none(&self) -> bool {
        self.aspects.is_empty()
    }

    /// Whether `aspect` varies.
    pub fn varies(&self, aspect: Aspect) -> bool {
        self.aspects.contains(&aspect)
    }

    /// The varied aspects, in order.
    pub fn aspects(&self) -> impl Iterator<Item = Aspect> + '_ {
        self.aspects.iter().copied()
    }

    /// The build directory as the builder sees it.
    pub fn build_dir(&self) -> &'static str {
        self.pick(Aspect::BuildDir, BUILD_DIR, VARIED_BUILD_DIR)
    }

    /// The host name.
    pub fn hostname(&self) -> &'static str {
        self.pick(Aspect::Hostname, HOSTNAME, VARIED_HOSTNAME)
    }

    /// The NIS domain name.
    pub fn domainname(&self) -> &'static str {
        self.pick(Aspect::Hostname, DOMAINNAME, VARIED_DOMAINNAME)
    }

    /// The builder's umask.
    pub fn umask(&self) -> u32 {
        self.pick(Aspect::Umask, UMASK, VARIED_UMASK)
    }

    /// `TZ` unless the derivation sets it.
    pub fn timezone(&self) -> &'static str {
        self.pick(Aspect::Timezone, "UTC", VARIED_TZ)
    }

    /// `LC_ALL` (and, when varied, `LANG`) unless the derivation sets them.
    pub fn locale(&self) -> &'static str {
        self.pick(Aspect::Locale, "C", VARIED_LOCALE)
    }

    /// How far the monotonic and boot-time clocks move (0: not at all).
    pub fn clock_shift_secs(&self) -> i64 {
        self.pick(Aspect::Clock, 0, CLOCK_SHIFT_SECS)
    }

    /// `NIX_BUILD_CORES`, given what builds normally get and the machine's
    /// core count.
    pub fn cores(&self, normal: u32, machine: u32) -> u32 {
        if !self.varies(Aspect::Cores) {
            normal
        } else if normal > 1 {
            1
        } else {
            machine.max(2)
        }
    }

    fn pick<T>(&self, aspect: Aspect, normal: T, varied: T) -> T {
        if self.varies(aspect) { varied } else { normal }
    }
}

impl fmt::Display for Variation {
    /// `build-dir, clock, timezone`, or `nothing`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_none() {
            return f.write_str("nothing");
        }
        let names: Vec<&str> = self.aspects().map(Aspect::name).collect();
        f.write_str(&names.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_parse_and_print() {
        assert_eq!(Variation::parse("all"), Ok(Variation::all()));
        let v = Variation::parse("umask, build-dir").unwrap();
        assert_eq!(v.to_string(), "build-dir, umask");
        assert!(v.varies(Aspect::Umask) && !v.varies(Aspect::Clock));
        assert_eq!(
            Variation::parse("umask,tz").unwrap_err(),
            UnknownAspect("tz".into())
        );
        assert_eq!(Variation::none().to_string(), "nothing");
        assert_eq!(Variation::all().aspects().count(), Aspect::ALL.len());
    }

    #[test]
    fn a_normal_build_keeps_the_fixed_surroundings() {
        let v = Variation::none();
        assert_eq!(v.build_dir(), "/build");
        assert_eq!((v.hostname(), v.domainname()), ("localhost", "(none)"));
        assert_eq!((v.umask(), v.timezone(), v.locale()), (0o022, "UTC", "C"));
        assert_eq!(v.clock_shift_secs(), 0);
        assert_eq!(v.cores(4, 8), 4);
    }

    #[test]
    fn a_varied_build_changes_each_aspect() {
        let v = Variation::all();
        assert_eq!(v.build_dir(), VARIED_BUILD_DIR);
        assert_eq!(v.hostname(), VARIED_HOSTNAME);
        assert_eq!(v.umask(), 0o002);
        assert_ne!(v.timezone(), "UTC");
        assert_ne!(v.locale(), "C");
        assert!(v.clock_shift_secs() > 365 * 86_400);
        assert_eq!(v.cores(2, 2), 1);
        assert_eq!(v.cores(1, 8), 8);
        assert_eq!(v.cores(1, 1), 2);
    }
}
