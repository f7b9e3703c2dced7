//! The command line: `Cli` and one subcommand per file in `commands/`.

use clap::{Parser, Subcommand};

use crate::commands;

/// kiln: hermetic, reproducible builds of static Rust release binaries
#[derive(Debug, Parser)]
#[command(name = "kiln", version, about, propagate_version = true)]
pub struct Cli {
    /// The command to run
    #[command(subcommand)]
    pub command: Command,
}

/// Every subcommand of `kiln`.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Compute, print and convert hashes the way Nix does
    #[command(subcommand)]
    Hash(commands::hash::HashCommand),
    /// Write, list and unpack Nix archives (NAR)
    #[command(subcommand)]
    Nar(commands::nar::NarCommand),
    /// Inspect derivations (`.drv` files)
    #[command(subcommand)]
    Derivation(commands::derivation::DerivationCommand),
    /// Evaluate a Nix expression and print its value
    Eval(commands::eval::EvalArgs),
    /// Evaluate to derivations and print their `.drv` paths, like `nix-instantiate`
    Instantiate(commands::instantiate::InstantiateArgs),
    /// Build a flake's packages (`DIR#NAME`, or its defaults), or evaluate
    /// a Nix file, build its derivations and link the results, like `nix-build`
    Build(commands::build::BuildArgs),
    /// Fetch every download a flake's outputs need (crates, Debian
    /// packages, zig), and build nothing
    Fetch(commands::fetch::FetchArgs),
    /// Check that an artifact (a file, a directory or a URL) is what a
    /// flake output builds from its pinned inputs
    Verify(commands::verify::VerifyArgs),
    /// Write an in-toto statement with a SLSA v1 provenance predicate for
    /// built outputs: their files' digests and every input they come from
    Provenance(commands::provenance::ProvenanceArgs),
    /// Push a built OCI image to a registry, or export one platform of it
    /// for `docker load`
    #[command(subcommand)]
    Image(commands::image::ImageCommand),
    /// List a flake's packages, targets and inputs
    Show(commands::flake::ShowArgs),
    /// Write a flake.toml for the Cargo project in a directory
    Init(commands::flake::InitArgs),
    /// Build derivations already in the store and print their outputs, like
    /// `nix-store --realise`
    Realise(commands::realise::RealiseArgs),
    /// Print the build log of a derivation or of an output path
    Log(commands::log::LogArgs),
    /// Show a shortest chain of references from one path to another
    WhyDepends(commands::why_depends::WhyDependsArgs),
    /// Say why a derivation was built: the first input that differs from
    /// the derivation of the same name built here before
    WhyRebuilt(commands::why_rebuilt::WhyRebuiltArgs),
    /// Turn a planning build's records into a per-crate build plan, checked
    /// against cargo's unit graph
    Units(commands::units::UnitsArgs),
    /// Parse a Nix file and report syntax errors and undefined variables
    Parse(commands::parse::ParseArgs),
    /// Show what the store records about paths, like `nix path-info`
    PathInfo(commands::path_info::PathInfoArgs),
    /// Add paths to the store and check it
    Store(commands::store::StoreArgs),
    /// Write store paths with their metadata into one bundle file, for
    /// carrying to another machine (`kiln import`)
    Export(commands::export::ExportArgs),
    /// Check a bundle from `kiln export` completely, then add the paths it
    /// holds that the store lacks, all at once
    Import(commands::import::ImportArgs),
    /// Delete the store paths that no garbage-collector root needs
    Gc(commands::gc::GcArgs),
    /// Pin a flake's inputs in flake.lock, or external package sets
    /// (Debian) into lock files that recipes load
    Lock(commands::lock::LockArgs),
}
