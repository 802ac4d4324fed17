//! A headless Chromium driven over WebDriver, for end-to-end tests of the pages a person sees
//! (the sandbox's sign-in forms; the device-verification page).
//!
//! [`Browser::start`] runs `chromedriver --port=0` (it picks a free loopback port and prints it),
//! connects to it with fantoccini and opens Chromium `--headless=new --no-sandbox` with a fresh
//! profile in a temporary directory. Dropping the [`Browser`] ends the session, kills chromedriver
//! (and its process group: the browser it started) and removes the profile. When chromedriver or
//! Chromium is not installed (Debian packages `chromium-driver` and `chromium`; `.ci/run` installs
//! them), `start` prints `SKIPPED` with the reason past the test harness's capture and returns
//! `None`: the test then returns early and passes. `CHROMEDRIVER` and `CHROME` name other binaries.
//!
//! The API is blocking (each call runs on the browser's own single-thread tokio runtime), so it
//! fits the CLI's process-spawning tests; from async code call it inside `spawn_blocking`. Every
//! method panics with the WebDriver error: a browser step that fails is a failing test.
//!
//! Reuse from another test file with `#[path = "common/browser.rs"] mod browser;`. It needs the
//! dev-dependencies `fantoccini` (no TLS feature: chromedriver speaks plain HTTP on loopback),
//! `hyper-util` (`client-legacy`, `http1`, `tokio`), `tokio` (`rt`, `time`), `serde_json` and
//! `nix` (`signal`).
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};

/// How long chromedriver may take to say which port it listens on.
const DRIVER_START: Duration = Duration::from_secs(30);
/// How long one WebDriver command may take (Chromium's first start is the slow one).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// One browser at a time per test binary: two cores run several Chromiums too slowly.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// A headless Chromium session; see the module docs.
pub struct Browser {
    rt: tokio::runtime::Runtime,
    client: Option<Client>,
    driver: Child,
    profile: PathBuf,
    /// Released last, once the browser is gone.
    _turn: MutexGuard<'static, ()>,
}

/// Prints why a browser test is skipped, past the test harness's capture (seen in CI logs).
fn skip(why: &str) {
    let _ = writeln!(std::io::stderr(), "\n*** SKIPPED: {why} ***\n");
}

/// `$var` when set, else the first of `names` found on `PATH`.
fn find_program(var: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(var) {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    names.iter().find_map(|name| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    })
}

/// A fresh, empty directory under the system's temporary directory.
fn temp_dir(prefix: &str) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let dir = std::env::temp_dir().join(format!(
        "{prefix}-{}-{}-{nanos}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&dir).expect("create a temporary directory");
    dir
}

/// Starts `chromedriver --port=0` in its own process group; the child and its port.
fn start_driver(chromedriver: &Path) -> (Child, u16) {
    use std::os::unix::process::CommandExt;
    let mut child = Command::new(chromedriver)
        .args(["--port=0", "--allowed-ips=127.0.0.1"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", chromedriver.display()));
    let stdout = child.stdout.take().expect("chromedriver's stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut port_sent = false;
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            // "ChromeDriver was started successfully on port 41235."
            if !port_sent && let Some(rest) = line.split("on port ").nth(1) {
                let port = rest.trim_end_matches('.').trim().parse::<u16>().ok();
                if let Some(port) = port.filter(|p| *p != 0) {
                    let _ = tx.send(port);
                    port_sent = true;
                }
            }
            // Keep reading so chromedriver never blocks on a full pipe.
        }
    });
    match rx.recv_timeout(DRIVER_START) {
        Ok(port) => (child, port),
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromedriver did not report its port within {DRIVER_START:?}");
        }
    }
}

