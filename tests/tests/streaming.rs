//! Fits of data read chunk by chunk (`jensen::stream`, `jensen fit --stream`) against the same
//! fits in memory: the same trajectory, parameters, log-likelihood, BIC and inertia to
//! round-off, for every mixture of the catalogue, for chunks of a few rows and of many, on a
//! file large enough for the seeding to run on a sample, and with errors that name the row
//! of the whole file. (`crates/jensen-cli/tests/cli.rs` runs `jensen fit --stream`.)

use std::path::PathBuf;

use jensen::runtime::{fit_chunked, FitOptions, FitResult};
use jensen::stream::{CsvChunks, StreamOptions};
use jensen::{BindOptions, DynParams, PlanModel};
use jensen_tests::{bind, plan, root, CATALOGUE};

fn options(consts: &[(&str, usize)]) -> BindOptions {
    BindOptions {
        consts: consts.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        ..Default::default()
    }
}

/// Chunks of `chunk_rows` rows, read back from their binary copy or (`parse`) parsed again.
fn stream(chunk_rows: usize, parse: bool) -> StreamOptions {
    StreamOptions {
        chunk_rows,
        cache_dir: (!parse).then(std::env::temp_dir),
        ..Default::default()
    }
}

/// `streamed` is `memory` to round-off: the trace and the log-likelihoods within `tol`, the
/// parameters within `10 tol` (relative), the same re-seeds.
fn same_fit(what: &str, memory: &FitResult<DynParams>, streamed: &FitResult<DynParams>, tol: f64) {
    let rel = |a: f64, b: f64| (a - b).abs() / a.abs().max(1.0);
    let worst_trace = (memory.elbo_trace.iter().zip(&streamed.elbo_trace))
        .map(|(a, b)| rel(*a, *b))
        .fold(0.0, f64::max);
    let worst_param = (memory.params.iter())
        .flat_map(|(name, v)| {
            let other = streamed.params.get(name).expect("the same parameters");
            v.iter()
                .zip(other.iter())
                .map(|(a, b)| rel(*a, *b))
                .collect::<Vec<_>>()
        })
        .fold(0.0, f64::max);
    eprintln!("{what}: largest relative difference: objective {worst_trace:.1e}, parameters {worst_param:.1e}");
    let close = |a: f64, b: f64, tol: f64| (a - b).abs() <= tol * a.abs().max(1.0);
    assert_eq!(
        memory.elbo_trace.len(),
        streamed.elbo_trace.len(),
        "{what}: iterations differ"
    );
    for (i, (a, b)) in memory
        .elbo_trace
        .iter()
        .zip(&streamed.elbo_trace)
        .enumerate()
    {
        assert!(close(*a, *b, tol), "{what}: iteration {i}: {a} vs {b}");
    }
    for (name, value) in memory.params.iter() {
        let other = streamed.params.get(name).expect("the same parameters");
        for (a, b) in value.iter().zip(other.iter()) {
            assert!(close(*a, *b, 10.0 * tol), "{what}: `{name}`: {a} vs {b}");
        }
    }
    assert!(
        close(memory.log_likelihood, streamed.log_likelihood, tol),
        "{what}: log-likelihood"
    );
    assert!(close(memory.bic, streamed.bic, tol), "{what}: BIC");
    for (a, b) in [
        (
            memory.complete_log_likelihood,
            streamed.complete_log_likelihood,
        ),
        (memory.inertia, streamed.inertia),
    ] {
        match (a, b) {
            (Some(a), Some(b)) => assert!(close(a, b, tol), "{what}: {a} vs {b}"),
            (None, None) => {}
            _ => panic!("{what}: {a:?} vs {b:?}"),
        }
    }
    let rows = |r: &FitResult<DynParams>| {
        r.reseeds
            .iter()
            .map(|e| (e.iteration, e.component, e.row))
            .collect::<Vec<_>>()
    };
    assert_eq!(rows(memory), rows(streamed), "{what}: re-seeds");
    // No per-row values are held.
    assert_eq!(streamed.responsibilities.nrows(), 0);
    assert!(streamed.assignments.is_empty());
}

