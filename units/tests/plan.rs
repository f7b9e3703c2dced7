//! Plans from the records of a real planning build: the fixture workspace
//! of tests/fixtures/workspace (a binary with a build script, a proc-macro,
//! a -sys crate with `links` compiling C with the `cc` crate), planned for
//! x86_64-unknown-linux-musl by kiln's toolchain (cargo 1.97), and the same
//! records damaged in the ways the plan must refuse.

use std::path::{Path, PathBuf};

use kiln_units::{PlanError, Records, Unit, plan};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/fixture-plan")
}

/// A copy of the fixture's records to damage.
fn copy() -> tempfile::TempDir {
    let temp = tempfile::tempdir().unwrap();
    let mut stack = vec![PathBuf::new()];
    while let Some(relative) = stack.pop() {
        for entry in fs_err::read_dir(fixture().join(&relative)).unwrap() {
            let entry = entry.unwrap();
            let path = relative.join(entry.file_name());
            if entry.file_type().unwrap().is_dir() {
                fs_err::create_dir_all(temp.path().join(&path)).unwrap();
                stack.push(path);
            } else {
                fs_err::copy(entry.path(), temp.path().join(&path)).unwrap();
            }
        }
    }
    temp
}

fn compile<'a>(units: &'a [Unit], name: &str) -> (usize, &'a Unit) {
    units
        .iter()
        .enumerate()
        .find(|(_, u)| matches!(u, Unit::Compile { crate_name, .. } if crate_name == name))
        .unwrap_or_else(|| panic!("no unit compiles {name}"))
}

#[test]
fn every_unit_of_the_graph_gets_cargos_own_call() {
    let records = Records::read(&fixture()).unwrap();
    let plan = plan(&records).unwrap();
    assert_eq!(plan.units.len(), records.graph.units.len());
    assert_eq!(plan.units.len(), 10);
    let runs = plan
        .units
        .iter()
        .filter(|u| matches!(u, Unit::Run { .. }))
        .count();
    assert_eq!(runs, 2, "app's and csum-sys's build scripts");
    // Edges are the graph's, unit by unit.
    for (unit, graph) in plan.units.iter().zip(&records.graph.units) {
        let deps = match unit {
            Unit::Compile { deps, .. } | Unit::Run { deps, .. } => deps,
        };
        let mut expected: Vec<usize> = graph.dependencies.iter().map(|d| d.index).collect();
        expected.sort_unstable();
        expected.dedup();
        assert_eq!(deps, &expected);
    }
    // The binary: cargo's metadata, its libraries by placeholder, its
    // build script's OUT_DIR, no path of the planning build left.
    let (_, app) = compile(&plan.units, "app");
    let (csum, _) = compile(&plan.units, "csum_sys");
    let (macros, _) = compile(&plan.units, "macros");
    let Unit::Compile {
        args,
        env,
        platform,
        cwd,
        ..
    } = app
    else {
        unreachable!()
    };
    assert_eq!(platform.as_deref(), Some("x86_64-unknown-linux-musl"));
    assert_eq!(cwd, "@{src}");
    assert!(args.iter().any(|a| a.starts_with("metadata=")), "{args:?}");
    assert!(args.contains(&"--out-dir".to_owned()) && args.contains(&"@{out}".to_owned()));
    assert!(
        !args.iter().any(|a| a.starts_with("dependency=")),
        "{args:?}"
    );
    let externs: Vec<&String> = args
        .iter()
        .filter(|a| a.starts_with("csum_sys=") || a.starts_with("macros="))
        .collect();
    assert_eq!(externs.len(), 2);
    assert!(externs[0].starts_with(&format!("csum_sys=@{{unit:{csum}}}/libcsum_sys-")));
    assert!(externs[1].starts_with(&format!("macros=@{{unit:{macros}}}/libmacros-")));
    assert!(env["OUT_DIR"].starts_with("@{unit:") && env["OUT_DIR"].ends_with("}/out"));
    let text = serde_json::to_string(&plan.units).unwrap();
    assert!(!text.contains("/nix/store/"), "a store path is left");
    assert_eq!(plan.made_from.files.len(), 5, "{:?}", plan.made_from.files);
    assert!(plan.made_from.files.contains_key("app/Cargo.toml"));
    assert!(
        plan.made_from
            .cargo_flags
            .contains("--target x86_64-unknown-linux-musl")
    );
    let text = serde_json::to_string(&plan).unwrap();
    // The -sys crate's run knows its `links`; cargo's jobs are not fixed.
    let links: Vec<&Unit> = plan
        .units
        .iter()
        .filter(|u| matches!(u, Unit::Run { links: Some(l), .. } if l == "csum"))
        .collect();
    assert_eq!(links.len(), 1);
    let Unit::Run { env, .. } = links[0] else {
        unreachable!()
    };
    assert_eq!(env["NUM_JOBS"], "@{jobs}");
    assert_eq!(env["CARGO_CFG_TARGET_ENV"], "musl");
    // A plan reads back as itself.
    let again: kiln_units::Plan = serde_json::from_str(&text).unwrap();
    assert_eq!(again, plan);
}

#[test]
fn a_unit_without_its_call_is_refused() {
    let temp = copy();
    let calls = temp.path().join("calls");
    let run = fs_err::read_dir(&calls)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with("run."))
        .unwrap();
    fs_err::remove_dir_all(run).unwrap();
    let records = Records::read(temp.path()).unwrap();
    let error = plan(&records).unwrap_err();
    assert!(
        matches!(&error, PlanError::Graph(m) if m.contains("made no call")),
        "{error}"
    );
}

#[test]
fn an_edge_the_graph_lacks_is_refused() {
    let temp = copy();
    let path = temp.path().join("unit-graph.json");
    let mut graph: serde_json::Value =
        serde_json::from_str(&fs_err::read_to_string(&path).unwrap()).unwrap();
    // The binary's first dependency, dropped from cargo's graph.
    let deps = graph["units"][0]["dependencies"].as_array_mut().unwrap();
    deps.remove(0);
    fs_err::write(&path, graph.to_string()).unwrap();
    let error = plan(&Records::read(temp.path()).unwrap()).unwrap_err();
    assert!(
        matches!(&error, PlanError::Graph(m) if m.contains("unit 0") && m.contains("unit graph")),
        "{error}"
    );
}

#[test]
fn a_path_the_plan_cannot_place_is_named() {
    let temp = copy();
    // Forget where zig is: its path in `-C linker=` has no placeholder.
    let paths = temp.path().join("paths");
    let text = fs_err::read_to_string(&paths).unwrap();
    let kept: Vec<&str> = text.split('\0').collect();
    let zig = kept.iter().position(|f| *f == "zig").unwrap();
    let without: Vec<&str> = kept
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != zig && *i != zig + 1)
        .map(|(_, f)| *f)
        .collect();
    fs_err::write(&paths, without.join("\0")).unwrap();
    let error = plan(&Records::read(temp.path()).unwrap()).unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("cannot place") && message.contains("zig-"),
        "{message}"
    );
}

#[test]
fn damaged_records_say_which_file() {
    let temp = copy();
    fs_err::write(temp.path().join("unit-graph.json"), "{").unwrap();
    let error = Records::read(temp.path()).unwrap_err();
    assert!(error.to_string().contains("unit-graph.json"), "{error}");
    let temp = copy();
    fs_err::write(temp.path().join("base-env"), "NOEQUALS\0").unwrap();
    let error = Records::read(temp.path()).unwrap_err();
    assert!(error.to_string().contains("base-env"), "{error}");
}
