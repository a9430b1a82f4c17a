//! The fake Bot API as a program of its own, for trials of the real binary where no bot
//! exists: the package test (`scripts/package-test`) and `scripts/replicas --fake-telegram`.
//!
//! `fake-telegram [ADDR]` listens on ADDR (default `127.0.0.1:0`, a free port; loopback
//! only), prints one line, `TELOXIDE_API_URL=http://… TELOXIDE_TOKEN=…`, and serves until
//! SIGINT or SIGTERM. Nobody real sees what the bot sends it.

use std::net::SocketAddr;
use std::process::ExitCode;

use fake_platforms::FakeTelegram;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".into());
    let addr: SocketAddr = match addr.parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("fake-telegram: {addr:?} is not an address such as 127.0.0.1:8081: {e}");
            return ExitCode::FAILURE;
        }
    };
    if !addr.ip().is_loopback() {
        eprintln!("fake-telegram: listens on loopback addresses only, not {addr}");
        return ExitCode::FAILURE;
    }
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("fake-telegram: cannot listen on {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let fake = match FakeTelegram::serve(listener, FakeTelegram::USERNAME, None) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("fake-telegram: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "TELOXIDE_API_URL={} TELOXIDE_TOKEN={}",
        fake.api_url(),
        FakeTelegram::TOKEN
    );
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("fake-telegram: {e}");
            return ExitCode::FAILURE;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    fake.stop();
    ExitCode::SUCCESS
}
