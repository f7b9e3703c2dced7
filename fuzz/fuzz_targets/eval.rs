//! Feeds arbitrary text to the evaluator: parse, evaluate strictly and
//! print, in pure mode, over a small in-memory file system, with bounded
//! depth, stack and work (`EvalOptions::max_work`), so that a runaway or
//! exponentially growing program ends with an error. Any outcome but a
//! panic, a crash or a hang is fine.
#![no_main]

use std::rc::Rc;

use kiln_eval::io::MemoryIo;
use kiln_eval::{EvalOptions, Evaluator, OutputFormat};
use libfuzzer_sys::fuzz_target;

fn world() -> Rc<MemoryIo> {
    let mut io = MemoryIo::default();
    io.files
        .insert("/fuzz/lib.nix".to_owned(), b"{ x = 1; f = a: a + 1; }".to_vec());
    io.files
        .insert("/fuzz/data.json".to_owned(), br#"{"a": [1, 2.5, null]}"#.to_vec());
    Rc::new(io)
}

fuzz_target!(|data: &[u8]| {
    let Ok(source) = std::str::from_utf8(data) else {
        return;
    };
    let options = EvalOptions {
        pure: true,
        cwd: "/fuzz".to_owned(),
        max_depth: 3_000,
        stack_budget: 4 << 20,
        max_work: 300_000,
        ..EvalOptions::default()
    };
    let mut evaluator = Evaluator::new(world(), options);
    let Ok(value) = evaluator.eval_expr(source, "/fuzz") else {
        return;
    };
    let _ = evaluator.render(&value, OutputFormat::Nix, true);
    let _ = evaluator.render(&value, OutputFormat::Json, true);
});
