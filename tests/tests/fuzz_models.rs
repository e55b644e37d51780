//! The model-file fuzzer: the whole front end on broken and pathological model files.
//!
//! Every input goes through what `jensen check`, `explain` and `generate` do — parse, check,
//! derive, and for a model that compiles the lowering, the math text and the generated Rust
//! (formatted) — and its diagnostics through the command line's renderer
//! (`jensen_cli::render::render`). Each input must come back with diagnostics or a compiled
//! model: no panic (each input runs under `catch_unwind`), every error with a message, a span
//! inside the file and a hint, every rendered line short, and within a time bound: 2 s
//! (`JENSEN_FUZZ_BUDGET_MS`) plus 25 µs per byte of input (`JENSEN_FUZZ_BUDGET_US_PER_BYTE`),
//! generous for a debug build on a busy machine (a debug build takes 5–20 µs per byte of a
//! file of many statements), so linear work stays inside it and quadratic work on the large
//! inputs does not (a sum of 7,000 terms, 77 kB, used to take 47 s in a release build). All inputs run on a thread with a 2 MiB stack, the default of a test
//! thread, so a stack overflow on deep nesting aborts this test; a second test runs the inputs
//! nested exactly to the limit on 1 MiB.
//!
//! The inputs, from a fixed seed:
//! - **mutations** of every file in `models/` and `tests/err/`: tokens or characters
//!   deleted, duplicated, swapped or inserted (names, keywords, distributions, numbers from 0
//!   to far past 2⁶⁴, brackets, operators, non-ASCII and control characters), lines deleted,
//!   duplicated or spliced in from another file;
//! - **long lines** of 65,536 to 1,000,000 characters (one token, a comment, a long statement
//!   with the error far to the right, multi-byte characters);
//! - **deep nesting**: 10,000 and more parentheses, index expressions (`mu[z[z[…]]]`), calls,
//!   unclosed brackets, one bracket per line, and the nesting limit itself
//!   (`jensen::lang::parse::MAX_DEPTH`, which must still compile) and one past it;
//! - **long sums** of 10,000 terms (`mu[z[n]] + …`, `x + …`, products, differences) and
//!   chains right at the limit;
//! - **huge sizes**: constants and literal sizes of 0, 2³¹ − 1, 2³¹, 10¹¹ and past 2⁶⁴;
//! - **many lines**: 1,000 and 5,000 declarations, statements or bad lines in one file.
//!
//! At the end the counts (inputs by family, compiled, rejected, failures, the slowest input)
//! are printed to stderr. A longer campaign is one command:
//!
//! ```text
//! JENSEN_FUZZ_CASES=50000 JENSEN_FUZZ_SEED=7 cargo test -p jensen-tests --test fuzz_models -- --nocapture
//! ```
//!
//! `JENSEN_FUZZ_CASES` is the number of mutated inputs (default 2,000; the generated families
//! are fixed), `JENSEN_FUZZ_SEED` the seed (default 20240609).

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::time::{Duration, Instant};

use jensen::lang::parse::MAX_DEPTH;
use jensen::lang::{Diagnostic, LineIndex, Program};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The repository root.
const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

/// The stack of a test thread (what `cargo test` gives each test by default).
const STACK: usize = 2 << 20;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v}: not a number")),
        Err(_) => default,
    }
}

/// One input to the front end.
struct Case {
    family: &'static str,
    name: String,
    source: String,
}

/// What happened to one input.
enum Outcome {
    Compiled,
    Rejected,
    Failed(String),
}

