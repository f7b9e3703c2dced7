//! Unit tests of sandbox planning: no root, no I/O.

use super::*;

const BUSYBOX: &str = "0c0rk9xfb6ci6wk2g8mk8bzxk6f6r0fy-busybox";
const ROOTFS: &str = "1b9p07z77phvv2hf6gm9f28syp39f039-rootfs";
const OUT: &str = "2yvswd1a2gxhnq2wkb1pz8l60w5mmlk1-hello";

fn store_path(base: &str) -> StorePath {
    StorePath::from_base_name(base).unwrap()
}

fn spec() -> SandboxSpec {
    SandboxSpec {
        store_dir: StoreDir::default(),
        dirs: SandboxDirs::under(Path::new("/work/b1")),
        inputs: vec![(
            store_path(BUSYBOX),
            PathBuf::from("/data/kiln/store").join(BUSYBOX),
        )],
        outputs: vec![("out".into(), store_path(OUT))],
        builder: format!("/nix/store/{BUSYBOX}/bin/busybox"),
        args: vec!["sh".into(), "-c".into(), "mkdir $out".into()],
        env: BTreeMap::from([
            ("out".into(), format!("/nix/store/{OUT}")),
            ("name".into(), "hello".into()),
            ("PATH".into(), "/drv/path".into()),
            ("TMPDIR".into(), "/not/honoured".into()),
            ("TERM".into(), "dumb".into()),
        ]),
        rootfs: None,
        fixed_output: false,
        impure_env: BTreeMap::new(),
        cores: 2,
        ids: IdMap::privileged(),
        variation: Variation::none(),
    }
}

