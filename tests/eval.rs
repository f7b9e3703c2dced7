//! `kiln eval` and `kiln parse`: behaviour, and differential tests against
//! `nix-instantiate --eval --strict` 2.8 over the expressions in
//! `tests/eval_diff/*.nix` (one expression per line; a line starting with
//! whitespace continues the previous one; `#` lines are comments) plus a
//! generated matrix of arithmetic and comparisons.
//!
//! For each file, all expressions are evaluated at once as one list by both
//! tools; on a mismatch each expression is rerun alone so the failure names
//! it. `errors.nix` holds expressions that must fail: each runs alone, and
//! both tools must fail (or print the same value).

use std::path::Path;
use std::process::Output;

use crate::util::{self, kiln, nix, run};

/// Splits a differential test file into expressions.
pub fn entries(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        if line.starts_with(' ')
            && let Some(last) = out.last_mut()
        {
            last.push('\n');
            last.push_str(line);
            continue;
        }
        out.push(line.to_owned());
    }
    out
}

fn eval_kiln(file: &Path) -> Output {
    run(kiln()
        .arg("eval")
        .arg("--strict")
        .arg(file)
        .env_remove("NIX_PATH"))
}

fn eval_nix(file: &Path) -> Output {
    run(nix("nix-instantiate")
        .arg("--eval")
        .arg("--strict")
        .arg(file))
}

/// Evaluates `expr` (written to a file in `dir`) with both tools.
fn both(dir: &Path, name: &str, expr: &str) -> (Output, Output) {
    let file = dir.join(name);
    std::fs::write(&file, expr).expect("write test expression");
    (eval_kiln(&file), eval_nix(&file))
}

