use anyhow::Context;
use clap::{Parser, Subcommand};
use upload_coordinator::app::{Application, shutdown_signal};
use upload_coordinator::auth::Authenticator;
use upload_coordinator::config::Settings;
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

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    telemetry::init(cli.settings.http.log_format);
    let command = cli.command.unwrap_or(Command::Serve);
    if matches!(command, Command::Openapi) {
        println!("{}", api::openapi_json());
        return Ok(());
    }
    let settings = cli.settings.resolve()?;
    match command {
        Command::Serve => {
            let app = Application::build(settings).await?;
            app.run_until(shutdown_signal()).await?;
        }
        Command::Openapi => unreachable!("printed above"),
        Command::Migrate => {
            let pool = db::pool(&settings.database)?;
            let applied = db::migrate(&pool).await.context("migration failed")?;
            println!("applied {applied} migration(s)");
        }
        Command::Token { sub, ttl, user_id } => {
            let auth = Authenticator::new(&settings.auth)?;
            println!("{}", auth.issue(&sub, user_id, ttl)?);
        }
    }
    Ok(())
}
