//! `upline dlq list|replay`: the dead letters of a region, for an operator.

use crate::nats_args::NatsArgs;
use worker::bus::jetstream::JetStreamBus;
use worker::bus::EventBus;
use worker::dead_letters::ReplayTargets;

#[derive(clap::Args, Debug)]
pub struct DlqArgs {
    #[command(subcommand)]
    pub action: DlqAction,
}

/// Where the dead letters are.
#[derive(clap::Args, Debug)]
pub struct DlqTarget {
    #[command(flatten)]
    pub nats: NatsArgs,
    /// The region whose dead letters these are.
    #[arg(
        long,
        value_name = "NAME",
        env = "UPLINE_REGION",
        default_value = "local"
    )]
    pub region: String,
}

#[derive(clap::Subcommand, Debug)]
pub enum DlqAction {
    /// Print every dead letter, one per line, tab-separated: its number, the consumer that gave
    /// it up, the event id, the subject and the reason.
    List(DlqTarget),
    /// Publish dead letters again on the region's events stream (a new event id, the original
    /// subject, headers and payload) and remove them: after the cause is fixed. A letter of
    /// another region's event (given up by a consumer of the inbound stream) goes on the
    /// inbound stream's own subject, `<prefix>.<region>.inbound.<original subject>`.
    Replay {
        #[command(flatten)]
        target: DlqTarget,
        /// The letter's number, as `list` prints it.
        #[arg(long, value_name = "N", required_unless_present = "all")]
        sequence: Option<u64>,
        /// Every dead letter.
        #[arg(long, conflicts_with = "sequence")]
        all: bool,
    },
}

pub fn main(args: DlqArgs) -> std::process::ExitCode {
    crate::logging::install(crate::logging::Verbosity::Command);
    crate::serve::run_command("dlq", run(args))
}

async fn run(args: DlqArgs) -> Result<(), String> {
    let target = match &args.action {
        DlqAction::List(target) | DlqAction::Replay { target, .. } => target,
    };
    let (nats, region) = (&target.nats, &target.region);
    nats.access.install()?;
    let streams = nats.streams(region);
    let dead_letters = nats.dead_letters(&streams).await?;
    match args.action {
        DlqAction::List(_) => {
            let letters = dead_letters
                .list()
                .await
                .map_err(|error| error.to_string())?;
            if letters.is_empty() {
                println!("no dead letters in region {region}");
            }
            for letter in letters {
                println!(
                    "{}\t{}\t{}\t{}\t{}",
                    letter.sequence,
                    letter.consumer,
                    letter.event_id,
                    letter.subject,
                    letter.reason
                );
            }
        }
        DlqAction::Replay { sequence, all, .. } => {
            let events = nats.events(&streams).await?;
            let letters = dead_letters
                .list()
                .await
                .map_err(|error| error.to_string())?;
            let sequences: Vec<u64> = if all {
                letters.iter().map(|letter| letter.sequence).collect()
            } else {
                sequence.into_iter().collect()
            };
            // Letters of other regions' events go back on the inbound stream, which exists
            // where they were taken in.
            let from_elsewhere = letters.iter().any(|letter| {
                sequences.contains(&letter.sequence)
                    && letter
                        .region
                        .as_deref()
                        .is_some_and(|origin| origin != region)
            });
            let inbound = match from_elsewhere {
                true => Some(
                    JetStreamBus::connect(&nats.nats, streams.inbound(&[]))
                        .await
                        .map_err(|error| error.to_string())?,
                ),
                false => None,
            };
            let inbound_prefix = streams.inbound_subject_prefix();
            let targets = ReplayTargets {
                region,
                events: &*events,
                inbound: inbound
                    .as_ref()
                    .map(|bus| (bus as &dyn EventBus, inbound_prefix.as_str())),
            };
            for sequence in sequences {
                match dead_letters
                    .replay_to(sequence, &targets)
                    .await
                    .map_err(|error| error.to_string())?
                {
                    Some(letter) => println!("replayed {sequence}: {}", letter.event_id),
                    None => {
                        return Err(format!(
                            "there is no dead letter {sequence} in region {region} \
                             (see `upline dlq list`)"
                        ))
                    }
                }
            }
        }
    }
    Ok(())
}