/// Renders a process outcome for a failure message.
pub fn show(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Checks one file of expressions that must succeed identically.
fn check_values(dir: &Path, name: &str, exprs: &[String]) -> Vec<String> {
    let combined = format!(
        "[\n{}\n]\n",
        exprs
            .iter()
            .map(|e| format!("({e})"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let (k, n) = both(dir, &format!("{name}.nix"), &combined);
    if k.status.success() && n.status.success() && k.stdout == n.stdout {
        return Vec::new();
    }
    let mut failures = Vec::new();
    for (i, e) in exprs.iter().enumerate() {
        let (k, n) = both(dir, &format!("{name}-{i}.nix"), e);
        let same = k.status.success() == n.status.success()
            && (!k.status.success() || k.stdout == n.stdout);
        if !same {
            failures.push(format!(
                "{name}: `{e}`\n  kiln: {}\n  nix: {}",
                show(&k),
                show(&n)
            ));
        }
    }
    if failures.is_empty() {
        failures.push(format!(
            "{name}: combined run differs\n  kiln: {}\n  nix: {}",
            show(&k),
            show(&n)
        ));
    }
    failures
}

/// Checks expressions that must fail in both tools.
fn check_errors(dir: &Path, exprs: &[String]) -> Vec<String> {
    let mut failures = Vec::new();
    for (i, e) in exprs.iter().enumerate() {
        let (k, n) = both(dir, &format!("error-{i}.nix"), e);
        if k.status.code() == Some(101) || String::from_utf8_lossy(&k.stderr).contains("panicked") {
            failures.push(format!("errors: `{e}` panicked\n  kiln: {}", show(&k)));
        } else if k.status.success() != n.status.success()
            || (k.status.success() && k.stdout != n.stdout)
        {
            failures.push(format!(
                "errors: `{e}`\n  kiln: {}\n  nix: {}",
                show(&k),
                show(&n)
            ));
        }
    }
    failures
}

/// Arithmetic and comparison over a matrix of numbers.
fn generated() -> Vec<String> {
    let values = [
        "0",
        "1",
        "(-1)",
        "7",
        "(-7)",
        "2.5",
        "(-0.5)",
        "1.0e10",
        "9223372036854775807",
        "3",
    ];
    let mut out = Vec::new();
    for a in values {
        for b in values {
            out.push(format!(
                "[ ({a} + {b}) ({a} - {b}) ({a} * {b}) ({a} < {b}) ({a} == {b}) ({a} >= {b}) ]"
            ));
            if b != "0" {
                out.push(format!("{a} / {b}"));
            }
        }
    }
    out
}

fn diff_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/eval_diff"))
}

#[test]
#[expect(clippy::print_stderr, reason = "the count is the test's report")]
fn differential_against_nix_instantiate() {
    if !util::have_nix() {
        return;
    }
    let tmp = tempfile::tempdir().expect("temp dir");
    let mut failures = Vec::new();
    let mut count = 0;
    let mut files: Vec<_> = std::fs::read_dir(diff_dir())
        .expect("eval_diff dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    files.sort();
    for path in files {
        let Some(stem) = path.file_stem().and_then(|s| s.to_str()).map(str::to_owned) else {
            continue;
        };
        let text = std::fs::read_to_string(&path).expect("read eval_diff file");
        let exprs = entries(&text);
        count += exprs.len();
        if stem == "errors" {
            failures.extend(check_errors(tmp.path(), &exprs));
        } else {
            failures.extend(check_values(tmp.path(), &stem, &exprs));
        }
    }
    let gen_exprs = generated();
    count += gen_exprs.len();
    failures.extend(check_values(tmp.path(), "generated", &gen_exprs));
    eprintln!(
        "differential: {count} expressions, {} mismatches",
        failures.len()
    );
    assert!(count >= 300, "only {count} differential expressions");
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn parse_reports_undefined_variables() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let file = tmp.path().join("bad.nix");
    std::fs::write(&file, "let a = 1; in a + b").expect("write");
    let out = run(kiln().arg("parse").arg(&file));
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("undefined variable 'b'"), "{stderr}");
    assert!(stderr.contains("bad.nix:1:19"), "{stderr}");
    std::fs::write(&file, "let a = 1; in a").expect("write");
    assert!(run(kiln().arg("parse").arg(&file)).status.success());
}

#[test]
fn a_fifo_in_a_source_tree_is_an_error_not_a_hang() {
    // Opening a FIFO waits for a writer: kiln used to hang here, where Nix
    // says "file '…' has an unsupported type".
    let tmp = tempfile::tempdir().expect("temp dir");
    let src = tmp.path().join("src");
    std::fs::create_dir(&src).expect("mkdir");
    std::fs::write(src.join("a"), "a").expect("write");
    let fifo = src.join("pipe");
    assert!(
        run(std::process::Command::new("mkfifo").arg(&fifo))
            .status
            .success()
    );
    let expr = format!("\"${{{}}}\"", src.display());
    let out = run(std::process::Command::new("timeout")
        .arg("60")
        .arg(env!("CARGO_BIN_EXE_kiln"))
        .args(["eval", "-E", &expr]));
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("'{}'", fifo.display())),
        "{stderr}"
    );
    assert!(stderr.contains("FIFO"), "{stderr}");
    // Filtered out, it is no obstacle.
    let filtered = format!(
        "\"${{builtins.filterSource (p: t: baseNameOf p != \"pipe\") {}}}\"",
        src.display()
    );
    let out = run(kiln().args(["eval", "-E", &filtered]));
    assert!(out.status.success(), "{}", show(&out));
}

#[test]
fn an_error_in_an_expression_shows_its_line_once() {
    // An -E expression has no trailing newline; the line after the error's
    // used to come out as the whole expression again.
    let out = run(kiln().args(["eval", "-E", "1 +\n throw \"boom\""]));
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("at «string»:2:2:"), "{stderr}");
    assert_eq!(stderr.matches("1 +").count(), 1, "{stderr}");
    assert_eq!(stderr.matches("throw \"boom\"").count(), 1, "{stderr}");
}

