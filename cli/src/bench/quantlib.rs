//! QuantLib's side: the interpreter (`--python`, or a venv under
//! `$HOME/.cache/pathgrid/quantlib-venv` created on first use) and `bench/quantlib_bench.py`,
//! compiled into the binary and run once per case.

use crate::Failure;
use anyhow::{Context, anyhow, bail};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The QuantLib release compared against (PyPI `QuantLib`).
pub const QUANTLIB_VERSION: &str = "1.44";
const SCRIPT: &str = include_str!("../../../bench/quantlib_bench.py");

/// A Python with QuantLib, and the script written where it can run it.
#[derive(Debug)]
pub(super) struct Quantlib {
    python: PathBuf,
    script: PathBuf,
}

/// Finds or sets up the interpreter, then writes the script into `dir`. Done before any case
/// runs: a broken Python should fail the bench before minutes of work.
pub(super) fn set_up(explicit: Option<&Path>, dir: &Path) -> anyhow::Result<Quantlib> {
    let python = quantlib_python(explicit)?;
    let script = dir.join("quantlib_bench.py");
    std::fs::write(&script, SCRIPT).with_context(|| format!("cannot write {}", script.display()))?;
    Ok(Quantlib { python, script })
}

/// What the QuantLib script prints for one case (extra fields ignored).
#[derive(Debug, Deserialize)]
pub(super) struct QlOutput {
    pub(super) quantlib_version: String,
    #[serde(default)]
    pub(super) known_value: Option<f64>,
    #[serde(default)]
    pub(super) runs: Vec<QlRun>,
    #[serde(default)]
    pub(super) options: Vec<QlOption>,
    #[serde(default)]
    pub(super) seconds: Option<f64>,
    #[serde(default)]
    pub(super) cpu_seconds: Option<f64>,
    #[serde(default)]
    pub(super) fd_seconds: Option<f64>,
    #[serde(default)]
    pub(super) fd: Option<QlFd>,
    #[serde(default)]
    pub(super) settings: serde_json::Value,
}

#[derive(Debug, Deserialize)]
pub(super) struct QlRun {
    pub(super) basis: Option<String>,
    pub(super) degree: Option<u32>,
    pub(super) price: f64,
    pub(super) std_error: Option<f64>,
    pub(super) seconds: f64,
    #[serde(default)]
    pub(super) cpu_seconds: Option<f64>,
    pub(super) path_steps: Option<u64>,
}

#[derive(Debug, Deserialize)]
pub(super) struct QlOption {
    pub(super) id: String,
    pub(super) price: f64,
    pub(super) std_error: Option<f64>,
    pub(super) seconds: f64,
    pub(super) fd: Option<f64>,
    pub(super) fd_bermudan: Option<f64>,
}

#[derive(Debug, Deserialize)]
pub(super) struct QlFd {
    pub(super) grid: u64,
    pub(super) bermudan: f64,
    pub(super) american: f64,
}

/// The interpreter to run the QuantLib script with: `--python`, or the cached venv, created
/// (python3 -m venv, pip install QuantLib==1.44) when missing.
fn quantlib_python(explicit: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(python) = explicit {
        return match quantlib_version(python) {
            Some(_) => Ok(python.to_path_buf()),
            None => bail!("{} cannot import QuantLib (pip install QuantLib=={QUANTLIB_VERSION})", python.display()),
        };
    }
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .ok_or_else(|| anyhow!("HOME is not set, so there is no place for the QuantLib venv; pass --python"))?;
    let venv = PathBuf::from(home).join(".cache/pathgrid/quantlib-venv");
    let python = venv.join("bin/python");
    if quantlib_version(&python).as_deref() == Some(QUANTLIB_VERSION) {
        return Ok(python);
    }
    eprintln!("setting up QuantLib {QUANTLIB_VERSION} in {} (python3 -m venv, pip install)…", venv.display());
    if !python.exists() {
        if let Some(parent) = venv.parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
        }
        let status = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .stdout(Stdio::from(std::io::stderr()))
            .status()
            .context("cannot run python3 to create the QuantLib venv (is python3 installed?)")?;
        if !status.success() {
            bail!(
                "`python3 -m venv {}` failed ({status}); on Debian install python3-venv, or pass --python",
                venv.display()
            );
        }
    }
    let status = Command::new(&python)
        .args(["-m", "pip", "install", "--disable-pip-version-check", &format!("QuantLib=={QUANTLIB_VERSION}")])
        .stdout(Stdio::from(std::io::stderr()))
        .status()
        .with_context(|| format!("cannot run {}", python.display()))?;
    if !status.success() {
        bail!(
            "`pip install QuantLib=={QUANTLIB_VERSION}` into {} failed ({status}); check network access to PyPI, or pass --python",
            venv.display()
        );
    }
    match quantlib_version(&python) {
        Some(v) if v == QUANTLIB_VERSION => Ok(python),
        Some(v) => bail!("{} has QuantLib {v}, expected {QUANTLIB_VERSION}", venv.display()),
        None => bail!("QuantLib still cannot be imported from {} after pip install", python.display()),
    }
}

/// The QuantLib version `python` imports, if any.
fn quantlib_version(python: &Path) -> Option<String> {
    let out = Command::new(python)
        .args(["-c", "import QuantLib; print(QuantLib.__version__)"])
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let v = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !v.is_empty()).then_some(v)
}

/// Prices a workshop CSV with QuantLib's MC: per option (NPV, errorEstimate), and seconds.
pub type QuantlibWorkshop<'a> = dyn FnMut(&str) -> Result<(Vec<(f64, f64)>, f64), Failure> + 'a;

/// QuantLib's MC at the workshop's settings on a workshop CSV (no FD): per option
/// (NPV, errorEstimate), and the seconds they took.
pub(super) fn workshop(
    quantlib: &Quantlib,
    dir: &Path,
    csv: &str,
    version: &mut Option<String>,
) -> Result<(Vec<(f64, f64)>, f64), Failure> {
    let path = dir.join("accuracy-workshop.csv");
    std::fs::write(&path, csv).with_context(|| format!("cannot write {}", path.display()))?;
    let args = vec![
        "--case".to_string(),
        "csv".into(),
        "--csv".into(),
        path.display().to_string(),
        "--fd-grid".into(),
        "0".into(),
    ];
    let ql = quantlib.run(&args, "workshop set (accuracy)")?;
    *version = Some(ql.quantlib_version.clone());
    let seconds = ql.options.iter().map(|o| o.seconds).sum();
    Ok((ql.options.iter().map(|o| (o.price, o.std_error.unwrap_or(0.0))).collect(), seconds))
}

impl Quantlib {
    /// Runs the script with `script_args` on one thread and reads the JSON it prints.
    pub(super) fn run(&self, script_args: &[String], what: &str) -> anyhow::Result<QlOutput> {
        eprintln!("quantlib: {what} on one thread…");
        let (python, script) = (&self.python, &self.script);
        let out = Command::new(python)
            .arg(script)
            .args(script_args)
            .env("OMP_NUM_THREADS", "1")
            .stderr(Stdio::inherit())
            .output()
            .with_context(|| format!("cannot run {}", python.display()))?;
        if !out.status.success() {
            bail!("the QuantLib script failed on {what} ({})", out.status);
        }
        serde_json::from_slice(&out.stdout)
            .with_context(|| format!("unreadable output of the QuantLib script on {what}"))
    }
}
