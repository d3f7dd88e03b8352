//! `upline crdgen`: writes the CRD YAML generated from the operator's Rust types.

use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
#[command(
    about = "Write the CustomResourceDefinitions (Region, Tenant, CompensationPlan) as YAML",
    long_about = "Write the CustomResourceDefinitions of group upline.io (Region, Tenant, \
CompensationPlan), generated from the operator's Rust types, into crds/ and the Helm chart's \
charts/upline/crds/ (or the directories given). Run it from the repository's root after changing \
a type in operator/src/crd; the checked-in files are compared with it by the tests. With --check \
nothing is written: it exits 1 and names the stale files when any differ."
)]
pub struct CrdgenArgs {
    /// A directory to write the CRDs into (repeatable). Default: crds and charts/upline/crds.
    #[arg(long = "out", value_name = "DIR")]
    pub out: Vec<PathBuf>,
    /// Write nothing; exit 1 when a file differs from what would be written.
    #[arg(long)]
    pub check: bool,
}

pub fn main(args: CrdgenArgs) -> ExitCode {
    let dirs = if args.out.is_empty() {
        operator::crdgen::default_dirs(std::path::Path::new("."))
    } else {
        args.out
    };
    if args.check {
        let stale = operator::crdgen::stale(&dirs);
        if stale.is_empty() {
            return ExitCode::SUCCESS;
        }
        for path in stale {
            eprintln!(
                "upline crdgen: {} is stale; run `upline crdgen` and commit it",
                path.display()
            );
        }
        return ExitCode::FAILURE;
    }
    match operator::crdgen::write(&dirs) {
        Ok(written) => {
            for path in written {
                println!("{}", path.display());
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("upline crdgen: cannot write the CRDs: {error}");
            ExitCode::FAILURE
        }
    }
}
