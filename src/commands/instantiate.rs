//! `kiln instantiate`: evaluate to derivations and print their `.drv`
//! paths, the way `nix-instantiate` 2.8 prints them (`<drv>` for the `out`
//! output, `<drv>!<output>` for another one).
//!
//! The `.drv` files are computed exactly as Nix computes them; this command
//! does not write them to kiln's store (`kiln build` does).

use std::io::Write;
use std::process::ExitCode;
use std::rc::Rc;

use crate::commands::eval::{Loaded, SourceArgs, load, options};
use crate::error::AlreadyReported;
use crate::eval_io::CliIo;

/// Arguments of `kiln instantiate`.
#[derive(Debug, Clone, clap::Args)]
pub struct InstantiateArgs {
    /// What to evaluate
    #[command(flatten)]
    pub source: SourceArgs,
}

/// Runs `kiln instantiate`.
pub fn run(args: InstantiateArgs) -> anyhow::Result<ExitCode> {
    let result = kiln_eval::with_big_stack(move || instantiate(&args))
        .ok_or_else(|| anyhow::anyhow!("the evaluation thread failed"))?;
    match result {
        Ok(lines) => {
            let mut stdout = std::io::stdout().lock();
            let _ = stdout
                .write_all(lines.as_bytes())
                .and_then(|()| stdout.flush());
            Ok(ExitCode::SUCCESS)
        }
        Err(rendered) => {
            let _ = std::io::stderr().lock().write_all(rendered.as_bytes());
            Err(AlreadyReported.into())
        }
    }
}

fn instantiate(args: &InstantiateArgs) -> Result<String, String> {
    let opts = options(&args.source.include, args.source.pure);
    let io = Rc::new(CliIo::new(&opts.store_dir));
    let Loaded {
        mut evaluator,
        values,
        auto_args,
    } = load(&args.source, io, opts)?;
    let mut out = String::new();
    for value in values {
        let found = evaluator
            .find_derivations(&value, &auto_args)
            .map_err(|e| e.render())?;
        for drv in found {
            out.push_str(&drv.to_instantiate_line());
            out.push('\n');
        }
    }
    Ok(out)
}