#[test]
fn every_mixture_of_the_catalogue_streams_to_its_in_memory_fit() {
    let mut fitted = 0;
    for &(name, file, consts) in CATALOGUE {
        let plan = plan(name);
        let bound = bind(&plan, file, consts);
        // Chains are streamed by sequence below; partial labels are fitted in memory only.
        if plan.latent.is_chain() || bound.labels.is_some() {
            continue;
        }
        let opts = FitOptions::default()
            .iterations(12)
            .build()
            .expect("options");
        let model = PlanModel::new(&plan, &bound);
        let memory = jensen::fit(&model, &opts).unwrap_or_else(|e| panic!("{name}: {e}"));
        let path = root().join("data").join(file);
        // A few rows per chunk (many chunks, none a multiple of the task size), and every
        // row in one chunk.
        for chunk_rows in [97, 4096] {
            let source = CsvChunks::open(
                &plan,
                path.to_str().expect("utf-8"),
                options(consts),
                &stream(chunk_rows, chunk_rows == 97),
            )
            .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(source.rows(), bound.n_rows);
            // The binary copy, unless asked to parse or the data have missing cells.
            let gaps = bound.items.iter().flatten().any(|i| !i.gaps.is_empty());
            assert_eq!(source.cached(), chunk_rows != 97 && !gaps, "{name}");
            assert_eq!(source.chunks(), bound.n_rows.div_ceil(chunk_rows));
            let streamed = fit_chunked(&source, &opts).unwrap_or_else(|e| panic!("{name}: {e}"));
            // Chunks of whole tasks add the statistics in the in-memory order: the same bits
            // but for the whole-data moments, merged from the chunks'. Other chunks regroup
            // the sums: round-off, which EM's early iterations amplify on the 64-dimensional
            // binary digits (to 6e-10 in 12 iterations; 1e-15 on the others).
            let tol = if chunk_rows % 4096 == 0 { 1e-13 } else { 1e-8 };
            same_fit(
                &format!("{name}, chunks of {chunk_rows}"),
                &memory,
                &streamed,
                tol,
            );
        }
        fitted += 1;
    }
    assert!(fitted >= 56, "{fitted} mixtures compared");
}

