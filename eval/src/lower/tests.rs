//! Unit tests of lowering and evaluation through the public API, with an
//! in-memory `Io`.

use std::rc::Rc;

use crate::io::MemoryIo;
use crate::{EvalOptions, Evaluator, OutputFormat};

fn eval(src: &str) -> Result<String, String> {
    let mut ev = Evaluator::new(Rc::new(MemoryIo::default()), EvalOptions::default());
    let v = ev.eval_expr(src, "/").map_err(|e| e.to_string())?;
    ev.render(&v, OutputFormat::Nix, true)
        .map_err(|e| e.to_string())
}

#[test]
fn undefined_variables_fail_before_evaluation() {
    let err = eval("if true then 1 else undefined").unwrap_err();
    assert!(err.starts_with("undefined variable 'undefined'"), "{err}");
}

#[test]
fn with_does_not_shadow_static_bindings() {
    assert_eq!(eval("let x = 1; in with { x = 2; }; x").unwrap(), "1");
    assert_eq!(eval("with { x = 2; }; with { x = 3; }; x").unwrap(), "3");
}

#[test]
fn recursive_bindings_are_lazy() {
    assert_eq!(eval("let a = b; b = 2; in a").unwrap(), "2");
    assert_eq!(eval("rec { a = b; b = 1; }").unwrap(), "{ a = 1; b = 1; }");
    assert_eq!(eval("({ x ? y, y ? 3 }: x) {}").unwrap(), "3");
}

#[test]
fn nested_attribute_paths_merge() {
    assert_eq!(
        eval("{ a.b = 1; a.c = 2; }").unwrap(),
        "{ a = { b = 1; c = 2; }; }"
    );
    assert!(
        eval("{ a = 1; a = 2; }")
            .unwrap_err()
            .contains("already defined")
    );
}

#[test]
fn inherit_in_rec_looks_outside() {
    assert_eq!(
        eval("let x = 1; in rec { inherit x; y = x; }").unwrap(),
        "{ x = 1; y = 1; }"
    );
}

#[test]
fn infinite_recursion_is_detected() {
    assert!(
        eval("let x = x; in x")
            .unwrap_err()
            .contains("infinite recursion")
    );
}

#[test]
fn repeated_values_print_once() {
    assert_eq!(
        eval("let x = [ 1 ]; in [ x x ]").unwrap(),
        "[ [ 1 ] «repeated» ]"
    );
}

#[test]
fn indented_strings_strip_indentation() {
    assert_eq!(eval("''\n  a\n    b\n''").unwrap(), "\"a\\n  b\\n\"");
}
