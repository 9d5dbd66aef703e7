//! Logging: tracing to stderr, so stdout carries only the program's output.

use std::io::{self, IsTerminal, Write};

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. `RUST_LOG` wins when set; otherwise `verbosity` picks the
/// level (0 warn, 1 info, 2 debug, 3+ trace).
pub fn init(verbosity: u8) {
    let level = match verbosity {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    // Fails only if a subscriber is already installed, which then keeps logging.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| Unfailing(io::stderr()))
        .with_ansi(io::stderr().is_terminal())
        .with_target(false)
        .try_init();
}

/// Stderr for logs, whose write errors are dropped: a log line that cannot be written (stderr
/// closed, full, or a pipe whose reader left) must never take the run down with it.
struct Unfailing(io::Stderr);

impl Write for Unfailing {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(self.0.write(buf).unwrap_or(buf.len()))
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        let _ = self.0.write_all(buf);
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        let _ = self.0.flush();
        Ok(())
    }
}
