//! The `kurslogg` binary: a thin shell over the library.

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    kurslogg::without_transparent_huge_pages();
    let cli = kurslogg::cli::Cli::parse();
    match kurslogg::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kurslogg: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
