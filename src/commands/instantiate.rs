//! `kiln instantiate`: evaluate to derivations and print their `.drv`
//! paths, the way `nix-instantiate` 2.8 prints them (`<drv>` for the `out`
//! output, `<drv>!<output>` for another one).
//!
//! The `.drv` files are computed exactly as Nix computes them; this command
//! does not write them to kiln's store (`kiln build` does).

use std::process::ExitCode;
use std::rc::Rc;

use crate::commands::eval::{Loaded, SourceArgs, load, options, print_on_big_stack};
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
    print_on_big_stack(move || instantiate(&args))
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