/// Runs one input through the front end as the command line would, checking the
/// diagnostics; `Err` says what is wrong with them.
fn front_end(name: &str, source: &str) -> Result<bool, String> {
    let (compiled, diags) = match jensen::compile(source) {
        Ok((plan, warnings)) => {
            let program = Program::lower(&plan);
            let _ = std::hint::black_box(program);
            let math = jensen_codegen::explain(&plan);
            if math.is_empty() {
                return Err("explain printed nothing".into());
            }
            let struct_name = jensen_codegen::camel_case(&plan.model.name);
            jensen_codegen::generate_module(&plan, &struct_name)
                .map_err(|e| format!("generate failed on a compiled model: {e}"))?;
            (true, warnings)
        }
        Err(diags) => {
            if !diags.iter().any(Diagnostic::is_error) {
                return Err("rejected without an error".into());
            }
            (false, diags)
        }
    };
    let lines = LineIndex::new(source);
    for d in &diags {
        if d.message.is_empty() || d.hint.is_empty() {
            return Err(format!(
                "diagnostic {} without a message or a hint: {:?}",
                d.code, d.message
            ));
        }
        if d.span.start > d.span.end || d.span.end > source.len() {
            return Err(format!(
                "diagnostic {} spans {:?}, outside the file ({} bytes)",
                d.code,
                d.span,
                source.len()
            ));
        }
        let _ = lines.of(source, d.span.start);
    }
    if !diags.is_empty() {
        let text = jensen_cli::render::render(name, source, &diags, false);
        if !text.contains(&format!(
            "{} error(s)",
            diags.iter().filter(|d| d.is_error()).count()
        )) {
            return Err("the rendering has no summary line".into());
        }
        let widest = text.lines().map(|l| l.chars().count()).max().unwrap_or(0);
        if widest > 2_000 {
            return Err(format!("the rendering has a line of {widest} characters"));
        }
    }
    Ok(compiled)
}

/// The model files the mutations start from.
fn seeds() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for dir in ["models", "tests/err"] {
        let mut paths: Vec<_> = std::fs::read_dir(Path::new(ROOT).join(dir))
            .unwrap_or_else(|e| panic!("read {dir}: {e}"))
            .map(|e| e.expect("directory entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "em"))
            .collect();
        paths.sort();
        for p in paths {
            let text = std::fs::read_to_string(&p).expect("read a model file");
            out.push((
                format!("{dir}/{}", p.file_name().unwrap().to_string_lossy()),
                text,
            ));
        }
    }
    out
}

/// Splits text into tokens: runs of letters, digits and `_`; runs of spaces; single others.
fn tokens(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let class = |c: char| {
            if c.is_alphanumeric() || c == '_' || c == '.' {
                0
            } else if c == ' ' || c == '\t' {
                1
            } else {
                2
            }
        };
        let k = class(c);
        let end = match chars.peek() {
            Some(&(_, d)) if k != 2 && class(d) == k => continue,
            Some(&(j, _)) => j,
            None => text.len(),
        };
        let _ = i;
        out.push(&text[start..end]);
        start = end;
    }
    out
}

const WORDS: &[&str] = &[
    "model",
    "const",
    "data",
    "param",
    "latent",
    "from",
    "except",
    "int",
    "real",
    "vector",
    "matrix",
    "simplex",
    "positive",
    "cov",
    "prob",
    "count",
    "binary",
    "MvNormal",
    "Normal",
    "Categorical",
    "Poisson",
    "Bernoulli",
    "Exponential",
    "Gamma",
    "Dirichlet",
    "diag",
    "I",
    "x",
    "z",
    "h",
    "n",
    "t",
    "N",
    "K",
    "D",
    "L",
    "mu",
    "Sigma",
    "W",
    "psi",
    "w",
    "A",
    "p0",
    "fn",
    "self",
    "Self",
    "struct",
    "r#type",
    "_",
    "__",
    "type",
    "match",
    "crate",
    "super",
    "usize",
    "f64",
    "Vec",
    "String",
    "Model",
    "new",
    "fit",
    "params",
    "data_",
    "K2",
];

const SYMBOLS: &[&str] = &[
    "(", ")", "[", "]", ",", ":", "=", "~", "+", "-", "*", "..", "//", "\"", "\n", " ", "/", "{",
    "}", ";", "!", "#", "\r", "\t", "é", "ß", "∑", "😀", "\u{0}", "\u{feff}", "\\",
];

