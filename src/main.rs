//! The `choreo` binary: the whole command line, applied to the built-in shop.

use std::process::ExitCode;

fn main() -> ExitCode {
    choreo::app::main::<choreo::shop::Shop>("choreo")
}
