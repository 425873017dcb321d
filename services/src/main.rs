//! The `kurslogg` binary: a thin shell over the library.

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = kurslogg::cli::Cli::parse();
    match kurslogg::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kurslogg: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
