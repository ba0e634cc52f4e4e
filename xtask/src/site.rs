//! Lays out the site directory the server serves:
//!
//! ```text
//! <site>/hash.txt                      <hash> of the bundle, read by the server
//! <site>/pkg/runboard.<hash>.{js,wasm,css}   (+ .br and .gz copies)
//! <site>/pkg/snippets/…                JS snippets wasm-bindgen emits, if any
//! <site>/<public files>
//! ```
//!
//! Hashed names let the server mark the bundle `immutable`: a new build is a new
//! URL, so a browser never mixes an old bundle with a new page.

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// The bundle's base name; the server's `LeptosOptions::output_name` and the
/// `LEPTOS_OUTPUT_NAME` in `.cargo/config.toml` say the same.
const OUTPUT_NAME: &str = "runboard";
const WASM_TARGET: &str = "wasm32-unknown-unknown";
const HYDRATE_PACKAGE: &str = "frontend";

pub fn build(workspace: &Path, site: &Path, release: bool) -> Result<()> {
    let started = Instant::now();
    let wasm = build_hydrate_crate(workspace, release)?;
    let scratch = wasm
        .parent()
        .context("the wasm file has no directory")?
        .join("runboard-bindgen");
    bindgen(&wasm, &scratch, release)?;
    let bundle_wasm = scratch.join(format!("{OUTPUT_NAME}_bg.wasm"));
    if release {
        wasm_opt(workspace, &bundle_wasm)?;
    }

    let pkg = site.join("pkg");
    if pkg.exists() {
        fs::remove_dir_all(&pkg).with_context(|| format!("could not empty {}", pkg.display()))?;
    }
    fs::create_dir_all(&pkg)?;
    let level = if release {
        Compression::Best
    } else {
        Compression::Fast
    };
    // One hash for the three files: the page names them all through one output name.
    let files = [
        (scratch.join(format!("{OUTPUT_NAME}.js")), "js"),
        (bundle_wasm, "wasm"),
        (workspace.join("style/main.css"), "css"),
    ];
    let contents = files
        .iter()
        .map(|(path, _)| {
            fs::read(path).with_context(|| format!("could not read {}", path.display()))
        })
        .collect::<Result<Vec<_>>>()?;
    let hash = content_hash(&contents);
    for ((_, extension), bytes) in files.iter().zip(&contents) {
        let target = pkg.join(format!("{OUTPUT_NAME}.{hash}.{extension}"));
        fs::write(&target, bytes)?;
        write_compressed_copies(&target, bytes, level)?;
    }
    let snippets = scratch.join("snippets");
    if snippets.exists() {
        copy_tree(&snippets, &pkg.join("snippets"))?;
    }
    copy_tree(&workspace.join("public"), site)?;
    fs::write(site.join("hash.txt"), format!("{hash}\n"))?;
    eprintln!(
        "xtask: site built in {} in {:.1} s",
        site.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// A `cargo` command run from the workspace. `cargo` from PATH, not `$CARGO`: the
/// set-up script may put a wrapper first on PATH that adds `-Zbuild-std` to wasm
/// builds (when the wasm32 std comes from source rather than from rustup).
pub fn cargo(workspace: &Path) -> Command {
    let mut command = Command::new("cargo");
    command.current_dir(workspace);
    command
}

/// Runs a cargo build and returns the files it produced for `package`'s target of
/// `kind` ("bin", "cdylib" …), read from cargo's JSON messages.
pub fn artifacts(mut cargo: Command, package: &str, kind: &str) -> Result<Vec<PathBuf>> {
    cargo
        .args(["--message-format=json-render-diagnostics"])
        .stdout(Stdio::piped());
    let mut child = cargo.spawn().context("could not run cargo")?;
    let stdout = child.stdout.take().context("cargo has no stdout")?;
    let mut files = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line?;
        let Ok(message) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        let is_wanted = message["reason"] == "compiler-artifact"
            && message["target"]["name"] == package
            && message["target"]["kind"]
                .as_array()
                .is_some_and(|kinds| kinds.iter().any(|k| k == kind));
        if is_wanted {
            if let Some(paths) = message["filenames"].as_array() {
                files.extend(paths.iter().filter_map(|p| p.as_str()).map(PathBuf::from));
            }
        }
    }
    let status = child.wait()?;
    if !status.success() {
        bail!("cargo failed ({status})");
    }
    Ok(files)
}

/// Builds the hydrate crate for wasm32 and returns its `.wasm`.
fn build_hydrate_crate(workspace: &Path, release: bool) -> Result<PathBuf> {
    let mut cargo = cargo(workspace);
    cargo.args([
        "build",
        "--package",
        HYDRATE_PACKAGE,
        "--lib",
        "--target",
        WASM_TARGET,
    ]);
    if release {
        // Size-tuned profile of its own, so the server's release build stays fast.
        cargo.args(["--profile", "wasm-release"]);
    }
    artifacts(cargo, HYDRATE_PACKAGE, "cdylib")?
        .into_iter()
        .find(|path| path.extension().is_some_and(|ext| ext == "wasm"))
        .context("cargo built no .wasm for the hydrate crate")
}

/// Generates the JS glue and the processed wasm (`runboard.js`, `runboard_bg.wasm`).
fn bindgen(wasm: &Path, out: &Path, release: bool) -> Result<()> {
    let started = Instant::now();
    if out.exists() {
        fs::remove_dir_all(out)?;
    }
    wasm_bindgen_cli_support::Bindgen::new()
        .input_path(wasm)
        .out_name(OUTPUT_NAME)
        .web(true)?
        .debug(!release)
        .keep_debug(!release)
        .generate(out)
        .context("wasm-bindgen failed")?;
    eprintln!(
        "xtask: wasm-bindgen in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Shrinks the release bundle with binaryen's `wasm-opt` from the project's npm
/// packages (an older wasm-opt, such as Debian bookworm's, breaks the bundle).
fn wasm_opt(workspace: &Path, wasm: &Path) -> Result<()> {
    let started = Instant::now();
    let local = workspace.join("end2end/node_modules/.bin/wasm-opt");
    let program = if local.exists() {
        local
    } else {
        PathBuf::from("wasm-opt")
    };
    let status = Command::new(&program)
        .args([
            "-Oz",
            "--enable-bulk-memory",
            "--enable-nontrapping-float-to-int",
        ])
        .arg(wasm)
        .arg("-o")
        .arg(wasm)
        .status()
        .with_context(|| {
            format!(
                "could not run {} (run `npm ci` in end2end/ for binaryen's wasm-opt)",
                program.display()
            )
        })?;
    if !status.success() {
        bail!("wasm-opt failed ({status})");
    }
    eprintln!(
        "xtask: wasm-opt in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

#[derive(Clone, Copy)]
enum Compression {
    /// Release: the smallest files; built once, downloaded by every browser.
    Best,
    /// Debug: quick to write (debug bundles are tens of megabytes).
    Fast,
}

/// The first 16 hex digits of a SHA-256 over the files' contents.
fn content_hash(contents: &[Vec<u8>]) -> String {
    let mut hasher = Sha256::new();
    for bytes in contents {
        // Each file's length first, so moving bytes between files changes the hash.
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(bytes);
    }
    hasher.finalize()[..8]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

fn write_compressed_copies(path: &Path, bytes: &[u8], level: Compression) -> Result<()> {
    let (brotli_quality, gzip_level) = match level {
        Compression::Best => (11, flate2::Compression::best()),
        Compression::Fast => (4, flate2::Compression::fast()),
    };
    let mut brotli_path = path.as_os_str().to_owned();
    brotli_path.push(".br");
    let mut encoder = brotli::CompressorWriter::new(
        fs::File::create(&brotli_path)?,
        64 * 1024,
        brotli_quality,
        22,
    );
    encoder.write_all(bytes)?;
    encoder.flush()?;
    drop(encoder);

    let mut gzip_path = path.as_os_str().to_owned();
    gzip_path.push(".gz");
    let mut encoder = flate2::write::GzEncoder::new(fs::File::create(&gzip_path)?, gzip_level);
    encoder.write_all(bytes)?;
    encoder.finish()?;
    Ok(())
}

fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else {
            fs::copy(entry.path(), &target)
                .with_context(|| format!("could not copy {}", entry.path().display()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_changes_with_the_content_and_only_with_it() {
        let bundle = |js: &str, css: &str| content_hash(&[js.into(), css.into()]);
        assert_eq!(bundle("js", "css"), bundle("js", "css"));
        assert_ne!(bundle("js", "css"), bundle("js", "css!"));
        assert_ne!(bundle("jsc", "ss"), bundle("js", "css"));
        assert_eq!(bundle("js", "css").len(), 16);
    }

    #[test]
    fn compressed_copies_decode_to_the_original() -> Result<()> {
        let dir = std::env::temp_dir().join(format!("xtask-test-{}", std::process::id()));
        fs::create_dir_all(&dir)?;
        let original = b"fn main() {} ".repeat(1000);
        let file = dir.join("bundle.js");
        write_compressed_copies(&file, &original, Compression::Fast)?;
        let mut brotli_out = Vec::new();
        brotli::BrotliDecompress(
            &mut fs::File::open(dir.join("bundle.js.br"))?,
            &mut brotli_out,
        )?;
        assert_eq!(brotli_out, original);
        let mut gzip_out = Vec::new();
        std::io::Read::read_to_end(
            &mut flate2::read::GzDecoder::new(fs::File::open(dir.join("bundle.js.gz"))?),
            &mut gzip_out,
        )?;
        assert_eq!(gzip_out, original);
        fs::remove_dir_all(&dir)?;
        Ok(())
    }
}
