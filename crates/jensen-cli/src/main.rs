//! `jensen`: check, explain, generate, fit and decode model files.

fn main() -> std::process::ExitCode {
    jensen_cli::cli::main()
}
