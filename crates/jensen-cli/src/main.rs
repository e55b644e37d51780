//! `jensen`: check, explain, generate and fit model files; select among them, predict, score,
//! sample and plot with a saved fit.

fn main() -> std::process::ExitCode {
    jensen_cli::cli::main()
}
