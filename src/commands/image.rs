//! `kiln image push` and `kiln image export`: a built OCI image layout
//! (`result-image`) to a registry, or one platform of it to a docker
//! archive for `docker load`. See docs/images.md.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand, ValueEnum};
use kiln_image::auth::{self, Credentials};
use kiln_image::layout::Layout;
use kiln_image::push::{self, Event, PushOptions};
use kiln_image::registry::{Options, Registry};
use kiln_image::{Reference, docker_archive};

use super::human_bytes;

/// `kiln image` subcommands.
#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// Push an image layout (every platform, as one multi-platform image)
    /// to a registry; what the registry has already is not sent again
    Push(PushArgs),
    /// Write one platform of an image layout as an archive for `docker load`
    /// or `podman load`
    Export(ExportArgs),
}

/// Arguments of `kiln image push`.
#[derive(Debug, Args)]
pub struct PushArgs {
    /// The image layout: a `kiln build` result (`result-image`) or any OCI
    /// image layout directory
    #[arg(value_name = "RESULT")]
    pub layout: PathBuf,
    /// Where to: `REGISTRY/REPOSITORY[:TAG]`. Without a tag the image goes
    /// up under every tag the layout gives it
    #[arg(value_name = "REF")]
    pub reference: String,
    /// Talk plain HTTP, for a registry on this machine (loopback only)
    #[arg(long)]
    pub insecure: bool,
    /// The user name for the registry (the password comes from
    /// --password-stdin); default: the docker configuration's entry
    #[arg(long, requires = "password_stdin")]
    pub username: Option<String>,
    /// Read the password or token from standard input
    #[arg(long, requires = "username")]
    pub password_stdin: bool,
    /// The docker client configuration with credentials [default:
    /// $DOCKER_CONFIG/config.json, else ~/.docker/config.json]
    #[arg(long, value_name = "FILE")]
    pub authfile: Option<PathBuf>,
    /// Blobs larger than this many bytes go up in chunks of this size
    #[arg(long, value_name = "BYTES", default_value_t = 32 << 20, value_parser = clap::value_parser!(u64).range(1..))]
    pub chunk_size: u64,
    /// Print only the pushed image's reference
    #[arg(short, long)]
    pub quiet: bool,
}

/// Archive formats of `kiln image export`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ArchiveFormat {
    /// The tar `docker save` writes and `docker load` reads
    DockerArchive,
}

/// Arguments of `kiln image export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The image layout: a `kiln build` result (`result-image`) or any OCI
    /// image layout directory
    #[arg(value_name = "RESULT")]
    pub layout: PathBuf,
    /// The archive's format
    #[arg(long, value_enum, default_value = "docker-archive")]
    pub format: ArchiveFormat,
    /// The archive to write
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    /// The platform to export (`linux/amd64`, `linux/arm64`) [default:
    /// this machine's]
    #[arg(long, value_name = "OS/ARCH")]
    pub platform: Option<String>,
    /// The layout's tag to export [default: its first image]
    #[arg(long, value_name = "TAG")]
    pub from_tag: Option<String>,
    /// Name the loaded image `NAME:TAG` (repeatable) [default: untagged]
    #[arg(long = "tag", value_name = "NAME:TAG")]
    pub tags: Vec<String>,
}

/// Runs `kiln image …`.
pub fn run(command: &ImageCommand) -> anyhow::Result<ExitCode> {
    match command {
        ImageCommand::Push(args) => push(args),
        ImageCommand::Export(args) => export(args),
    }
}

fn open_layout(dir: &Path) -> anyhow::Result<Layout> {
    Ok(Layout::open(dir)?)
}

