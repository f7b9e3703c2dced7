//! `kiln parse`: parse a Nix file and report syntax errors and undefined
//! variables (which Nix reports at parse time), without evaluating it.

use std::io::Write;
use std::process::ExitCode;
use std::rc::Rc;

use kiln_eval::Evaluator;

use crate::error::AlreadyReported;
use crate::eval_io::CliIo;

/// Arguments of `kiln parse`.
#[derive(Debug, Clone, clap::Args)]
pub struct ParseArgs {
    /// The file to check
    pub file: String,
}

/// Runs `kiln parse`.
pub fn run(args: ParseArgs) -> anyhow::Result<ExitCode> {
    let result = kiln_eval::with_big_stack(move || {
        let opts = super::eval::options(&[], false);
        let path = super::eval::absolute(&opts.cwd, &args.file);
        let io = Rc::new(CliIo::new(&opts.store_dir));
        let mut ev = Evaluator::new(io, opts);
        ev.parse_file(&path).map_err(|e| e.render())
    })
    .ok_or_else(|| anyhow::anyhow!("the parser thread failed"))?;
    match result {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(rendered) => {
            let _ = std::io::stderr().lock().write_all(rendered.as_bytes());
            Err(AlreadyReported.into())
        }
    }
}
