//! The build program's command line, as `scripts/dev` calls it. Also makes `cargo
//! test` build the `xtask` binary with the workspace's features, so the test
//! command runs it without compiling it a second time.

use std::process::Command;

#[test]
fn the_build_program_offers_site_build_and_serve() {
    let output = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("--help")
        .output()
        .expect("xtask runs");
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for task in ["site", "build", "serve"] {
        assert!(help.contains(task), "`{task}` is missing from:\n{help}");
    }
}

#[test]
fn an_unknown_task_is_refused() {
    let output = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("deploy")
        .output()
        .expect("xtask runs");
    assert!(!output.status.success());
}