fn env_of(plan: &SandboxPlan) -> Vec<(&str, &str)> {
    plan.env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

#[test]
fn environment_follows_nix_init_env() {
    let plan = plan(&spec()).unwrap();
    let out = format!("/nix/store/{OUT}");
    assert_eq!(
        env_of(&plan),
        [
            ("HOME", "/homeless-shelter"),
            ("LC_ALL", "C"),
            ("NIX_BUILD_CORES", "2"),
            ("NIX_BUILD_TOP", "/build"),
            ("NIX_LOG_FD", "2"),
            ("NIX_STORE", "/nix/store"),
            // the derivation overrides PATH, as in Nix
            ("PATH", "/drv/path"),
            ("PWD", "/build"),
            ("SOURCE_DATE_EPOCH", "315532800"),
            ("TEMP", "/build"),
            ("TEMPDIR", "/build"),
            // TERM and TMPDIR are set after the derivation's env: fixed
            ("TERM", "xterm-256color"),
            ("TMP", "/build"),
            ("TMPDIR", "/build"),
            ("TZ", "UTC"),
            ("name", "hello"),
            ("out", out.as_str()),
        ]
    );
}

#[test]
fn derivation_may_override_hermetic_defaults() {
    let mut spec = spec();
    spec.env.insert("SOURCE_DATE_EPOCH".into(), "1".into());
    spec.env.insert("LC_ALL".into(), "C.UTF-8".into());
    let plan = plan(&spec).unwrap();
    assert_eq!(plan.env["SOURCE_DATE_EPOCH"], "1");
    assert_eq!(plan.env["LC_ALL"], "C.UTF-8");
}

#[test]
fn outputs_are_set_even_without_env_entries() {
    let mut spec = spec();
    spec.env.clear();
    let plan = plan(&spec).unwrap();
    assert_eq!(plan.env["out"], format!("/nix/store/{OUT}"));
    assert_eq!(
        plan.outputs[0].host_path,
        Path::new("/work/b1/store").join(OUT)
    );
}

#[test]
fn fixed_output_gets_network_and_impure_env() {
    let mut spec = spec();
    assert!(plan(&spec).unwrap().private_network);
    assert!(!plan(&spec).unwrap().env.contains_key("NIX_OUTPUT_CHECKED"));
    spec.fixed_output = true;
    spec.impure_env
        .insert("http_proxy".into(), "http://proxy:3128".into());
    spec.impure_env.insert("TERM".into(), "vt100".into());
    let plan = plan(&spec).unwrap();
    assert!(!plan.private_network);
    assert_eq!(plan.env["NIX_OUTPUT_CHECKED"], "1");
    assert_eq!(plan.env["http_proxy"], "http://proxy:3128");
    assert_eq!(plan.env["TERM"], "xterm-256color");
    let binds: Vec<_> = plan.steps.iter().filter_map(bind_target).collect();
    assert!(binds.contains(&"/etc/resolv.conf".to_owned()));
    assert!(binds.contains(&"/etc/ssl/certs/ca-certificates.crt".to_owned()));
}

#[test]
fn impure_env_is_ignored_for_sandboxed_builds() {
    let mut spec = spec();
    spec.impure_env.insert("http_proxy".into(), "x".into());
    assert!(!plan(&spec).unwrap().env.contains_key("http_proxy"));
}

#[test]
fn pass_as_file_writes_build_files() {
    let mut spec = spec();
    spec.env
        .insert("passAsFile".into(), " script\tother ".into());
    spec.env.insert("script".into(), "echo hi".into());
    let plan = plan(&spec).unwrap();
    assert!(!plan.env.contains_key("script"));
    let file = pass_as_file_name("script");
    assert_eq!(plan.env["scriptPath"], format!("/build/{file}"));
    assert_eq!(
        plan.build_files,
        [BuildFile {
            name: file,
            contents: b"echo hi".to_vec()
        }]
    );
    // `other` is listed but not set: nothing happens, as in Nix.
    assert!(!plan.env.contains_key("otherPath"));
}

#[test]
fn pass_as_file_name_is_nix_s() {
    // `nix-hash --type sha256 --to-base32` of sha256("script"): the name
    // Nix gives the file.
    assert_eq!(
        pass_as_file_name("script"),
        ".attr-1qdadaf1y4w9h4696wl0axblgfqvb8g3mw9kb71f98b6gw5jg811"
    );
}

#[test]
fn builder_gets_its_base_name_as_argv0() {
    let plan = plan(&spec()).unwrap();
    assert_eq!(plan.arg0, "busybox");
    assert_eq!(plan.args, ["sh", "-c", "mkdir $out"]);
    assert_eq!(plan.cwd, Path::new("/build"));
    assert_eq!(
        (plan.hostname.as_str(), plan.domainname.as_str()),
        ("localhost", "(none)")
    );
    assert_eq!((plan.ids.inside_uid, plan.ids.inside_gid), (1000, 100));
}

fn bind_target(step: &Step) -> Option<String> {
    match step {
        Step::Bind { target, .. } => Some(target.display().to_string()),
        _ => None,
    }
}

#[test]
fn steps_build_the_root_in_order() {
    let plan = plan(&spec()).unwrap();
    let printed: Vec<String> = plan.steps.iter().map(|step| step.to_string()).collect();
    let input = format!("/data/kiln/store/{BUSYBOX}");
    let expected = [
        "tmpfs (mode 755) on /".to_owned(),
        "mkdir /nix".into(),
        "mkdir /nix/store".into(),
        "bind /work/b1/store on /nix/store (writable)".into(),
        "chown 1000:100 /nix/store".into(),
        format!("bind {input} on /nix/store/{BUSYBOX} (read-only)"),
        "mkdir /build".into(),
        "bind /work/b1/build on /build (writable)".into(),
        "chown 1000:100 /build".into(),
        "mkdir /dev".into(),
        "tmpfs (mode 755) on /dev".into(),
        "bind /dev/null on /dev/null (writable)".into(),
        "bind /dev/zero on /dev/zero (writable)".into(),
        "bind /dev/full on /dev/full (writable)".into(),
        "bind /dev/random on /dev/random (writable)".into(),
        "bind /dev/urandom on /dev/urandom (writable)".into(),
        "bind /dev/tty on /dev/tty (writable)".into(),
        "mkdir /dev/pts".into(),
        "devpts on /dev/pts".into(),
        "mkdir /dev/shm".into(),
        "tmpfs (mode 1777) on /dev/shm".into(),
        "symlink /dev/ptmx -> pts/ptmx".into(),
        "symlink /dev/fd -> /proc/self/fd".into(),
        "symlink /dev/stdin -> /proc/self/fd/0".into(),
        "symlink /dev/stdout -> /proc/self/fd/1".into(),
        "symlink /dev/stderr -> /proc/self/fd/2".into(),
        "remount /dev read-only".into(),
        "mkdir /proc".into(),
        "proc on /proc".into(),
        "mkdir /etc".into(),
        "write /etc/passwd".into(),
        "write /etc/group".into(),
        "write /etc/hosts".into(),
        "remount / read-only".into(),
    ];
    assert_eq!(printed, expected);
}

#[test]
fn etc_files_name_the_build_user() {
    let plan = plan(&spec()).unwrap();
    let file = |name: &str| {
        plan.steps.iter().find_map(|step| match step {
            Step::File { path, contents, .. } if path == Path::new(name) => {
                Some(String::from_utf8(contents.clone()).unwrap())
            }
            _ => None,
        })
    };
    let passwd = file("/etc/passwd").unwrap();
    assert!(passwd.contains("\nnixbld:x:1000:100:kiln build user:/build:/noshell\n"));
    assert!(passwd.starts_with("root:x:0:0:"));
    assert!(file("/etc/group").unwrap().contains("nixbld:!:100:"));
    assert_eq!(
        file("/etc/hosts").unwrap(),
        "127.0.0.1 localhost\n::1 localhost\n"
    );
}

#[test]
fn rootfs_is_merged_beneath_the_store() {
    let mut spec = spec();
    spec.inputs.push((
        store_path(ROOTFS),
        PathBuf::from("/data/kiln/store").join(ROOTFS),
    ));
    spec.rootfs = Some(store_path(ROOTFS));
    let plan = plan(&spec).unwrap();
    let merges: Vec<_> = plan
        .steps
        .iter()
        .filter_map(|step| match step {
            Step::Merge {
                source,
                target,
                skip,
                optional,
            } => Some((source.clone(), target.clone(), skip.clone(), *optional)),
            _ => None,
        })
        .collect();
    let host = PathBuf::from("/data/kiln/store").join(ROOTFS);
    let names = |names: &[&str]| {
        names
            .iter()
            .map(|s| (*s).to_owned())
            .collect::<BTreeSet<_>>()
    };
    assert_eq!(
        merges,
        [
            (
                host.clone(),
                "/".into(),
                names(&[
                    "build",
                    "dev",
                    "etc",
                    "kiln-varied-build-directory",
                    "nix",
                    "proc"
                ]),
                false
            ),
            (
                host.join("etc"),
                "/etc".into(),
                names(&["group", "hosts", "passwd"]),
                true
            ),
        ]
    );
    // The merge comes right after the root tmpfs, before anything is
    // mounted over it; the rootfs is still an ordinary read-only input too.
    assert!(matches!(plan.steps[1], Step::Merge { .. }));
    let binds: Vec<_> = plan.steps.iter().filter_map(bind_target).collect();
    assert!(binds.contains(&format!("/nix/store/{ROOTFS}")));
}

#[test]
fn rootfs_attribute_is_parsed() {
    let store_dir = StoreDir::default();
    let mut env = BTreeMap::new();
    assert_eq!(rootfs_attr(&env, &store_dir), Ok(None));
    env.insert(ROOTFS_ATTR.to_owned(), format!("/nix/store/{ROOTFS}"));
    assert_eq!(rootfs_attr(&env, &store_dir), Ok(Some(store_path(ROOTFS))));
    env.insert(ROOTFS_ATTR.to_owned(), format!("/nix/store/{ROOTFS}/usr"));
    assert!(matches!(
        rootfs_attr(&env, &store_dir),
        Err(PlanError::RootfsNotAStorePath(_))
    ));
}

#[test]
fn rejects_bad_specs() {
    let mut relative = spec();
    relative.builder = "busybox".into();
    assert_eq!(
        plan(&relative),
        Err(PlanError::RelativeBuilder("busybox".into()))
    );

    let mut rootfs = spec();
    rootfs.rootfs = Some(store_path(ROOTFS));
    assert!(matches!(plan(&rootfs), Err(PlanError::RootfsNotAnInput(_))));

    let mut both = spec();
    both.outputs.push(("dev".into(), store_path(BUSYBOX)));
    assert!(matches!(plan(&both), Err(PlanError::InputIsOutput(_))));

    let mut env = spec();
    env.env.insert("A=B".into(), String::new());
    assert_eq!(plan(&env), Err(PlanError::BadEnvName("A=B".into())));

    let mut nul = spec();
    nul.args.push("a\0b".into());
    assert!(matches!(
        plan(&nul),
        Err(PlanError::Nul {
            what: "argument",
            ..
        })
    ));

    let mut dirs = spec();
    dirs.dirs.build = "relative/build".into();
    assert!(matches!(
        plan(&dirs),
        Err(PlanError::RelativeHostPath { .. })
    ));

    for bad in ["/", "/build/store", "/dev", "relative/store"] {
        let mut store = spec();
        store.store_dir = StoreDir::new(bad);
        assert!(
            matches!(plan(&store), Err(PlanError::BadStoreDir(_))),
            "{bad}"
        );
    }
}

#[test]
fn custom_store_dir_is_mounted_at_its_logical_path() {
    let mut spec = spec();
    spec.store_dir = StoreDir::new("/gnu/store/deep");
    spec.builder = format!("/gnu/store/deep/{BUSYBOX}/bin/busybox");
    let plan = plan(&spec).unwrap();
    let dirs: Vec<_> = plan
        .steps
        .iter()
        .filter_map(|step| match step {
            Step::Dir { path } if path.starts_with("/gnu") => Some(path.display().to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(dirs, ["/gnu", "/gnu/store", "/gnu/store/deep"]);
    assert_eq!(plan.env["NIX_STORE"], "/gnu/store/deep");
}

#[test]
fn a_variation_changes_the_surroundings_but_not_the_derivation() {
    let mut spec = spec();
    spec.env.insert("TZ".into(), "Europe/Paris".into());
    spec.variation = Variation::all();
    let plan = plan(&spec).unwrap();
    let dir = crate::sandbox::variation::VARIED_BUILD_DIR;
    assert_eq!(plan.cwd, PathBuf::from(dir));
    assert_eq!(
        (plan.hostname.as_str(), plan.umask),
        ("kiln-variation", 0o002)
    );
    assert!(plan.clock_shift_secs > 0);
    let env = env_of(&plan);
    for name in ["NIX_BUILD_TOP", "TMPDIR", "PWD"] {
        assert!(env.contains(&(name, dir)), "{name}");
    }
    // The derivation's own TZ wins over the varied default; the locale and
    // SOURCE_DATE_EPOCH follow the variation and the fixed default.
    assert!(env.contains(&("TZ", "Europe/Paris")));
    assert!(env.contains(&("LC_ALL", "fr_CH.UTF-8")));
    assert!(env.contains(&("SOURCE_DATE_EPOCH", "315532800")));
    let binds_build_dir = plan.steps.iter().any(|step| {
        matches!(step, Step::Bind { target, access: Access::Writable, .. } if target == Path::new(dir))
    });
    assert!(binds_build_dir, "{:?}", plan.steps);
    // A normal plan keeps /build and no clock shift.
    let normal = super::plan(&self::spec()).unwrap();
    assert_eq!(
        (normal.cwd, normal.umask, normal.clock_shift_secs),
        (PathBuf::from("/build"), 0o022, 0)
    );
}