fn random_number(rng: &mut ChaCha8Rng) -> String {
    match rng.random_range(0..10) {
        0 => "0".into(),
        1 => "1".into(),
        2 => rng.random_range(2..20u32).to_string(),
        3 => "2147483647".into(),
        4 => "2147483648".into(),
        5 => "100000000000".into(),
        6 => "340282366920938463463374607431768211456".into(),
        7 => format!(
            "{}.{}",
            rng.random_range(0..10u32),
            rng.random_range(0..100u32)
        ),
        8 => format!(
            "{}e{}",
            rng.random_range(1..10u32),
            rng.random_range(0..400u32)
        ),
        _ => rng.random::<u64>().to_string(),
    }
}

fn random_token(rng: &mut ChaCha8Rng) -> String {
    match rng.random_range(0..6) {
        0 | 1 => WORDS[rng.random_range(0..WORDS.len())].to_string(),
        2 => SYMBOLS[rng.random_range(0..SYMBOLS.len())].to_string(),
        3 => random_number(rng),
        4 => {
            // A fresh name.
            let len = rng.random_range(1..12);
            (0..len)
                .map(|i| {
                    let c = rng.random_range(0..37u8);
                    match c {
                        0..=25 => (b'a' + c) as char,
                        26..=35 if i > 0 => (b'0' + c - 26) as char,
                        _ => '_',
                    }
                })
                .collect()
        }
        _ => [
            "mu[z[n]]",
            "z[t-1]",
            "W * h[n]",
            "0..K",
            "vector[D]",
            "(",
            "[",
            "))",
            "]]",
        ][rng.random_range(0..9)]
        .to_string(),
    }
}

/// `text` with one to four random edits.
fn mutate(text: &str, others: &[(String, String)], rng: &mut ChaCha8Rng) -> String {
    let mut text = text.to_string();
    for _ in 0..rng.random_range(1..=4) {
        let toks = tokens(&text);
        let n = toks.len();
        let pick = |rng: &mut ChaCha8Rng| if n == 0 { 0 } else { rng.random_range(0..n) };
        let mut toks: Vec<String> = toks.into_iter().map(str::to_string).collect();
        match rng.random_range(0..10) {
            0 if n > 0 => {
                toks.remove(pick(rng));
            }
            1 if n > 0 => {
                let i = pick(rng);
                let t = toks[i].clone();
                toks.insert(i, t);
            }
            2 if n > 1 => {
                let i = rng.random_range(0..n - 1);
                toks.swap(i, i + 1);
            }
            3 | 4 => {
                let i = if n == 0 { 0 } else { rng.random_range(0..=n) };
                toks.insert(i, random_token(rng));
            }
            5 if n > 0 => {
                let i = pick(rng);
                toks[i] = random_token(rng);
            }
            6 => {
                // A line of another file, spliced in.
                let (_, other) = &others[rng.random_range(0..others.len())];
                let lines: Vec<&str> = text.lines().collect();
                let theirs: Vec<&str> = other.lines().collect();
                if !theirs.is_empty() {
                    let line = theirs[rng.random_range(0..theirs.len())];
                    let at = rng.random_range(0..=lines.len());
                    let mut new: Vec<&str> = lines.clone();
                    new.insert(at, line);
                    toks = vec![new.join("\n") + "\n"];
                }
            }
            7 => {
                // A line deleted or duplicated.
                let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
                if !lines.is_empty() {
                    let i = rng.random_range(0..lines.len());
                    if rng.random_bool(0.5) {
                        lines.remove(i);
                    } else {
                        let l = lines[i].clone();
                        lines.insert(i, l);
                    }
                }
                toks = vec![lines.join("\n") + "\n"];
            }
            _ => {
                // A character deleted, inserted or replaced.
                let chars: Vec<char> = text.chars().collect();
                let mut chars = chars;
                let i = if chars.is_empty() {
                    0
                } else {
                    rng.random_range(0..chars.len())
                };
                let c = SYMBOLS[rng.random_range(0..SYMBOLS.len())]
                    .chars()
                    .next()
                    .unwrap_or('x');
                match rng.random_range(0..3) {
                    0 if !chars.is_empty() => {
                        chars.remove(i);
                    }
                    1 if !chars.is_empty() => chars[i] = c,
                    _ => chars.insert(i, c),
                }
                toks = vec![chars.into_iter().collect()];
            }
        }
        text = toks.concat();
    }
    text
}

