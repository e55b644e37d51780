//! Command-line parsing and the commands: `check`, `explain`, `generate`, `fit`, `select`,
//! `predict`, `score`, `sample` and `plot`.

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::failure::{self, Failure};
use crate::input::{compile, MethodArg};

/// Declarative latent-variable models with derived closed-form EM updates.
#[derive(Debug, Parser)]
#[command(name = "jensen", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Parse, check and derive a model file; print every diagnostic.
    Check {
        /// The model file (`.em`).
        model: String,
        /// Print a JSON object (`ok`, the model's name, its blocks and updates) on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Print the derived E-step, M-step and ELBO in math notation.
    Explain {
        /// The model file (`.em`).
        model: String,
        /// `em` or `vb` (default: the model file's `method` line, else em).
        #[arg(long, value_enum)]
        method: Option<MethodArg>,
    },
    /// Print the Rust code generated for a model file.
    Generate {
        /// The model file (`.em`).
        model: String,
        /// Name of the model struct (default: the model name in CamelCase).
        #[arg(long)]
        name: Option<String>,
        /// `em` or `vb` (default: the model file's `method` line, else em).
        #[arg(long, value_enum)]
        method: Option<MethodArg>,
    },
    /// Fit a model file to a data file by EM (no cargo needed).
    Fit(Box<crate::fit::FitArgs>),
    /// Fit every model file at every value of a constant (`--range K=1..8`) and compare
    /// the fits by BIC, AIC and ICL.
    Select(Box<crate::select::SelectArgs>),
    /// Draw SVG pictures: a fit's trace, a select table's curves, the clusters over two
    /// columns, a chain's decoded states.
    Plot(Box<crate::figures::PlotArgs>),
    /// Predict with a fitted model on a data file: each row's most probable component (the
    /// Viterbi path for a chain), posterior probabilities, log-likelihood and the posterior
    /// mean of a continuous latent (factor scores), as CSV.
    #[command(visible_alias = "decode")]
    Predict(Box<crate::predict::PredictArgs>),
    /// Draw data from a saved fit (for a chain, sequences), as CSV under the fit's column
    /// names.
    Sample(Box<crate::sampling::SampleArgs>),
    /// Score a data file under a fitted model: its log-likelihood, per row, BIC and AIC.
    Score(Box<crate::predict::ScoreArgs>),
}
/// Runs the command line.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(failure) => {
            if let Some(message) = failure.message() {
                eprintln!("error: {message}");
            }
            failure.code()
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode, Failure> {
    match cli.command {
        Command::Check { model, json } => {
            let plan = match compile(&model, None) {
                Ok(plan) => plan,
                Err(e) => {
                    if json {
                        outln!(
                            "{}",
                            serde_json::json!({ "model_file": model, "ok": false })
                        );
                    }
                    return Err(e);
                }
            };
            if json {
                outln!(
                    "{}",
                    serde_json::json!({
                        "model_file": model,
                        "ok": true,
                        "model": plan.model.name,
                        "blocks": plan.blocks.len(),
                        "updates": plan.updates.len(),
                    })
                );
            } else {
                outln!(
                    "{model}: ok — model `{}`: {} emission block(s), {} parameter(s) with closed-form updates",
                    plan.model.name,
                    plan.blocks.len(),
                    plan.updates.len()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Explain { model, method } => {
            let plan = compile(&model, method)?;
            out!("{}", jensen_codegen::explain(&plan));
            Ok(ExitCode::SUCCESS)
        }
        Command::Generate {
            model,
            name,
            method,
        } => {
            let plan = compile(&model, method)?;
            let name = name.unwrap_or_else(|| jensen_codegen::camel_case(&plan.model.name));
            let code = jensen_codegen::generate_module(&plan, &name).map_err(failure::model)?;
            out!("{code}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Fit(args) => crate::fit::fit(*args),
        Command::Select(args) => crate::select::select(*args),
        Command::Plot(args) => crate::figures::plot(*args),
        Command::Predict(args) => crate::predict::predict(*args),
        Command::Sample(args) => crate::sampling::sample(*args),
        Command::Score(args) => crate::predict::score(*args),
    }
}
