//! Starting the real `surel` binary for end-to-end tests: a temporary data
//! dir, free loopback ports, its log in a file, stopped by PID.

#![allow(dead_code)] // each test file uses a different part of it

pub mod accounts;

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_surel");

/// The workspace root, for shipped files such as config/surel.toml.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Runs `surel ARGS` to completion with `stdin` as input.
pub fn surel(dir: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start surel");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[derive(Debug, Clone, Copy)]
pub struct Ports {
    pub imap: u16,
    pub imaps: u16,
    pub smtp: u16,
    pub submission: u16,
    pub submissions: u16,
    pub web: u16,
}

/// A config for a test server: every listener on a free loopback port.
pub struct TestConfig {
    pub dir: tempfile::TempDir,
    pub ports: Ports,
    /// Tables appended to the generated config (e.g. `[limits]`).
    pub extra: String,
    /// Keys added to the generated `[smtp]` table.
    pub smtp_extra: String,
    pub hostname: String,
}

impl TestConfig {
    pub fn new() -> Self {
        TestConfig {
            dir: tempfile::tempdir().unwrap(),
            ports: Ports {
                imap: free_port(),
                imaps: free_port(),
                smtp: free_port(),
                submission: free_port(),
                submissions: free_port(),
                web: free_port(),
            },
            extra: String::new(),
            smtp_extra: String::new(),
            hostname: "mail.example.go.id".into(),
        }
    }

    pub fn with(mut self, extra: &str) -> Self {
        self.extra.push_str(extra);
        self.extra.push('\n');
        self
    }

    pub fn with_smtp(mut self, keys: &str) -> Self {
        self.smtp_extra.push_str(keys);
        self.smtp_extra.push('\n');
        self
    }

    pub fn path(&self) -> PathBuf {
        self.dir.path().join("surel.toml")
    }

    pub fn write(&self) -> PathBuf {
        let p = self.ports;
        // Failed logins answer at once in tests (the 1 s floor of
        // `failure_delay` is tested where it is set on purpose).
        let mut extra = self.extra.clone();
        if !extra.contains("failure_delay") {
            if extra.contains("[auth]\n") {
                extra = extra.replacen("[auth]\n", "[auth]\nfailure_delay = \"0 s\"\n", 1);
            } else {
                extra.push_str("\n[auth]\nfailure_delay = \"0 s\"\n");
            }
        }
        let text = format!(
            "hostname = \"{host}\"\ndata_dir = \"data\"\nlanguage = \"en\"\nlog_level = \"info\"\n\
             [tls]\ncert = \"certs/surel.crt\"\nkey = \"certs/surel.key\"\nself_signed = true\n\
             [imap]\nlisten = [\"127.0.0.1:{}\"]\nlisten_tls = [\"127.0.0.1:{}\"]\n\
             [smtp]\nlisten = [\"127.0.0.1:{}\"]\nsubmission = [\"127.0.0.1:{}\"]\n\
             submissions = [\"127.0.0.1:{}\"]\n{smtp_extra}\n\
             [web]\nlisten = [\"127.0.0.1:{}\"]\npublic_url = \"https://{host}\"\n{extra}\n",
            p.imap,
            p.imaps,
            p.smtp,
            p.submission,
            p.submissions,
            p.web,
            host = self.hostname,
            extra = extra,
            smtp_extra = {
                // Tests talk to no real DNS: checks are on only where a test asks.
                let mut keys = self.smtp_extra.clone();
                if !keys.contains("greet_pause") {
                    keys.push_str("greet_pause = \"0 s\"\n");
                }
                if !keys.contains("inbound_checks") {
                    keys.push_str("inbound_checks = false\n");
                }
                keys
            },
        );
        let path = self.path();
        fs::write(&path, text).unwrap();
        path
    }
}

/// A running `surel serve`; killed on drop if the test did not stop it.
pub struct Server {
    pub config: TestConfig,
    child: Child,
    log: PathBuf,
}

impl Server {
    pub fn start(config: TestConfig) -> Server {
        Self::start_with_args(config, &[])
    }

    pub fn start_with_args(mut config: TestConfig, args: &[&str]) -> Server {
        // Free ports are picked by binding port 0 and letting go; a test
        // running beside this one may take one meanwhile: then pick again.
        for _ in 0..5 {
            let mut server = Self::spawn(config, args);
            let deadline = std::time::Instant::now() + Duration::from_secs(20);
            loop {
                if server.log().contains("surel ready") {
                    return server;
                }
                if let Ok(Some(_)) = server.child.try_wait() {
                    break;
                }
                assert!(
                    std::time::Instant::now() < deadline,
                    "surel did not start:\n{}",
                    server.log()
                );
                std::thread::sleep(Duration::from_millis(25));
            }
            assert!(
                server.log().contains("already in use"),
                "surel did not start:\n{}",
                server.log()
            );
            config = std::mem::replace(&mut server.config, TestConfig::new());
            let fresh = TestConfig::new();
            config.ports = fresh.ports;
        }
        panic!("no free ports after five tries");
    }

    /// Starts without waiting for readiness (for start-up failures).
    pub fn spawn(config: TestConfig, args: &[&str]) -> Server {
        let path = config.write();
        let log = config.dir.path().join("surel.log");
        let child = Command::new(BIN)
            .arg("--config")
            .arg(&path)
            .args(args)
            .arg("serve")
            .current_dir(config.dir.path())
            .env_remove("RUST_LOG")
            .env_remove("NOTIFY_SOCKET")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(fs::File::create(&log).unwrap())
            .spawn()
            .expect("start surel serve");
        Server { config, child, log }
    }

    /// Starts the server again on the same directory and ports (after a crash).
    pub fn restart(&mut self) {
        let log = self.config.dir.path().join("surel-restarted.log");
        self.child = Command::new(BIN)
            .arg("--config")
            .arg(self.config.path())
            .arg("serve")
            .current_dir(self.config.dir.path())
            .env_remove("RUST_LOG")
            .env_remove("NOTIFY_SOCKET")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(fs::File::create(&log).unwrap())
            .spawn()
            .expect("restart surel serve");
        self.log = log;
        self.wait_for_log("surel ready", Duration::from_secs(20));
    }

    /// The server's process ID (for memory readings and kill -9).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn dir(&self) -> &Path {
        self.config.dir.path()
    }

    pub fn ports(&self) -> Ports {
        self.config.ports
    }

    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the log contains `needle`; panics with the log otherwise.
    pub fn wait_for_log(&self, needle: &str, within: Duration) {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if self.log().contains(needle) {
                return;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!(
            "no {needle:?} in the log within {within:?}:\n{}",
            self.log()
        );
    }

    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success(), "kill -{name} failed");
    }

    /// Waits for the process to exit; panics if it takes longer than `within`.
    pub fn wait_exit(&mut self, within: Duration) -> (ExitStatus, Duration) {
        let started = Instant::now();
        while started.elapsed() < within {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status, started.elapsed());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("surel did not exit within {within:?}:\n{}", self.log());
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A line-oriented plain-text client for IMAP/SMTP conversations.
pub struct Client {
    reader: BufReader<TcpStream>,
}

impl Client {
    pub fn connect(port: u16) -> Client {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        Client {
            reader: BufReader::new(stream),
        }
    }

    pub fn line(&mut self) -> String {
        let mut line = String::new();
        self.reader.read_line(&mut line).expect("read a line");
        line
    }

    pub fn send(&mut self, text: &str) {
        self.reader.get_mut().write_all(text.as_bytes()).unwrap();
    }

    /// Reads lines until one starts with `prefix`; returns all of them.
    pub fn until(&mut self, prefix: &str) -> Vec<String> {
        let mut lines = Vec::new();
        loop {
            let line = self.line();
            assert!(!line.is_empty(), "connection closed; got {lines:?}");
            let done = line.starts_with(prefix);
            lines.push(line);
            if done {
                return lines;
            }
        }
    }

    /// True when the server has closed the connection.
    pub fn closed(&mut self) -> bool {
        let mut rest = Vec::new();
        self.reader.read_to_end(&mut rest).is_ok()
    }
}

/// Runs `openssl s_client` with `args` against a port, feeding `input`;
/// returns (exit success, stdout + stderr).
pub fn s_client(port: u16, args: &[&str], input: &str) -> (bool, String) {
    let mut child = Command::new("openssl")
        .arg("s_client")
        .arg("-connect")
        .arg(format!("127.0.0.1:{port}"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("openssl must be installed (.ci/run installs it)");
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_string();
    // s_client sends stdin after the handshake; give the server time to answer before EOF.
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(500));
        let _ = stdin.write_all(input.as_bytes());
        std::thread::sleep(Duration::from_millis(500));
    });
    let output = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

/// The certificate subject's CN that `s_client` printed.
pub fn subject_cn(s_client_output: &str) -> Option<String> {
    let line = s_client_output
        .lines()
        .find(|l| l.starts_with("subject="))?
        .replace(' ', "");
    let cn = line.split("CN=").nth(1)?;
    Some(cn.split([',', '/']).next()?.to_string())
}

/// Runs a Python suite from tests/security with `env`; panics with its
/// output (and `log`, the server's) unless it succeeds; returns the output.
pub fn security_suite(script: &str, env: &[(&str, String)], log: impl Fn() -> String) -> String {
    let out = Command::new("python3")
        .arg(workspace().join("tests/security").join(script))
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .expect("python3 must be installed (.ci/run installs it)");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{report}\n--- server log ---\n{}",
        log()
    );
    println!("{report}");
    report
}