/// The header of a Gaussian mixture; statements follow.
const GMM: &str = "model m\nconst K: int = 2\ndata x[N]: vector[D]\nparam w: simplex[K]\n\
                   param mu[K]: vector[D]\nparam Sigma[K]: cov[D]\nlatent z[N]: 0..K\n\
                   z[n] ~ Categorical(w)\n";

fn gmm_with_mean(mean: &str) -> String {
    format!("{GMM}x[n] ~ MvNormal({mean}, Sigma[z[n]])\n")
}

fn nested(open: &str, inner: &str, close: &str, depth: usize) -> String {
    let mut s = String::with_capacity((open.len() + close.len()) * depth + inner.len());
    for _ in 0..depth {
        s.push_str(open);
    }
    s.push_str(inner);
    for _ in 0..depth {
        s.push_str(close);
    }
    s
}

fn chain(term: &str, op: &str, terms: usize) -> String {
    vec![term; terms].join(op)
}

/// The generated families: long lines, deep nesting, long sums, huge sizes, many lines.
fn generated(rng: &mut ChaCha8Rng) -> Vec<Case> {
    let mut cases = Vec::new();
    let mut add = |family: &'static str, name: String, source: String| {
        cases.push(Case {
            family,
            name,
            source,
        })
    };
    let fa = std::fs::read_to_string(Path::new(ROOT).join("models/fa_iris.em"))
        .expect("read models/fa_iris.em");
    for len in [65_535, 65_536, 65_537, 100_000, 1_000_000] {
        add("long line", format!("{len} a"), "a".repeat(len) + "\n");
        add(
            "long line",
            format!("{len} comment, then an error"),
            format!("// {}\nmodel m m\n", "c".repeat(len)),
        );
        add(
            "long line",
            format!("{len} spaces before a bad token"),
            format!(
                "{GMM}{}x[n] ~ MvNormal(mu[z[n]], Sigma[z[n]]) )\n",
                " ".repeat(len)
            ),
        );
        add(
            "long line",
            format!("{len}-character name"),
            format!(
                "{GMM}x[n] ~ MvNormal({}[z[n]], Sigma[z[n]])\n",
                "q".repeat(len)
            ),
        );
        add(
            "long line",
            format!("{len} multi-byte characters"),
            format!("model m\n{}\n", "é∑".repeat(len / 2)),
        );
        add(
            "long line",
            format!("{len}: the statement's error far right"),
            format!(
                "{GMM}x[n] ~ MvNormal({}mu[z[n]], Sigma[z[n]], 3)\n",
                " ".repeat(len)
            ),
        );
        add(
            "long line",
            format!("{len}: a long carriage-return line"),
            format!("{GMM}\r{}\rmodel n\r", "r".repeat(len)),
        );
    }
    add(
        "long line",
        "a valid model with a comment of 1,000,000 characters".into(),
        format!("{fa}// {}\n", "z".repeat(1_000_000)),
    );
    for (what, at, over) in at_the_limit() {
        add("deep nesting", format!("{what} at the limit"), at);
        add("deep nesting", format!("{what} one level over"), over);
    }
    let at = MAX_DEPTH;
    for depth in [at - 1, at, at + 1, 10_000, 20_000, 100_000] {
        add(
            "deep nesting",
            format!("{depth} parentheses"),
            gmm_with_mean(&nested("(", "mu[z[n]]", ")", depth)),
        );
        add(
            "deep nesting",
            format!("{depth} index expressions"),
            gmm_with_mean(&format!("mu[{}]", nested("z[", "n", "]", depth))),
        );
        add(
            "deep nesting",
            format!("{depth} calls"),
            format!(
                "{GMM}x[n] ~ MvNormal(mu[z[n]], {})\n",
                nested("diag(", "Sigma[z[n]]", ")", depth)
            ),
        );
        add(
            "deep nesting",
            format!("{depth} unclosed parentheses"),
            gmm_with_mean(&"(".repeat(depth)),
        );
        add(
            "deep nesting",
            format!("{depth} negations in parentheses"),
            gmm_with_mean(&nested("-(", "mu[z[n]]", ")", depth)),
        );
        add(
            "deep nesting",
            format!("{depth} brackets, one per line"),
            gmm_with_mean(&nested("(\n", "mu[z[n]]", "\n)", depth)),
        );
        add(
            "deep nesting",
            format!("{depth} nested targets"),
            format!("{GMM}{} ~ Categorical(w)\n", nested("z[", "n", "]", depth)),
        );
        add(
            "deep nesting",
            format!("{depth} brackets in a declaration"),
            format!("{GMM}param q{}: real\n", nested("[", "K", "]", depth)),
        );
        add(
            "deep nesting",
            format!("{depth} mixed brackets"),
            gmm_with_mean(&nested("(mu[", "n", "])", depth)),
        );
    }
    for terms in [2, at / 2, at, at + 1, 3_000, 7_000, 7_370, 10_000] {
        add(
            "long sum",
            format!("{terms} terms mu[z[n]]"),
            gmm_with_mean(&chain("mu[z[n]]", " + ", terms)),
        );
        add(
            "long sum",
            format!("{terms} terms x"),
            gmm_with_mean(&chain("x", " + ", terms)),
        );
        add(
            "long sum",
            format!("{terms} differences"),
            gmm_with_mean(&chain("mu[z[n]]", " - ", terms)),
        );
        add(
            "long sum",
            format!("{terms} products"),
            gmm_with_mean(&chain("mu[z[n]]", " * ", terms)),
        );
        add(
            "long sum",
            format!("{terms} linear terms"),
            fa.replace("W * h[n] + mu", &chain("W * h[n]", " + ", terms)),
        );
        add(
            "long sum",
            format!("{terms} terms across lines"),
            gmm_with_mean(&format!("({})", chain("mu[z[n]]", "\n + ", terms))),
        );
    }
    let sizes = [
        "0",
        "1",
        "2147483647",
        "2147483648",
        "100000000000",
        "18446744073709551615",
        "18446744073709551616",
        "99999999999999999999999999999999999999",
        "1e9",
        "2.5",
        "-3",
    ];
    for size in sizes {
        add(
            "huge size",
            format!("const K = {size}"),
            GMM.replace("const K: int = 2", &format!("const K: int = {size}"))
                + "x[n] ~ MvNormal(mu[z[n]], Sigma[z[n]])\n",
        );
        add(
            "huge size",
            format!("vector[{size}]"),
            GMM.replace("vector[D]", &format!("vector[{size}]"))
                + "x[n] ~ MvNormal(mu[z[n]], Sigma[z[n]])\n",
        );
        add(
            "huge size",
            format!("0..{size}"),
            GMM.replace("0..K", &format!("0..{size}")) + "x[n] ~ MvNormal(mu[z[n]], Sigma[z[n]])\n",
        );
        add(
            "huge size",
            format!("const L = {size} (factor analysis)"),
            fa.replace("const L: int = 2", &format!("const L: int = {size}")),
        );
    }
    for lines in [1_000, 5_000] {
        let mut bad = String::from(GMM);
        for i in 0..lines {
            bad.push_str(&format!("x[n] ~ MvNormal(mu{i}[z[n]], Sigma[z[n]])\n"));
        }
        add("many lines", format!("{lines} unknown names"), bad);
        let mut dup = String::from(GMM);
        for _ in 0..lines {
            dup.push_str("param mu[K]: vector[D]\n");
        }
        add("many lines", format!("{lines} duplicate declarations"), dup);
        let mut decls = String::from(GMM);
        for i in 0..lines {
            decls.push_str(&format!("param p{i}[K{i}]: vector[D{i}]\n"));
        }
        add("many lines", format!("{lines} sets"), decls);
        let mut syntax = String::from("model m\n");
        for _ in 0..lines {
            syntax.push_str("param : :\n");
        }
        add("many lines", format!("{lines} syntax errors"), syntax);
        let mut noise = String::new();
        for _ in 0..lines {
            noise.push_str(&random_token(rng));
            noise.push(if rng.random_bool(0.2) { '\n' } else { ' ' });
        }
        add("many lines", format!("{lines} random tokens"), noise);
    }
    cases
}

