use anyhow::Context;
use clap::{Parser, Subcommand};
use upload_coordinator::app::{Application, shutdown_signal};
use upload_coordinator::auth::Authenticator;
use upload_coordinator::config::Settings;
use upload_coordinator::db::webhooks::DeliveryState;
use upload_coordinator::{api, db, telemetry};

/// Coordinates uploads that go straight from clients to S3-compatible storage.
///
/// Every setting can be given as a flag or as the `UC_*` environment variable shown.
#[derive(Parser)]
#[command(name = "upload-coordinator", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    settings: Settings,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP service (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Print the OpenAPI document.
    Openapi,
    /// Processing jobs parked after their last publish attempt: list them, or send them again.
    Jobs {
        #[command(subcommand)]
        action: JobsAction,
    },
    /// Outgoing webhook deliveries: list them, or send parked ones again.
    Webhooks {
        #[command(subcommand)]
        action: WebhooksAction,
    },
    /// Owners' quota counters (pending uploads and bytes).
    Quotas {
        #[command(subcommand)]
        action: QuotasAction,
    },
    /// Print an HS256 access token signed with UC_JWT_SECRET (for local use and tests).
    Token {
        /// Owner of the uploads made with the token (the platform puts the user's email here).
        #[arg(long)]
        sub: String,
        /// Lifetime in seconds.
        #[arg(long, default_value_t = 900)]
        ttl: u64,
        /// The platform's numeric user id claim.
        #[arg(long, default_value_t = 1)]
        user_id: i64,
    },
}

#[derive(Subcommand)]
enum JobsAction {
    /// List parked jobs, oldest first.
    Parked {
        #[arg(long, default_value_t = 100)]
        limit: i64,
    },
    /// Make parked jobs due again, with fresh attempts (the relays publish them at once).
    Replay {
        /// Only the job of this upload (default: every parked job).
        #[arg(long)]
        upload: Option<uuid::Uuid>,
    },
}

#[derive(Subcommand)]
enum WebhooksAction {
    /// List deliveries, newest first.
    Deliveries {
        /// Only those in this state.
        #[arg(long, value_parser = ["pending", "delivered", "parked"])]
        state: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: i64,
    },
    /// Make parked deliveries due again, with fresh attempts (sent at once, same webhook-id).
    Replay {
        /// Only the deliveries of this upload (default: every parked one).
        #[arg(long)]
        upload: Option<uuid::Uuid>,
    },
    /// List the endpoints replicas were given, and whether each is enabled.
    Endpoints,
    /// Stop delivering to an endpoint no longer configured: its pending deliveries are parked.
    Disable {
        /// The endpoint's URL, as UC_WEBHOOK_URL gave it.
        url: String,
    },
}

