//! Project commands, run as `cargo xtask <command>` from anywhere in the workspace.
//!
//! - `demo`: the README's main job. Installs missing system packages, builds the release bundles,
//!   installs them into `~/.clap` and `~/.vst3`, then runs the built-in demo through the installed
//!   CLAP plugin and prints what it measured, and finally `parity demo` (the offline tool masters
//!   a synthesized song to −14 LUFS: before/after WAVs, report and plots in `target/parity-demo/`).
//! - `test`: the README's test command. Installs what the tests need (system packages, a Python
//!   venv with pedalboard), checks rustfmt and clippy (`-D warnings`), builds the alloc-guard test
//!   bundle, the standalone and the `parity` CLI, runs `cargo test --workspace` and the Python host and editor
//!   tests, and prints the total count.
//! - `deps`: only the system packages.
//! - `install`: release bundles into `~/.clap` and `~/.vst3`.
//! - `bundle-guard`: the test bundle (debug assertions + nice-plug's `assert_process_allocs`) into
//!   `target/guard/bundled/`.
//! - `bundle …`: nice-plug-xtask's own bundler (`cargo xtask bundle parity --release`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};

/// Debian/Ubuntu packages needed to build the plugin (X11/GL for the egui editor, ALSA/JACK for
/// the standalone).
const BUILD_PACKAGES: &[&str] = &[
    "pkg-config",
    "libx11-dev",
    "libx11-xcb-dev",
    "libxcb1-dev",
    "libxcb-icccm4-dev",
    "libxcb-dri2-0-dev",
    "libxcursor-dev",
    "libxrandr-dev",
    "libgl1-mesa-dev",
    "libasound2-dev",
    "libjack-jackd2-dev",
];

/// Extra packages for the tests: a virtual X server with software GL for the editor, tools to
/// drive and photograph windows, Python's venv module for pedalboard, and ffmpeg to encode the
/// MP3, AAC and Ogg Vorbis reference fixtures.
const TEST_PACKAGES: &[&str] = &[
    "ffmpeg",
    "xvfb",
    "xsettingsd",
    "openbox",
    "xdotool",
    "imagemagick",
    "x11-utils",
    "libgl1-mesa-dri",
    "python3-venv",
];

/// Python packages of the VST3 host and editor tests, pinned.
const PYTHON_PACKAGES: &[&str] = &[
    "pedalboard==0.9.26",
    "numpy>=1.26,<3",
    "pytest>=8,<9",
    "pillow>=10,<13",
    "pyloudnorm==0.2.0",
    "scipy>=1.11,<2",
];

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    nice_plug_xtask::chdir_workspace_root()?;
    let command = args.first().map(String::as_str).unwrap_or("help");
    match command {
        "deps" => install_system_packages(&[BUILD_PACKAGES, TEST_PACKAGES].concat()),
        "install" => {
            install_system_packages(BUILD_PACKAGES)?;
            install_release_bundles().map(|_| ())
        }
        "demo" => {
            install_system_packages(BUILD_PACKAGES)?;
            let clap = install_release_bundles()?;
            run_demo(&clap)
        }
        "bundle-guard" => bundle_guard().map(|_| ()),
        "test" => run_all_tests(),
        "bundle" | "bundle-universal" => nice_plug_xtask::main_with_args("cargo xtask", args),
        _ => {
            eprintln!(
                "usage: cargo xtask <demo | test | deps | install | bundle-guard | bundle <package> [--release]>"
            );
            Ok(())
        }
    }
}

/// Installs the missing packages with apt-get when running as root; otherwise prints the exact
/// command and stops.
fn install_system_packages(packages: &[&str]) -> Result<()> {
    if !Path::new("/usr/bin/dpkg-query").exists() {
        eprintln!("xtask: not a Debian/Ubuntu system; make sure these are installed: {}", packages.join(" "));
        return Ok(());
    }
    let missing: Vec<&str> = packages.iter().copied().filter(|package| !is_installed(package)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    let command = format!("apt-get install -y {}", missing.join(" "));
    if !is_root() {
        bail!("missing system packages; please run:\n  sudo apt-get update && sudo {command}\nthen run this command again");
    }
    eprintln!("xtask: installing {}", missing.join(" "));
    run(Command::new("apt-get").args(["update", "-qq"]))?;
    run(Command::new("apt-get")
        .args(["install", "-y", "-qq", "--no-install-recommends"])
        .args(&missing)
        .env("DEBIAN_FRONTEND", "noninteractive"))
}

fn is_installed(package: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).contains("install ok installed"))
        .unwrap_or(false)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Runs a command with inherited stdio and fails on a non-zero exit.
fn run(command: &mut Command) -> Result<()> {
    let status = command.status().with_context(|| format!("could not start {command:?}"))?;
    if !status.success() {
        bail!("{command:?} failed with {status}");
    }
    Ok(())
}