fn excerpt(source: &str) -> String {
    let head: String = source.chars().take(300).collect();
    if head.len() < source.len() {
        format!("{head:?}… ({} bytes)", source.len())
    } else {
        format!("{head:?}")
    }
}

#[test]
fn the_front_end_answers_every_fuzzed_model_file() {
    let cases_wanted: usize = env_or("JENSEN_FUZZ_CASES", 2_000);
    let seed: u64 = env_or("JENSEN_FUZZ_SEED", 20_240_609);
    let budget = Budget {
        base: Duration::from_millis(env_or("JENSEN_FUZZ_BUDGET_MS", 2_000)),
        per_byte: Duration::from_nanos(1_000 * env_or("JENSEN_FUZZ_BUDGET_US_PER_BYTE", 25)),
    };
    let report = std::thread::Builder::new()
        .name("fuzz".into())
        .stack_size(STACK)
        .spawn(move || run(cases_wanted, seed, budget))
        .expect("spawn the fuzzing thread")
        .join()
        .expect("the fuzzing thread itself does not panic");
    assert!(report.is_empty(), "{report}");
}

/// Inputs nested exactly as deep as the limit allows, each with its one-level-deeper twin.
fn at_the_limit() -> Vec<(&'static str, String, String)> {
    let d = MAX_DEPTH;
    let fa = std::fs::read_to_string(Path::new(ROOT).join("models/fa_iris.em"))
        .expect("read models/fa_iris.em");
    // `MvNormal(` is one bracket and `mu[z[n]]` two; `mu[z[n]]` is three levels of tree.
    let mean = |m: String| gmm_with_mean(&m);
    let cov = |c: String| format!("{GMM}x[n] ~ MvNormal(mu[z[n]], {c})\n");
    vec![
        (
            "parentheses",
            mean(nested("(", "mu[z[n]]", ")", d - 3)),
            mean(nested("(", "mu[z[n]]", ")", d - 2)),
        ),
        (
            "indices",
            mean(format!("mu[{}]", nested("z[", "n", "]", d - 2))),
            mean(format!("mu[{}]", nested("z[", "n", "]", d - 1))),
        ),
        (
            "calls",
            cov(nested("diag(", "Sigma[z[n]]", ")", d - 3)),
            cov(nested("diag(", "Sigma[z[n]]", ")", d - 2)),
        ),
        (
            "negations",
            mean(nested("-(", "mu[z[n]]", ")", d - 3)),
            mean(nested("-(", "mu[z[n]]", ")", d - 2)),
        ),
        (
            "a sum",
            mean(chain("mu[z[n]]", " + ", d - 2)),
            mean(chain("mu[z[n]]", " + ", d - 1)),
        ),
        (
            "a product",
            mean(chain("mu[z[n]]", " * ", d - 2)),
            mean(chain("mu[z[n]]", " * ", d - 1)),
        ),
        (
            "a linear-Gaussian mean in parentheses",
            fa.replace("W * h[n] + mu", &nested("(", "W * h[n] + mu", ")", d - 2)),
            fa.replace("W * h[n] + mu", &nested("(", "W * h[n] + mu", ")", d - 1)),
        ),
    ]
}