impl Browser {
    /// Starts chromedriver and a headless Chromium; `None` (after printing `SKIPPED` and why)
    /// only when either is not installed. Panics when they are installed but do not start.
    pub fn start() -> Option<Browser> {
        let Some(chromedriver) = find_program("CHROMEDRIVER", &["chromedriver"]) else {
            skip(
                "chromedriver is not installed (Debian package chromium-driver); browser test not run",
            );
            return None;
        };
        let Some(chrome) = find_program("CHROME", &["chromium", "chromium-browser"]) else {
            skip("chromium is not installed (Debian package chromium); browser test not run");
            return None;
        };
        let turn = ONE_AT_A_TIME.lock().unwrap_or_else(PoisonError::into_inner);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let profile = temp_dir("ssoflow-chromium");
        let (driver, port) = start_driver(&chromedriver);
        let mut options = serde_json::Map::new();
        options.insert(
            "binary".into(),
            serde_json::Value::String(chrome.display().to_string()),
        );
        options.insert(
            "args".into(),
            serde_json::json!([
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-extensions",
                "--password-store=basic",
                "--window-size=900,900",
                format!("--user-data-dir={}", profile.display()),
            ]),
        );
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::Value::Object(options),
        );
        let mut browser = Browser {
            rt,
            client: None,
            driver,
            profile,
            _turn: turn,
        };
        let url = format!("http://127.0.0.1:{port}");
        let client = browser.block(async {
            ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                .capabilities(caps)
                .connect(&url)
                .await
        });
        browser.client = Some(client.unwrap_or_else(|e| panic!("WebDriver session: {e}")));
        Some(browser)
    }

    /// Runs `f` on the browser's runtime, at most [`COMMAND_TIMEOUT`].
    fn block<T>(&self, f: impl Future<Output = T>) -> T {
        self.rt
            .block_on(async { tokio::time::timeout(COMMAND_TIMEOUT, f).await })
            .unwrap_or_else(|_| panic!("a browser command took more than {COMMAND_TIMEOUT:?}"))
    }

    fn client(&self) -> &Client {
        self.client.as_ref().expect("a live session")
    }

    /// Opens `url` and waits for the page to load.
    pub fn goto(&self, url: &str) {
        self.block(self.client().goto(url))
            .unwrap_or_else(|e| panic!("goto {url}: {e}"));
    }

    /// The address of the page shown now.
    pub fn current_url(&self) -> String {
        self.block(self.client().current_url())
            .unwrap_or_else(|e| panic!("current URL: {e}"))
            .to_string()
    }

    /// Replaces the value of the form field named `name` with `value` (typed as keys).
    pub fn fill(&self, name: &str, value: &str) {
        let css = format!("[name=\"{name}\"]");
        self.block(async {
            let field = self.client().find(Locator::Css(&css)).await?;
            field.clear().await?;
            field.send_keys(value).await
        })
        .unwrap_or_else(|e| panic!("fill {name}: {e}"));
    }

    /// Clicks the element `css` selects (e.g. `#allow`, `button[type=submit]`).
    pub fn click(&self, css: &str) {
        self.block(async { self.client().find(Locator::Css(css)).await?.click().await })
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    /// The visible text of the page (`document.body.innerText`).
    pub fn page_text(&self) -> String {
        self.block(async { self.client().find(Locator::Css("body")).await?.text().await })
            .unwrap_or_else(|e| panic!("page text: {e}"))
    }

    /// The page's HTML source.
    pub fn source(&self) -> String {
        self.block(self.client().source())
            .unwrap_or_else(|e| panic!("page source: {e}"))
    }

    /// Waits until the page's text contains `needle` (polling every 100 ms) and returns the
    /// text; panics with the last text seen after `timeout`.
    pub fn wait_for_text(&self, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let text = self
                .block(async { self.client().find(Locator::Css("body")).await?.text().await })
                .unwrap_or_default();
            if text.contains(needle) {
                return text;
            }
            if Instant::now() >= deadline {
                panic!(
                    "{needle:?} not on the page within {timeout:?}; at {}: {text}",
                    self.current_url()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Saves a PNG screenshot of the window at `path` (parent directories made).
    pub fn screenshot(&self, path: &Path) {
        let png = self
            .block(self.client().screenshot())
            .unwrap_or_else(|e| panic!("screenshot: {e}"));
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("screenshot directory");
        }
        std::fs::write(path, png).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    }

    /// Where tests keep what they save (screenshots): `<target dir>/browser/<name>`. The
    /// target dir is found from the running test binary (`<target>/<profile>/deps/<test>`),
    /// so it is `CARGO_TARGET_DIR` when that is set, else the workspace's `target/`.
    pub fn artifact(name: &str) -> PathBuf {
        let exe = std::env::current_exe().expect("the test binary's path");
        let target = exe
            .ancestors()
            .nth(3)
            .map_or_else(|| PathBuf::from("target"), Path::to_path_buf);
        target.join("browser").join(name)
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            // Ends the session, which closes Chromium; bounded, whatever state the browser is in.
            let _ = self.rt.block_on(async {
                tokio::time::timeout(Duration::from_secs(10), client.close()).await
            });
        }
        // chromedriver leads its own process group: anything left of the browser goes with it.
        if let Ok(pid) = i32::try_from(self.driver.id()) {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}
