//! The `tidings` command: parses the command line and calls the library.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Dashboard events over Server-Sent Events, and tasks in terminals.
#[derive(Parser)]
#[command(
    name = "tidings",
    version,
    args_conflicts_with_subcommands = true,
    after_help = "Durations take ms, s, m or h (a bare number is seconds). \
                  Log level: TIDINGS_LOG (e.g. debug); logs go to stderr."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// `tidings` alone is `tidings serve`.
    #[command(flatten)]
    serve: tidings::ServeArgs,
}

// Parsed once at start: the size of the serve variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Run the server (the default).
    Serve(Box<tidings::ServeArgs>),
    /// Follow a server's stream and print each event as one JSON line.
    Watch(tidings::watch::WatchArgs),
    /// Read an SSE stream on stdin; print each message as one JSON line.
    Parse,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("TIDINGS_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    match cli.command.unwrap_or(Command::Serve(Box::new(cli.serve))) {
        Command::Parse => {
            match tidings::parse::run(std::io::stdin().lock(), std::io::stdout().lock()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("tidings parse: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Serve(args) => {
            // Refused settings exit with 2, like a flag clap cannot read.
            let config = tidings::Config::from(*args);
            if let Err(e) = config.validate() {
                eprintln!("tidings: {e}");
                return ExitCode::from(2);
            }
            runtime_then(|| serve(config))
        }
        Command::Watch(args) => runtime_then(|| tidings::watch::run(args)),
    }
}

fn runtime_then<F, Fut>(f: F) -> ExitCode
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("tidings: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(f());
    // Leftover blocking work (a task log being read) must not hold up exit.
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tidings: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: tidings::Config) -> Result<(), String> {
    if config.no_auth {
        eprintln!(
            "\n  WARNING: --no-auth: anyone who can reach {} — any local program, and any web page\n  \
             open in your browser — can run commands on this machine through Tidings.\n",
            config.addr
        );
    }
    // Handlers first: a signal that arrives as soon as the URL is printed
    // must still shut down cleanly instead of killing the process.
    let signalled = shutdown_signal().map_err(|e| format!("cannot handle signals: {e}"))?;
    let running = tidings::start(config).await.map_err(|e| e.to_string())?;
    // A closed stdout (`tidings serve | head -1`) must not take the server
    // down: these lines are information, not the service.
    {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "tidings listening on http://{}", running.addr);
        let _ = writeln!(out, "open the dashboard: {}", running.url());
        let _ = out.flush();
    }
    signalled.await;
    eprintln!("tidings: shutting down");
    if tokio::time::timeout(std::time::Duration::from_millis(4500), running.shutdown())
        .await
        .is_err()
    {
        eprintln!("tidings: shutdown took too long; exiting anyway");
    }
    Ok(())
}

/// Installs the SIGINT/SIGTERM handlers now; the future completes on the
/// first signal.
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        Ok(async move {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}
