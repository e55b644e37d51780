//! `jensen-ballista`: a Ballista scheduler or executor that runs jensen's E-step.
//!
//! ```text
//! jensen-ballista scheduler [--bind HOST:PORT]
//! jensen-ballista executor --scheduler HOST:PORT [--host HOST] [--port PORT]
//!                          [--grpc-port PORT] [--slots N] [--work-dir DIR]
//! ```
//!
//! Start one scheduler and any number of executors (each on a machine that can read the data
//! files at the path the fit names), then `jensen fit MODEL --data 'dir/*.parquet' --cluster
//! HOST:PORT`. See `docs/distributed.md`.

use std::process::ExitCode;

use jensen_datafusion::cluster::{run_executor, run_scheduler, ExecutorOptions};

const USAGE: &str = "usage:
  jensen-ballista scheduler [--bind HOST:PORT]           (default 127.0.0.1:50050)
  jensen-ballista executor --scheduler HOST:PORT [--host HOST] [--port PORT]
                           [--grpc-port PORT] [--slots N] [--work-dir DIR]
                           (defaults: 127.0.0.1, 50051, 50052, one slot per core, a temporary directory)";

/// The value after `flag` in `args`, parsed.
fn value<T: std::str::FromStr>(args: &[String], flag: &str) -> Result<Option<T>, String> {
    match args.iter().position(|a| a == flag) {
        None => Ok(None),
        Some(i) => {
            let v = args
                .get(i + 1)
                .ok_or_else(|| format!("{flag} needs a value"))?;
            v.parse()
                .map(Some)
                .map_err(|_| format!("{flag} {v}: not a valid value"))
        }
    }
}

/// Checks that every argument is one of `flags` followed by its value.
fn known(args: &[String], flags: &[&str]) -> Result<(), String> {
    let mut i = 0;
    while i < args.len() {
        if !flags.contains(&args[i].as_str()) {
            return Err(format!("unknown argument `{}`", args[i]));
        }
        i += 2;
    }
    Ok(())
}

fn run(args: &[String]) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(32 << 20)
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    match args.first().map(String::as_str) {
        Some("scheduler") => {
            let rest = &args[1..];
            known(rest, &["--bind"])?;
            let bind: std::net::SocketAddr = value(rest, "--bind")?
                .unwrap_or_else(|| "127.0.0.1:50050".parse().expect("an address"));
            eprintln!("jensen-ballista: scheduler on {bind}");
            runtime
                .block_on(run_scheduler(bind))
                .map_err(|e| e.to_string())
        }
        Some("executor") => {
            let rest = &args[1..];
            known(
                rest,
                &[
                    "--scheduler",
                    "--host",
                    "--port",
                    "--grpc-port",
                    "--slots",
                    "--work-dir",
                ],
            )?;
            let scheduler: String =
                value(rest, "--scheduler")?.ok_or("executor: --scheduler HOST:PORT is required")?;
            let (scheduler_host, scheduler_port) = scheduler
                .rsplit_once(':')
                .and_then(|(h, p)| Some((h.to_string(), p.parse().ok()?)))
                .ok_or_else(|| format!("--scheduler {scheduler}: not HOST:PORT"))?;
            let options = ExecutorOptions {
                host: value(rest, "--host")?.unwrap_or_else(|| "127.0.0.1".into()),
                port: value(rest, "--port")?.unwrap_or(50051),
                grpc_port: value(rest, "--grpc-port")?.unwrap_or(50052),
                scheduler_host,
                scheduler_port,
                slots: value(rest, "--slots")?.unwrap_or(0),
                work_dir: value(rest, "--work-dir")?,
            };
            eprintln!(
                "jensen-ballista: executor on {}:{} (tasks on {}), scheduler {scheduler}",
                options.host, options.port, options.grpc_port
            );
            runtime
                .block_on(run_executor(options))
                .map_err(|e| e.to_string())
        }
        Some("-h" | "--help") => {
            println!("{USAGE}");
            Ok(())
        }
        _ => Err(USAGE.to_string()),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("jensen-ballista: {e}");
            ExitCode::from(2)
        }
    }
}