#[test]
fn lazy_printing_and_error_order_match_nix() {
    if !util::have_nix() {
        return;
    }
    let drv = r#"derivation { name = "a"; builder = "b"; system = "c"; }"#;
    let cases = [
        // What is still unevaluated prints as <CODE> (so neither the native
        // derivation nor speculated arithmetic may evaluate it early).
        drv.to_owned(),
        format!("({drv}).all"),
        "let n = 1; in { a = n + 1; b = [ (n * 2) ]; }".to_owned(),
        // `a > b` and `a <= b` evaluate `b` first, as `__lessThan b a`.
        r#"(throw "a") > (throw "b")"#.to_owned(),
        r#"(throw "a") <= (throw "b")"#.to_owned(),
        r#"(throw "a") >= (throw "b")"#.to_owned(),
        "let m = -9223372036854775807 - 1; in m / -1".to_owned(),
    ];
    for expr in cases {
        let ours = run(kiln().args(["eval", "-E", &expr]));
        let theirs = run(nix("nix-instantiate").args(["--eval", "-E", &expr]));
        let first_error_line = |o: &Output| {
            String::from_utf8_lossy(&o.stderr)
                .lines()
                .find(|l| l.starts_with("error:"))
                .map(str::to_owned)
        };
        assert_eq!(
            ours.status.success(),
            theirs.status.success(),
            "{expr}\n{}",
            show(&ours)
        );
        assert_eq!(
            String::from_utf8_lossy(&ours.stdout),
            String::from_utf8_lossy(&theirs.stdout),
            "{expr}"
        );
        assert_eq!(first_error_line(&ours), first_error_line(&theirs), "{expr}");
    }
}

#[test]
fn kiln_eval_keeps_no_derivations_but_instantiate_reads_them_back() {
    // Like `nix-instantiate --eval`, `kiln eval` writes no `.drv`s (they
    // are most of a large graph's memory), so reading one back is an
    // error that says why; `kiln instantiate` keeps them.
    let source = r#"let d = derivation { name = "x"; builder = "b"; system = "s"; }; e = derivation { name = "y"; builder = "b"; system = "s"; x = d.drvPath; }; in e"#;
    let out = run(kiln().args(["eval", "--strict", "-E", &format!("({source}).drvPath")]));
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr
            .contains("reading the derivation '/nix/store/5wq5jx7219pmi3xklyhl77fjbqvy6qaj-x.drv'")
            && stderr.contains("`kiln eval` does not keep the derivations it computes"),
        "{stderr}"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("e.nix");
    std::fs::write(&file, source).expect("write e.nix");
    let out = util::run_ok_str(kiln().arg("instantiate").arg(&file));
    assert!(out.ends_with("-y.drv"), "{out}");
    // Printing a drvPath needs no reading.
    let out = util::run_ok_str(kiln().args(["eval", "-E", &format!("(({source}).x)")]));
    assert_eq!(out, "\"/nix/store/5wq5jx7219pmi3xklyhl77fjbqvy6qaj-x.drv\"");
}

#[test]
fn deep_recursion_is_an_error_not_a_crash() {
    let out = run(kiln().args(["eval", "-E", "let f = x: 1 + f x; in f 1"]));
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("stack overflow"),
        "{}",
        show(&out)
    );
}

#[test]
fn lazy_printing_and_auto_args() {
    let out = util::run_ok_str(kiln().args(["eval", "-E", "{ a = 1; b = 1 + 1; }"]));
    assert_eq!(out, "{ a = 1; b = <CODE>; }");
    let out = util::run_ok_str(kiln().args([
        "eval",
        "--arg",
        "x",
        "2",
        "--argstr",
        "y",
        "s",
        "-E",
        "{ x, y }: [ x y ]",
        "--strict",
    ]));
    assert_eq!(out, "[ 2 \"s\" ]");
    let out = util::run_ok_str(kiln().args(["eval", "--json", "-E", "{ a = [ 1 2.5 ]; }"]));
    assert_eq!(out, "{\"a\":[1,2.5]}");
}
