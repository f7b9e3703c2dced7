//! `kiln eval`: evaluate a Nix expression or file and print the value the
//! way `nix-instantiate --eval` 2.8 does.

use std::io::Write;
use std::process::ExitCode;
use std::rc::Rc;

use kiln_eval::io::Io;
use kiln_eval::value::Attrs;
use kiln_eval::{AutoArg, EvalOptions, Evaluator, OutputFormat, SearchPathEntry, Value};

use crate::error::AlreadyReported;
use crate::eval_io::CliIo;

/// Arguments of `kiln eval`.
#[derive(Debug, Clone, clap::Args)]
pub struct EvalArgs {
    /// Evaluate deeply (all list elements and attributes)
    #[arg(long)]
    pub strict: bool,
    /// Print the value as JSON
    #[arg(long, conflicts_with = "xml")]
    pub json: bool,
    /// Print the value as XML
    #[arg(long)]
    pub xml: bool,
    /// Leave source locations out of the XML output
    #[arg(long)]
    pub no_location: bool,
    /// What to evaluate
    #[command(flatten)]
    pub source: SourceArgs,
}

/// What to evaluate and with which arguments: shared by the commands that
/// evaluate (`eval`, `instantiate`, `build`).
#[derive(Debug, Clone, clap::Args)]
pub struct SourceArgs {
    /// Evaluate this expression instead of a file
    #[arg(
        short = 'E',
        long = "expr",
        value_name = "EXPR",
        conflicts_with = "file"
    )]
    pub expr: Option<String>,
    /// The file to evaluate (default: ./default.nix). `kiln build` also
    /// takes a flake output, `DIR#NAME` or a directory holding flake.toml,
    /// and with no argument builds ./flake.toml's default packages
    pub file: Option<String>,
    /// Select this attribute path from the result (can be repeated)
    #[arg(short = 'A', long = "attr", value_name = "ATTRPATH")]
    pub attr: Vec<String>,
    /// Pass NAME = EXPR to the top-level function (can be repeated)
    #[arg(long, num_args = 2, value_names = ["NAME", "EXPR"])]
    pub arg: Vec<String>,
    /// Pass NAME = "VALUE" to the top-level function (can be repeated)
    #[arg(long, num_args = 2, value_names = ["NAME", "VALUE"])]
    pub argstr: Vec<String>,
    /// Add a search path entry, `PATH` or `NAME=PATH` (can be repeated)
    #[arg(short = 'I', value_name = "PATH")]
    pub include: Vec<String>,
    /// Allow access to the environment (the default, like nix-instantiate)
    #[arg(long, conflicts_with = "pure")]
    pub impure: bool,
    /// Forbid access to the environment: `getEnv` returns "" and NIX_PATH is ignored
    #[arg(long)]
    pub pure: bool,
}

/// Runs `kiln eval`.
pub fn run(args: EvalArgs) -> anyhow::Result<ExitCode> {
    print_on_big_stack(move || evaluate(&args))
}

/// Runs an evaluation on a thread with a large stack, then prints its
/// output on stdout, or its already rendered error on stderr.
pub fn print_on_big_stack(
    evaluation: impl FnOnce() -> Result<String, String> + Send + 'static,
) -> anyhow::Result<ExitCode> {
    let result = kiln_eval::with_big_stack(evaluation)
        .ok_or_else(|| anyhow::anyhow!("the evaluation thread failed"))?;
    match result {
        Ok(output) => {
            let mut stdout = std::io::stdout().lock();
            // A closed pipe is not an error worth reporting.
            let _ = stdout
                .write_all(output.as_bytes())
                .and_then(|()| stdout.flush());
            Ok(ExitCode::SUCCESS)
        }
        Err(rendered) => {
            let _ = std::io::stderr().lock().write_all(rendered.as_bytes());
            Err(AlreadyReported.into())
        }
    }
}

/// Builds the evaluation options from the arguments and the environment.
pub fn options(include: &[String], pure: bool) -> EvalOptions {
    let cwd = std::env::current_dir()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "/".to_owned());
    let mut search_path: Vec<SearchPathEntry> =
        include.iter().map(|s| SearchPathEntry::parse(s)).collect();
    if !pure && let Ok(nix_path) = std::env::var("NIX_PATH") {
        search_path.extend(
            nix_path
                .split(':')
                .filter(|s| !s.is_empty())
                .map(SearchPathEntry::parse),
        );
    }
    let current_time = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0));
    EvalOptions {
        pure,
        system: host_system(),
        store_dir: std::env::var("NIX_STORE_DIR").unwrap_or_else(|_| "/nix/store".to_owned()),
        search_path,
        builtin_search_path: kiln_recipes_entry().into_iter().collect(),
        home: std::env::var("HOME").unwrap_or_else(|_| "/homeless-shelter".to_owned()),
        cwd,
        max_depth: EvalOptions::default().max_depth,
        current_time: if pure { 0 } else { current_time },
        // Leave room below the evaluation thread's stack for the printer
        // and the unwinding of a "stack overflow" error.
        stack_budget: kiln_eval::STACK_SIZE - (64 << 20),
        max_work: 0,
        speculate: true,
    }
}

