//! Workload files on disk: the good fixtures route, the bad ones fail with one line that
//! names the file and the key.

use std::path::PathBuf;

use fastpath_route::{
    GateOutcome, MachineProfile, Node, PriceTable, RooflineRates, Workload, route,
};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

fn error_of(name: &str) -> String {
    let path = fixture(name);
    let err = Workload::from_path(&path).unwrap_err().to_string();
    assert!(!err.contains('\n'), "one line: {err}");
    let prefix = format!("{}: ", path.display());
    assert!(err.starts_with(&prefix), "names the file: {err}");
    err[prefix.len()..].to_string()
}

#[test]
fn good_fixtures_route_where_the_seed_says() {
    let m5 = MachineProfile::named("m5").unwrap();
    for (name, path) in [
        ("vector_search.toml", vec![Node::S0, Node::S7, Node::T9]),
        ("pbkdf2.toml", vec![Node::S0, Node::S1, Node::S5, Node::T6]),
        ("train7b.json", vec![Node::S0, Node::S2, Node::T3]),
        ("matmul_50k.toml", vec![Node::S0, Node::S3, Node::T1]),
        ("tiny_sigmoid.toml", vec![Node::S0, Node::T0]),
        ("battery_fft.toml", vec![Node::S0, Node::T1]),
    ] {
        let w = Workload::from_path(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        let d = route(&w, &m5, &RooflineRates, &PriceTable::seed(), &GateOutcome::pass("test"))
            .unwrap();
        assert_eq!(d.path, path, "{name}");
    }
}

#[test]
fn bad_fixtures_fail_with_the_key_named() {
    assert!(
        error_of("bad_unknown_key.toml")
            .starts_with("data_size: unknown key; did you mean 'data_size_gb'?")
    );
    assert_eq!(error_of("bad_negative_size.toml"), "data_size_gb: must be a number >= 0, got -4");
    assert_eq!(error_of("bad_zero_rate.json"), "local_rate: must be a number > 0, got 0");
    assert_eq!(error_of("bad_type.toml"), "requires_cuda: expected true or false, got \"yes\"");
    assert!(
        error_of("bad_syntax.toml").starts_with("TOML: line 3"),
        "{}",
        error_of("bad_syntax.toml")
    );
    assert!(
        error_of("bad_unknown_op.toml")
            .starts_with("operations[0].op: unknown operation 'sotr' (did you mean 'sort'?)")
    );
    assert_eq!(
        error_of("bad_shape.toml"),
        "operations[0].shape[1]: must be a whole number >= 1, got 0"
    );
    assert_eq!(
        error_of("bad_param.toml"),
        "operations[0].k: top_k needs this parameter (a whole number >= 1)"
    );
}

#[test]
fn missing_files_say_so() {
    let err = Workload::from_path(&fixture("no_such_file.toml")).unwrap_err().to_string();
    assert!(err.contains("no_such_file.toml: cannot read workload file"), "{err}");
}