#[expect(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "the command's output and progress"
)]
fn push(args: &PushArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let reference = Reference::parse(&args.reference)?;
    if reference.digest.is_some() {
        bail!(
            "`{reference}` names a digest; push to a repository, with or without a tag (the digest is the image's own)"
        );
    }
    let mut options = Options {
        insecure: args.insecure,
        credentials: None,
    };
    // Refused before anything is read, whatever the layout holds.
    options.check(&reference)?;
    let layout = open_layout(&args.layout)?;
    let image = layout.image(None)?;
    let tags = match &reference.tag {
        Some(tag) => vec![tag.clone()],
        None if image.tags.is_empty() => vec!["latest".to_owned()],
        None => image.tags.clone(),
    };
    options.credentials = credentials(args, &reference)?;
    let mut registry = Registry::connect(&reference, &options)
        .with_context(|| format!("cannot push to `{reference}`"))?;
    let quiet = args.quiet;
    let mut progress = |event: Event| {
        if quiet {
            return;
        }
        match event {
            Event::BlobPresent { digest, size } => {
                eprintln!("blob {digest} ({}): already there", human_bytes(size));
            }
            Event::BlobUploaded { digest, size } => {
                eprintln!("blob {digest} ({}): uploaded", human_bytes(size));
            }
            Event::ManifestPresent { reference } => {
                eprintln!("manifest {reference}: already there")
            }
            Event::ManifestPut { reference } => eprintln!("manifest {reference}: written"),
        }
    };
    let push_options = PushOptions {
        tags: tags.clone(),
        chunk_size: usize::try_from(args.chunk_size).unwrap_or(usize::MAX),
    };
    let digest = push::push(&layout, &image, &mut registry, &push_options, &mut progress)
        .with_context(|| format!("cannot push `{}` to `{reference}`", args.layout.display()))?;
    let stats = &registry.stats;
    if !quiet {
        eprintln!(
            "pushed {} platform(s) as {} in {:.1} s: {} blob(s) uploaded ({}), {} already there; {} manifest(s) written, {} already there; {} request(s)",
            image.platforms.len(),
            tags.iter()
                .map(|t| format!("{}/{}:{t}", reference.registry, reference.repository))
                .collect::<Vec<_>>()
                .join(", "),
            started.elapsed().as_secs_f64(),
            stats.blobs_uploaded,
            human_bytes(stats.bytes_uploaded),
            stats.blobs_present,
            stats.manifests_put,
            stats.manifests_present,
            stats.requests,
        );
    }
    println!("{}/{}@{digest}", reference.registry, reference.repository);
    Ok(ExitCode::SUCCESS)
}

/// The credentials: the flags', else the docker configuration's entry for
/// the registry, else none (anonymous).
fn credentials(args: &PushArgs, reference: &Reference) -> anyhow::Result<Option<Credentials>> {
    if let Some(username) = &args.username {
        let mut password = String::new();
        std::io::stdin()
            .read_to_string(&mut password)
            .context("cannot read the password from standard input")?;
        let password = password.trim_end_matches(['\n', '\r']).to_owned();
        if password.is_empty() {
            bail!("--password-stdin read an empty password");
        }
        return Ok(Some(Credentials {
            username: username.clone(),
            password,
        }));
    }
    Ok(auth::lookup(args.authfile.as_deref(), &reference.registry)?)
}

#[expect(clippy::print_stderr, reason = "the command's summary")]
fn export(args: &ExportArgs) -> anyhow::Result<ExitCode> {
    let ArchiveFormat::DockerArchive = args.format;
    for tag in &args.tags {
        let parsed = Reference::parse(tag)?;
        if parsed.digest.is_some() || parsed.tag.is_none() {
            bail!("--tag `{tag}` must be NAME:TAG");
        }
    }
    let layout = open_layout(&args.layout)?;
    let image = layout.image(args.from_tag.as_deref())?;
    let platform = args
        .platform
        .clone()
        .unwrap_or_else(docker_archive::host_platform);
    let selected = docker_archive::select(&image, &platform)?;
    docker_archive::write(&layout, selected, &args.tags, &args.output)
        .with_context(|| format!("cannot export `{}`", args.layout.display()))?;
    let size = fs_err::metadata(&args.output).map(|m| m.len()).unwrap_or(0);
    eprintln!(
        "wrote {} ({platform}, {}) to {}",
        selected.descriptor.digest,
        human_bytes(size),
        args.output.display()
    );
    Ok(ExitCode::SUCCESS)
}
