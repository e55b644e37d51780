//! `jensen`: check, explain, generate and fit model files.

fn main() -> std::process::ExitCode {
    jensen_cli::cli::main()
}