/// `<kiln>`: the embedded recipe library. If it cannot be unpacked, the
/// entry is left out and `<kiln>` reports itself missing from the search
/// path; the reason is printed.
fn kiln_recipes_entry() -> Option<SearchPathEntry> {
    match crate::recipes::directory() {
        Ok(dir) => Some(SearchPathEntry::parse(&format!("kiln={}", dir.display()))),
        Err(err) => {
            crate::error::warn(&format!("<kiln> is unavailable: {err:#}"));
            None
        }
    }
}

/// Returns Nix's name for the host platform (`x86_64-linux`, …).
fn host_system() -> String {
    format!("{}-{}", std::env::consts::ARCH, std::env::consts::OS)
}

fn pairs(flat: &[String]) -> impl Iterator<Item = (&String, &String)> {
    flat.chunks(2).filter_map(|c| match c {
        [a, b] => Some((a, b)),
        _ => None,
    })
}

/// An evaluator with the values the arguments select.
pub struct Loaded {
    /// The evaluator, for forcing and printing the values.
    pub evaluator: Evaluator,
    /// One value per `-A` path (or the whole value), auto-called.
    pub values: Vec<Value>,
    /// The automatic arguments (`--arg`, `--argstr`).
    pub auto_args: Rc<Attrs>,
}

/// Evaluates the file or expression, applies `--arg`s and selects the
/// attribute paths; errors come back already rendered.
pub fn load(source: &SourceArgs, io: Rc<dyn Io>, opts: EvalOptions) -> Result<Loaded, String> {
    let cwd = opts.cwd.clone();
    let mut ev = Evaluator::new(io, opts);
    let mut auto: Vec<(String, AutoArg)> = Vec::new();
    auto.extend(pairs(&source.arg).map(|(n, e)| (n.clone(), AutoArg::Expr(e.clone()))));
    auto.extend(pairs(&source.argstr).map(|(n, v)| (n.clone(), AutoArg::Str(v.clone()))));
    let render = |e: kiln_eval::Error| e.render();
    let root = match (&source.expr, &source.file) {
        (Some(expr), _) => ev.eval_expr(expr, &cwd),
        (None, Some(file)) => ev.eval_file(&absolute(&cwd, file)),
        (None, None) => ev.eval_file(&absolute(&cwd, "default.nix")),
    }
    .map_err(render)?;
    let auto_args = Rc::new(ev.auto_args(&auto).map_err(render)?);
    let paths = if source.attr.is_empty() {
        vec![String::new()]
    } else {
        source.attr.clone()
    };
    let mut values = Vec::new();
    for path in paths {
        let v = ev.select_path(&root, &path, &auto_args).map_err(render)?;
        let v = if auto.is_empty() {
            v
        } else {
            ev.auto_call(&v, &auto_args).map_err(render)?
        };
        values.push(v);
    }
    Ok(Loaded {
        evaluator: ev,
        values,
        auto_args,
    })
}

/// Evaluates and renders; errors come back already rendered.
fn evaluate(args: &EvalArgs) -> Result<String, String> {
    let mut opts = options(&args.source.include, args.source.pure);
    // The lazy printers show what is still unevaluated, so nothing may be
    // evaluated ahead of time.
    opts.speculate = args.strict || args.json;
    let io = Rc::new(CliIo::without_derivations(&opts.store_dir));
    let Loaded {
        evaluator: mut ev,
        values,
        ..
    } = load(&args.source, io, opts)?;
    let format = if args.json {
        OutputFormat::Json
    } else if args.xml {
        OutputFormat::Xml {
            location: !args.no_location,
        }
    } else {
        OutputFormat::Nix
    };
    let mut out = String::new();
    for v in values {
        out.push_str(&ev.render(&v, format, args.strict).map_err(|e| e.render())?);
        if format == OutputFormat::Nix {
            out.push('\n');
        }
    }
    Ok(out)
}

/// Makes a command-line path absolute (lexically, as Nix does).
pub fn absolute(cwd: &str, path: &str) -> String {
    if path.starts_with('/') {
        kiln_eval::lower::canon_path(path)
    } else {
        kiln_eval::lower::canon_path(&format!("{cwd}/{path}"))
    }
}