/// A CSV file of `n` rows of two well-separated Gaussian clusters in 3 columns (a fixed
/// generator), with a weight column.
fn clusters_file(n: usize) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("jensen-stream-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(format!("clusters_{n}.csv"));
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut uniform = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut text = String::from("a,b,c,w\n");
    for i in 0..n {
        let centre = [0.0, 6.0, -4.0][i % 3];
        let mut normal = || {
            // Box–Muller.
            let (u, v) = (uniform().max(1e-300), uniform());
            (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
        };
        let (a, b, c) = (centre + normal(), centre * 0.5 + normal(), normal() * 2.0);
        text.push_str(&format!("{a:.6},{b:.6},{c:.6},{}\n", 1 + i % 3));
    }
    std::fs::write(&path, text).expect("write the file");
    path
}

/// Above the seeding's sample size the in-memory fit seeds on a sample and every row takes
/// its nearest centre; the streamed fit gathers the same sample in a pass and assigns the
/// rows chunk by chunk: the same fit, with and without row weights.
#[test]
fn a_file_above_the_seeding_sample_streams_to_the_in_memory_fit() {
    let n = 120_000;
    let path = clusters_file(n);
    let path = path.to_str().expect("utf-8");
    let plan = plan("gmm");
    let table = jensen::csv::read(path).expect("csv");
    for weights in [None, Some("w".to_string())] {
        let opts_bind = BindOptions {
            consts: [("K".to_string(), 3)].into(),
            weights: weights.clone(),
            exclude: vec!["w".into()],
            ..Default::default()
        };
        let bound = jensen::bind(&plan, &table, &opts_bind).expect("bind");
        let model = PlanModel::new(&plan, &bound);
        let opts = FitOptions::default()
            .iterations(4)
            .seed(3)
            .build()
            .expect("options");
        let memory = jensen::fit(&model, &opts).expect("in memory");
        let source = CsvChunks::open(&plan, path, opts_bind, &stream(3 * 4096, weights.is_some()))
            .expect("open");
        assert_eq!(source.chunks(), n.div_ceil(3 * 4096));
        let streamed = fit_chunked(&source, &opts).expect("streamed");
        same_fit(
            &format!("{n} rows, weights {weights:?}"),
            &memory,
            &streamed,
            1e-13,
        );
    }
}

/// A bad cell in a later chunk is reported with its row and line in the whole file, before
/// the fit starts; a chain of one sequence is refused with the reason.
#[test]
fn errors_name_the_row_of_the_whole_file() {
    let dir = std::env::temp_dir().join(format!("jensen-stream-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("bad.csv");
    let mut text = String::from("eruptions,waiting\n");
    for i in 0..1000 {
        if i == 777 {
            text.push_str("3.1,oops\n");
        } else {
            text.push_str(&format!("{}.5,{}\n", 2 + i % 3, 50 + i % 40));
        }
    }
    std::fs::write(&path, text).expect("write");
    let plan = plan("gmm");
    let err = CsvChunks::open(
        &plan,
        path.to_str().unwrap(),
        options(&[]),
        &stream(100, false),
    )
    .expect_err("a bad cell");
    let message = err.to_string();
    assert!(
        message.contains("row 778 (line 779)") && message.contains("`oops`"),
        "{message}"
    );
    let chain = jensen_tests::plan("hmm_gaussian");
    let geyser = root().join("data/geyser.csv");
    let err = CsvChunks::open(
        &chain,
        geyser.to_str().unwrap(),
        options(&[]),
        &stream(100, false),
    )
    .expect_err("a chain of one sequence");
    assert!(
        err.to_string()
            .contains("name the column of sequence ids (`--sequence COLUMN`)"),
        "{err}"
    );
}

/// The rows of `file` (in `data/`) with a first column `seq` of sequence ids: consecutive
/// runs of the lengths `lengths` (repeated as needed), the ids text (`s0`, `s1`, …) or
/// numbers.
fn with_sequences(file: &str, lengths: &[usize], text: bool) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("jensen-stream-seq-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(format!("{text}_{file}"));
    let data = std::fs::read_to_string(root().join("data").join(file)).expect("read");
    let mut lines = data.lines();
    let mut out = format!("seq,{}\n", lines.next().expect("a header"));
    let (mut id, mut left) = (0, lengths[0]);
    for line in lines {
        if left == 0 {
            id += 1;
            left = lengths[id % lengths.len()];
        }
        left -= 1;
        let id = if text {
            format!("s{id}")
        } else {
            id.to_string()
        };
        out.push_str(&format!("{id},{line}\n"));
    }
    std::fs::write(&path, out).expect("write");
    path
}

/// A chain read in chunks, each cut where the sequence id changes so that it holds whole
/// sequences, is the in-memory fit of the same sequences: every chain of the catalogue,
/// soft and hard, its ids text or numbers, in chunks of a few rows (parsed again on each
/// pass, sequences cut by chunk boundaries) and of all of them (from the binary copy).
#[test]
fn every_chain_of_the_catalogue_streams_to_its_in_memory_fit() {
    use jensen::runtime::EStepMode;
    let mut fitted = 0;
    for &(name, file, consts) in CATALOGUE {
        let plan = plan(name);
        if !plan.latent.is_chain() {
            continue;
        }
        let text = fitted % 2 == 0;
        let path = with_sequences(file, &[23, 1, 61, 7, 40], text);
        let path = path.to_str().expect("utf-8");
        let bind_options = BindOptions {
            sequences: jensen::bind::Sequences::Column("seq".into()),
            ..options(consts)
        };
        let table = jensen::csv::read(path).expect("csv");
        let bound = jensen::bind(&plan, &table, &bind_options).expect("bind");
        assert!(bound.sequences.len() > 3, "{name}");
        let model = PlanModel::new(&plan, &bound);
        for mode in [EStepMode::Soft, EStepMode::Hard] {
            if mode == EStepMode::Hard && plan.model.method != jensen::lang::ir::Method::Em {
                continue;
            }
            let opts = FitOptions::default()
                .iterations(12)
                .e_step(mode)
                .build()
                .expect("options");
            let memory = jensen::fit(&model, &opts).unwrap_or_else(|e| panic!("{name}: {e}"));
            for chunk_rows in [97, 4096] {
                let source = CsvChunks::open(
                    &plan,
                    path,
                    bind_options.clone(),
                    &stream(chunk_rows, chunk_rows == 97),
                )
                .unwrap_or_else(|e| panic!("{name}: {e}"));
                assert_eq!(source.rows(), bound.n_rows);
                assert_eq!(source.context().sequences(), bound.sequences.len());
                assert_eq!(source.context().sequence_check(), bound.sequence_check());
                // The last sequence read waits for the next chunk: two at least.
                assert!(source.chunks() >= 2, "{name}");
                let streamed =
                    fit_chunked(&source, &opts).unwrap_or_else(|e| panic!("{name}: {e}"));
                same_fit(
                    &format!("{name} ({mode:?}), chunks of {chunk_rows}"),
                    &memory,
                    &streamed,
                    1e-10,
                );
            }
        }
        fitted += 1;
    }
    assert!(fitted >= 11, "{fitted} chains compared");
}

/// A sequence whose rows are interrupted by another's is an error naming the row, whether
/// its two parts fall in one chunk or in two; a sequence split at a chunk boundary is not.
#[test]
fn a_chains_interrupted_sequence_is_reported_across_chunks() {
    let plan = plan("hmm_gaussian");
    let dir = std::env::temp_dir().join(format!("jensen-stream-cut-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let options = BindOptions {
        sequences: jensen::bind::Sequences::Column("seq".into()),
        ..Default::default()
    };
    // `a` for rows 0..150, `b` for 150..250, `a` again from row 250: the two parts of `a`
    // in different chunks of 64 rows. Then `x` ×10, `z` ×60, `a` ×5, `b` ×5, `a` again
    // (row 81): the interruption within the second chunk of 64, which starts at row 70.
    let cases: [(&[(&str, usize)], &str); 2] = [
        (
            &[("a", 150), ("b", 100), ("a", 50)],
            "row 251: sequence `a` continues here but was interrupted after row 150",
        ),
        (
            &[
                ("x", 10),
                ("z", 60),
                ("a", 5),
                ("b", 5),
                ("a", 5),
                ("c", 100),
            ],
            "row 81: sequence `a` continues here but was interrupted after row 75",
        ),
    ];
    for (i, (runs, expected)) in cases.into_iter().enumerate() {
        let path = dir.join(format!("interrupted-{i}.csv"));
        let mut text = String::from("seq,waiting,duration\n");
        let mut row = 0;
        for &(id, n) in runs {
            for _ in 0..n {
                let (w, d) = (50 + row % 40, 2.0 + (row % 7) as f64 * 0.4);
                text.push_str(&format!("{id},{w},{d}\n"));
                row += 1;
            }
        }
        std::fs::write(&path, text).expect("write");
        let table = jensen::csv::read(path.to_str().unwrap()).expect("csv");
        let whole = jensen::bind(&plan, &table, &options).expect_err("in memory");
        assert!(whole.to_string().contains(expected), "{whole}");
        for chunk_rows in [64, 1000] {
            let err = CsvChunks::open(
                &plan,
                path.to_str().unwrap(),
                options.clone(),
                &stream(chunk_rows, true),
            )
            .expect_err("interrupted");
            assert!(
                err.to_string().contains(expected),
                "case {i}, chunks of {chunk_rows}: {err}"
            );
        }
    }
}

/// A chunk whose rows all weigh zero is no error (the file's total is checked): the fit is
/// the in-memory one; a file whose weights are all zero is refused.
#[test]
fn chunks_of_zero_weight_are_fitted_and_a_file_of_them_refused() {
    let dir = std::env::temp_dir().join(format!("jensen-stream-zero-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let faithful = jensen::csv::read(root().join("data/faithful.csv").to_str().unwrap()).unwrap();
    let (x, y) = (
        faithful.columns[0].as_ref().unwrap(),
        faithful.columns[1].as_ref().unwrap(),
    );
    let write = |name: &str, weight: &dyn Fn(usize) -> u32| {
        let mut text = String::from("eruptions,waiting,w\n");
        for i in 0..x.len() {
            text.push_str(&format!("{},{},{}\n", x[i], y[i], weight(i)));
        }
        let path = dir.join(name);
        std::fs::write(&path, text).expect("write");
        path
    };
    let plan = plan("gmm");
    let opts_bind = BindOptions {
        weights: Some("w".into()),
        ..Default::default()
    };
    let path = write("some_zero.csv", &|i| {
        u32::from(i >= 120) * (1 + i as u32 % 2)
    });
    let table = jensen::csv::read(path.to_str().unwrap()).unwrap();
    let bound = jensen::bind(&plan, &table, &opts_bind).expect("bind");
    let opts = FitOptions::default().iterations(10).build().unwrap();
    let memory = jensen::fit(&PlanModel::new(&plan, &bound), &opts).expect("in memory");
    for parse in [false, true] {
        let source = CsvChunks::open(
            &plan,
            path.to_str().unwrap(),
            opts_bind.clone(),
            &stream(50, parse),
        )
        .expect("chunks of zero weight are no error");
        let streamed = fit_chunked(&source, &opts).expect("streamed");
        same_fit("zero-weight chunks", &memory, &streamed, 1e-10);
    }
    let path = write("all_zero.csv", &|_| 0);
    let err = CsvChunks::open(&plan, path.to_str().unwrap(), opts_bind, &stream(50, false))
        .expect_err("all weights zero");
    assert!(
        err.to_string().contains("every weight in `w` is 0"),
        "{err}"
    );
}

/// A column's type is the file's, not a chunk's: a text column whose cells are all empty in
/// some chunk stays text there (not a column of gaps bound as data), and a column with text
/// in one chunk and numbers in another is the error reading the file whole gives.
#[test]
fn column_types_are_decided_over_the_whole_file() {
    let dir = std::env::temp_dir().join(format!("jensen-stream-kinds-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let write = |name: &str, note: &dyn Fn(usize) -> String| {
        let mut text = String::from("eruptions,note,waiting\n");
        for i in 0..600 {
            text.push_str(&format!(
                "{}.{},{},{}\n",
                2 + i % 3,
                i % 10,
                note(i),
                50 + (i * 7) % 40
            ));
        }
        let path = dir.join(name);
        std::fs::write(&path, text).expect("write");
        path
    };
    let plan = plan("gmm");
    // Text in the first 100 rows only: the later chunks hold empty cells.
    let path = write("sparse_note.csv", &|i| {
        if i < 100 {
            format!("n{i}")
        } else {
            String::new()
        }
    });
    let table = jensen::csv::read(path.to_str().unwrap()).unwrap();
    let bound = jensen::bind(&plan, &table, &BindOptions::default()).expect("bind");
    assert_eq!(
        bound.items.iter().flatten().next().unwrap().values.ncols(),
        2
    );
    let opts = FitOptions::default().iterations(8).build().unwrap();
    let memory = jensen::fit(&PlanModel::new(&plan, &bound), &opts).expect("in memory");
    for parse in [false, true] {
        let source = CsvChunks::open(
            &plan,
            path.to_str().unwrap(),
            BindOptions::default(),
            &stream(150, parse),
        )
        .expect("open");
        let streamed = fit_chunked(&source, &opts).expect("streamed");
        same_fit("a sparse text column", &memory, &streamed, 1e-10);
    }
    // Text early, numbers later.
    let path = write("mixed.csv", &|i| {
        if i < 100 {
            "x".into()
        } else {
            i.to_string()
        }
    });
    let whole = jensen::csv::read(path.to_str().unwrap()).expect_err("mixed");
    let err = CsvChunks::open(
        &plan,
        path.to_str().unwrap(),
        BindOptions::default(),
        &stream(150, false),
    )
    .expect_err("mixed");
    assert_eq!(err.to_string(), whole.to_string());
}