/// The nesting limit leaves room: inputs at the limit go through the whole front end on half
/// the stack of a test thread (1 MiB) in a debug build, and one level more is `E-nesting`.
#[test]
fn nesting_at_the_limit_fits_in_half_a_test_stack() {
    std::thread::Builder::new()
        .name("at the limit".into())
        .stack_size(STACK / 2)
        .spawn(|| {
            for (what, at, over) in at_the_limit() {
                let nesting = |source: &str| match jensen::compile(source) {
                    Ok(_) => false,
                    Err(diags) => diags.iter().any(|d| d.code.as_str() == "E-nesting"),
                };
                assert!(!nesting(&at), "{what} at the limit is rejected as too deep");
                front_end(what, &at).unwrap_or_else(|e| panic!("{what} at the limit: {e}"));
                assert!(
                    nesting(&over),
                    "{what} one level over the limit is accepted"
                );
                front_end(what, &over).unwrap_or_else(|e| panic!("{what} over the limit: {e}"));
            }
        })
        .expect("spawn")
        .join()
        .expect("inputs at the nesting limit are answered");
}

/// The time an input may take: `base + per_byte × its length`.
#[derive(Clone, Copy)]
struct Budget {
    base: Duration,
    per_byte: Duration,
}

/// Runs every input; returns the failures, described (empty when there are none).
fn run(cases_wanted: usize, seed: u64, budget: Budget) -> String {
    let started = Instant::now();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let seeds = seeds();
    let mut cases = Vec::new();
    for (name, text) in &seeds {
        cases.push(Case {
            family: "seed file",
            name: name.clone(),
            source: text.clone(),
        });
    }
    cases.extend(generated(&mut rng));
    for i in 0..cases_wanted {
        let (name, text) = &seeds[i % seeds.len()];
        cases.push(Case {
            family: "mutation",
            name: format!("{name} #{i}"),
            source: mutate(text, &seeds, &mut rng),
        });
    }
    // Panics are caught and counted; their messages still go to stderr.
    let mut counts: BTreeMap<&str, [usize; 4]> = BTreeMap::new();
    let mut failures = Vec::new();
    let mut slowest = (Duration::ZERO, String::new());
    for case in &cases {
        let t = Instant::now();
        let result = catch_unwind(AssertUnwindSafe(|| front_end(&case.name, &case.source)));
        let took = t.elapsed();
        let outcome = match result {
            Ok(Ok(true)) => Outcome::Compiled,
            Ok(Ok(false)) => Outcome::Rejected,
            Ok(Err(why)) => Outcome::Failed(why),
            Err(panic) => Outcome::Failed(format!(
                "panicked: {}",
                panic
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| panic.downcast_ref::<&str>().copied())
                    .unwrap_or("(no message)")
            )),
        };
        let allowed = budget.base + budget.per_byte * case.source.len() as u32;
        let outcome = match outcome {
            _ if took > allowed => {
                Outcome::Failed(format!("took {took:.2?}, over its budget of {allowed:.2?}"))
            }
            o => o,
        };
        if took > slowest.0 {
            slowest = (took, format!("{} `{}`", case.family, case.name));
        }
        let c = counts.entry(case.family).or_default();
        c[0] += 1;
        match outcome {
            Outcome::Compiled => c[1] += 1,
            Outcome::Rejected => c[2] += 1,
            Outcome::Failed(why) => {
                c[3] += 1;
                failures.push(format!(
                    "{} `{}`: {why}\n  input: {}",
                    case.family,
                    case.name,
                    excerpt(&case.source)
                ));
            }
        }
    }
    eprintln!(
        "fuzz_models: seed {seed}, {} inputs in {:.1?} (slowest {:.0?}: {})",
        cases.len(),
        started.elapsed(),
        slowest.0,
        slowest.1
    );
    eprintln!(
        "  {:<14} {:>7} {:>9} {:>9} {:>9}",
        "family", "inputs", "compiled", "rejected", "failures"
    );
    for (family, [n, ok, rejected, failed]) in &counts {
        eprintln!("  {family:<14} {n:>7} {ok:>9} {rejected:>9} {failed:>9}");
    }
    if failures.is_empty() {
        String::new()
    } else {
        let shown: Vec<&String> = failures.iter().take(20).collect();
        format!(
            "{} of {} inputs failed (seed {seed}); the first {}:\n{}",
            failures.len(),
            cases.len(),
            shown.len(),
            shown
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join("\n")
        )
    }
}