/// Builds the release bundles (thin LTO) and copies them into `~/.clap` and `~/.vst3`. Returns
/// the installed `.clap` path.
fn install_release_bundles() -> Result<PathBuf> {
    nice_plug_xtask::build(&["parity".to_owned()], &["--release".to_owned(), "--lib".to_owned()])?;
    nice_plug_xtask::bundle(Path::new("target"), "parity", &["--release".to_owned()], false)?;
    let home = PathBuf::from(std::env::var_os("HOME").context("HOME is not set")?);
    let clap_dir = home.join(".clap");
    let vst3_dir = home.join(".vst3");
    std::fs::create_dir_all(&clap_dir)?;
    std::fs::create_dir_all(&vst3_dir)?;
    let installed_clap = clap_dir.join("Parity.clap");
    std::fs::copy("target/bundled/Parity.clap", &installed_clap).context("installing Parity.clap")?;
    let installed_vst3 = vst3_dir.join("Parity.vst3");
    if installed_vst3.exists() {
        std::fs::remove_dir_all(&installed_vst3)?;
    }
    copy_dir(Path::new("target/bundled/Parity.vst3"), &installed_vst3).context("installing Parity.vst3")?;
    eprintln!("xtask: installed {} and {}", installed_clap.display(), installed_vst3.display());
    Ok(installed_clap)
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

/// Runs the demo through the installed CLAP plugin with the project's CLAP test host, then the
/// offline tool's demo (`parity demo`: a song mastered to −14 LUFS with before/after files,
/// report and plots in `target/parity-demo/`). Release profile: both reuse the dependencies the
/// release bundles were just built with.
fn run_demo(clap: &Path) -> Result<()> {
    run(Command::new("cargo")
        .args(["run", "--release", "--quiet", "-p", "parity-tests", "--bin", "parity-clap-demo", "--"])
        .arg(clap))?;
    println!();
    run(Command::new("cargo").args([
        "run",
        "--release",
        "--quiet",
        "-p",
        "parity",
        "--features",
        "cli",
        "--bin",
        "parity",
        "--",
        "demo",
        "--out",
        "target/parity-demo",
    ]))
}

/// Features of every test build: the alloc guard, the standalone for the editor tests and the
/// offline CLI. The unit tests use the same set so the whole suite compiles nice-plug and egui
/// only once.
const TEST_FEATURES: &str = "parity/alloc-guard,parity/standalone,parity/cli";

/// Builds the alloc-guard test bundle (dev profile: debug assertions on) and the standalone into
/// `target/guard/bundled/` and `target/debug/`, and returns the bundle folder. nice-plug-xtask
/// bundles from `<target>/<profile>/`, so `target/guard/debug` points at `target/debug`.
fn bundle_guard() -> Result<PathBuf> {
    nice_plug_xtask::build(
        &["parity".to_owned()],
        &["--lib".to_owned(), "--bins".to_owned(), "--features".to_owned(), TEST_FEATURES.to_owned()],
    )?;
    let guard = Path::new("target/guard");
    std::fs::create_dir_all(guard)?;
    let link = guard.join("debug");
    if std::fs::symlink_metadata(&link).is_err() {
        #[cfg(unix)]
        std::os::unix::fs::symlink("../debug", &link)?;
    }
    nice_plug_xtask::bundle(guard, "parity", &[], false)?;
    Ok(guard.join("bundled"))
}

/// Creates (once) the Python venv for the VST3 and editor tests.
fn python_venv() -> Result<PathBuf> {
    let venv = PathBuf::from(".venv");
    let python = venv.join("bin/python");
    let stamp = venv.join("parity-packages.txt");
    let wanted = PYTHON_PACKAGES.join("\n");
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(wanted.as_str()) && python.exists() {
        return Ok(python);
    }
    run(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
    run(Command::new(&python)
        .args(["-m", "pip", "install", "-q", "--disable-pip-version-check"])
        .args(PYTHON_PACKAGES))?;
    std::fs::write(&stamp, wanted)?;
    Ok(python)
}

/// Whether `cargo <tool> --version` works; prints a notice when it does not.
fn has_cargo_tool(tool: &str) -> bool {
    let available = Command::new("cargo")
        .args([tool, "--version"])
        .output()
        .map(|out| out.status.success())
        .unwrap_or(false);
    if !available {
        eprintln!(
            "xtask: `cargo {tool}` is not installed; skipping that check (rustup component add {tool})"
        );
    }
    available
}

/// Pass/fail counts gathered from the test runners' summary lines.
#[derive(Default, Debug)]
struct Tally {
    passed: u64,
    failed: u64,
    skipped: u64,
}

/// Runs a command, echoing its output, and adds the counts of cargo's `test result:` lines or
/// pytest's summary line to `tally`. Returns whether it succeeded.
fn run_counted(command: &mut Command, tally: &mut Tally) -> Result<bool> {
    use std::io::{BufRead, BufReader};
    let mut child =
        command.stdout(Stdio::piped()).spawn().with_context(|| format!("could not start {command:?}"))?;
    let stdout = child.stdout.take().context("no stdout")?;
    for line in BufReader::new(stdout).lines() {
        let line = line?;
        println!("{line}");
        let words: Vec<&str> = line.split([' ', ';', ',', '=']).filter(|w| !w.is_empty()).collect();
        let is_cargo = line.starts_with("test result:");
        let is_pytest = line.starts_with('=')
            && (line.contains(" passed") || line.contains(" failed"))
            && line.contains(" in ");
        if is_cargo || is_pytest {
            for pair in words.windows(2) {
                let Ok(count) = pair[0].parse::<u64>() else { continue };
                match pair[1] {
                    "passed" => tally.passed += count,
                    "failed" | "error" | "errors" => tally.failed += count,
                    "skipped" | "ignored" | "xfailed" => tally.skipped += count,
                    _ => {}
                }
            }
        }
    }
    Ok(child.wait()?.success())
}

/// The README's test command.
fn run_all_tests() -> Result<()> {
    install_system_packages(&[BUILD_PACKAGES, TEST_PACKAGES].concat())?;
    let python = python_venv()?;
    // Style gates first: they fail fast and cost little. (A toolchain without the rustfmt or
    // clippy component skips its gate with a notice: components cannot be fetched offline.)
    if has_cargo_tool("fmt") {
        run(Command::new("cargo").args(["fmt", "--all", "--", "--check"]))?;
    }
    if has_cargo_tool("clippy") {
        run(Command::new("cargo").args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--features",
            TEST_FEATURES,
            "--",
            "-D",
            "warnings",
        ]))?;
    }
    let bundles = std::fs::canonicalize(bundle_guard()?)?;
    // The editor tests drive the standalone (built with the bundle) under Xvfb.
    let standalone = std::fs::canonicalize("target/debug/parity-standalone")?;
    // Every test that opens a window (CLAP gui, VST3 editor, standalone) uses this display.
    let display = VirtualDisplay::start()?;

    let mut tally = Tally::default();
    let mut ok = run_counted(
        Command::new("cargo")
            .args(["test", "--workspace", "--no-fail-fast", "--features", TEST_FEATURES])
            .env("PARITY_CLAP_BUNDLE", bundles.join("Parity.clap"))
            .env("DISPLAY", &display.name),
        &mut tally,
    )?;
    ok &= run_counted(
        Command::new(&python)
            .args(["-m", "pytest", "-v", "-p", "no:cacheprovider", "tests/python"])
            .env("PARITY_VST3_BUNDLE", bundles.join("Parity.vst3"))
            .env("PARITY_CLAP_BUNDLE", bundles.join("Parity.clap"))
            .env("PARITY_STANDALONE", &standalone)
            .env("PARITY_CLAP_RENDER", std::fs::canonicalize("target/debug/parity-clap-render")?)
            .env("PARITY_MEASURE", std::fs::canonicalize("target/debug/parity-measure")?)
            .env("PARITY_CLI", std::fs::canonicalize("target/debug/parity")?)
            .env("DISPLAY", &display.name),
        &mut tally,
    )?;
    drop(display);
    println!();
    println!("total: {} passed, {} failed, {} skipped", tally.passed, tally.failed, tally.skipped);
    if !ok || tally.failed > 0 {
        bail!("some tests failed");
    }
    Ok(())
}