#[derive(Subcommand)]
enum QuotasAction {
    /// Count each owner's pending uploads and bytes again from the uploads, and correct the
    /// counters that drifted (prints those; safe while replicas serve).
    Recount {
        /// Only this owner (default: every owner with a counter or a pending upload).
        #[arg(long)]
        owner: Option<String>,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    telemetry::init(cli.settings.http.log_format);
    let command = cli.command.unwrap_or(Command::Serve);
    if matches!(command, Command::Openapi) {
        println!("{}", api::openapi_json());
        return Ok(());
    }
    match command {
        Command::Serve => {
            let app = Application::build(cli.settings.resolve()?).await?;
            app.run_until(shutdown_signal()).await?;
        }
        Command::Openapi => unreachable!("printed above"),
        Command::Migrate => {
            let settings = cli.settings.resolve_database()?;
            let pool = db::pool(&settings.database)?;
            let applied = db::migrate(&pool).await.context("migration failed")?;
            println!("applied {applied} migration(s)");
        }
        Command::Jobs { action } => {
            let settings = cli.settings.resolve_database()?;
            let pool = db::pool(&settings.database)?;
            let client = pool.get().await.context("cannot reach PostgreSQL")?;
            match action {
                JobsAction::Parked { limit } => {
                    for job in db::outbox::list_parked(&client, limit).await? {
                        println!(
                            "{}\t{}\tparked {}\t{} attempts\t{}",
                            job.upload_id,
                            job.task_id,
                            job.parked_at.to_rfc3339(),
                            job.attempts,
                            job.last_error.unwrap_or_default()
                        );
                    }
                }
                JobsAction::Replay { upload } => {
                    let replayed = db::outbox::replay_parked(&client, upload).await?;
                    println!("{replayed} job(s) due again");
                }
            }
        }
        Command::Webhooks { action } => {
            let settings = cli.settings.resolve_database()?;
            let pool = db::pool(&settings.database)?;
            let mut client = pool.get().await.context("cannot reach PostgreSQL")?;
            match action {
                WebhooksAction::Deliveries { state, limit } => {
                    let state = state.map(|state| match state.as_str() {
                        "pending" => DeliveryState::Pending,
                        "delivered" => DeliveryState::Delivered,
                        _ => DeliveryState::Parked,
                    });
                    for d in db::webhooks::list(&client, state, None, limit).await? {
                        println!(
                            "{}\t{}\t{}\t{}\t{} attempts\t{}\t{}",
                            d.id,
                            upload_coordinator::webhooks::loggable_url(&d.endpoint),
                            d.upload_id,
                            d.status,
                            d.attempts,
                            match (d.delivered_at, d.parked_at) {
                                (Some(at), _) => format!("delivered {}", at.to_rfc3339()),
                                (None, Some(at)) => format!("parked {}", at.to_rfc3339()),
                                (None, None) => format!("due {}", d.next_attempt_at.to_rfc3339()),
                            },
                            d.last_error.unwrap_or_default()
                        );
                    }
                }
                WebhooksAction::Replay { upload } => {
                    let replayed = db::webhooks::replay_parked(&client, upload).await?;
                    println!("{replayed} deliveries due again");
                }
                WebhooksAction::Endpoints => {
                    for (url, enabled) in db::webhooks::endpoints(&client).await? {
                        let state = if enabled { "enabled" } else { "disabled" };
                        let url = upload_coordinator::webhooks::loggable_url(&url);
                        println!("{url}\t{state}");
                    }
                }
                WebhooksAction::Disable { url } => {
                    if db::webhooks::disable_endpoint(&mut client, &url).await? {
                        println!("disabled; its pending deliveries are parked");
                    } else {
                        anyhow::bail!("no enabled endpoint has that URL");
                    }
                }
            }
        }
        Command::Quotas {
            action: QuotasAction::Recount { owner },
        } => {
            let settings = cli.settings.resolve_database()?;
            let pool = db::pool(&settings.database)?;
            let mut client = pool.get().await.context("cannot reach PostgreSQL")?;
            let named = owner.is_some();
            let owners = match owner {
                Some(owner) => vec![owner],
                None => db::quotas::owners(&client).await?,
            };
            let mut corrected = 0;
            for owner in &owners {
                let Some(counted) = db::quotas::recount(&mut client, owner).await? else {
                    if named {
                        anyhow::bail!("{owner} has no quota counter and no pending upload");
                    }
                    continue;
                };
                if counted.stored != counted.counted {
                    corrected += 1;
                    println!(
                        "{owner}\tpending uploads {} -> {}\tpending bytes {} -> {}",
                        counted.stored.0, counted.counted.0, counted.stored.1, counted.counted.1
                    );
                }
            }
            println!("{} owner(s) recounted, {corrected} corrected", owners.len());
        }
        Command::Token { sub, ttl, user_id } => {
            let settings = cli.settings.resolve_token_signing()?;
            let auth = Authenticator::new(&settings.auth)?;
            println!("{}", auth.issue(&sub, user_id, ttl)?);
        }
    }
    Ok(())
}
