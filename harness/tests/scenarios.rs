//! This repository's own scenarios as tests: the public `firedrill::testing::main()` dogfooded.

fn main() -> std::process::ExitCode {
    firedrill::testing::main()
}