/// A private X server (Xvfb with software GL), a window manager and an XSETTINGS daemon: JUCE's
/// editor hosting in pedalboard aborts on a bare X server (it reads EWMH properties such as
/// `_NET_WORKAREA` that only a window manager creates). All are stopped on drop.
struct VirtualDisplay {
    /// The `DISPLAY` value, e.g. `:12`.
    name: String,
    /// The X server.
    xvfb: std::process::Child,
    /// The XSETTINGS daemon and the window manager.
    helpers: Vec<std::process::Child>,
}

impl VirtualDisplay {
    fn start() -> Result<Self> {
        use std::io::{BufRead, BufReader};
        let mut xvfb = Command::new("Xvfb")
            .args(["-displayfd", "1", "-screen", "0", "2560x1600x24", "-nolisten", "tcp"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("could not start Xvfb (cargo xtask deps installs it)")?;
        let mut line = String::new();
        BufReader::new(xvfb.stdout.take().context("no Xvfb stdout")?).read_line(&mut line)?;
        let number: u32 = line.trim().parse().with_context(|| format!("Xvfb printed {line:?}"))?;
        let name = format!(":{number}");
        let config = std::env::temp_dir().join("parity-xsettingsd.conf");
        std::fs::write(&config, "Net/ThemeName \"Adwaita\"\n")?;
        let mut helpers = Vec::new();
        for (program, args) in
            [("xsettingsd", vec!["-c".to_owned(), config.display().to_string()]), ("openbox", vec![])]
        {
            let child = Command::new(program)
                .args(args)
                .env("DISPLAY", &name)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .with_context(|| format!("could not start {program} (cargo xtask deps installs it)"))?;
            helpers.push(child);
        }
        // Give the window manager a moment to claim the screen.
        std::thread::sleep(std::time::Duration::from_millis(500));
        eprintln!("xtask: virtual display {name}");
        Ok(Self { name, xvfb, helpers })
    }
}

impl Drop for VirtualDisplay {
    fn drop(&mut self) {
        for child in &mut self.helpers {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = self.xvfb.kill();
        let _ = self.xvfb.wait();
    }
}
