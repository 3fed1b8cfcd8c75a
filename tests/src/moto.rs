//! moto in server mode, for tests of the AWS side (`portico deploy`, `package`, `delete`):
//! [`Moto::start`] runs `moto_server -H 127.0.0.1 -p <free port>`, waits until it answers,
//! and enables its Step Functions engine before anything is created; dropping it stops the
//! server. Std only, like the rest of the harness.
//!
//! moto comes from PyPI: `python3 -m pip install 'moto[server]==5.2.5'` (`.ci/run` does it).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The moto version the tests are written against.
pub const MOTO_VERSION: &str = "5.2.5";

/// A running moto server.
#[derive(Debug)]
pub struct Moto {
    child: Child,
    port: u16,
}

/// The environment a process needs to talk to moto: endpoint, region and dummy credentials.
pub fn env(endpoint: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT_URL", endpoint.to_owned()),
        ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
        ("AWS_REGION", "us-east-1".to_owned()),
        ("AWS_DEFAULT_REGION", "us-east-1".to_owned()),
        // Never read the developer's own profile or IMDS.
        ("AWS_CONFIG_FILE", "/dev/null".to_owned()),
        ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null".to_owned()),
        ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
    ]
}

impl Moto {
    /// Starts moto on a free loopback port and configures it.
    ///
    /// # Errors
    /// When `moto_server` is not installed or does not come up within 60 s; the message says
    /// how to install it.
    pub fn start() -> Result<Self, String> {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("no free port: {e}"))?
            .port();
        let spawn = |program: &str, prefix: &[&str]| {
            Command::new(program)
                .args(prefix)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
        };
        // The console script, else the module (a fresh pyenv may not have its shim yet).
        let child = spawn("moto_server", &[])
            .or_else(|_| spawn("python3", &["-m", "moto.server"]))
            .map_err(|e| {
                format!(
                    "cannot run moto_server ({e}); install it with \
                     `python3 -m pip install 'moto[server]=={MOTO_VERSION}'`"
                )
            })?;
        let mut moto = Self { child, port };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = moto.child.try_wait() {
                return Err(format!(
                    "moto_server exited at start ({status}); is it installed? \
                     `python3 -m pip install 'moto[server]=={MOTO_VERSION}'`"
                ));
            }
            if moto.request("GET", "/moto-api/data.json", "").is_ok() {
                break;
            }
            if Instant::now() > deadline {
                return Err("moto_server did not answer within 60 s".to_owned());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        // Right after start, before anything exists: run state machines for real.
        moto.request(
            "POST",
            "/moto-api/config",
            r#"{"stepfunctions":{"execute_state_machine":true}}"#,
        )?;
        Ok(moto)
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Forgets every resource (`POST /moto-api/reset`).
    ///
    /// # Errors
    /// When moto does not answer.
    pub fn reset(&self) -> Result<(), String> {
        self.request("POST", "/moto-api/reset", "").map(|_| ())
    }

    /// One HTTP/1.1 request to moto; the status and body.
    ///
    /// # Errors
    /// When the connection fails or the answer is not HTTP.
    pub fn request(&self, method: &str, path: &str, body: &str) -> Result<(u16, String), String> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).map_err(|e| e.to_string())?;
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .map_err(|e| e.to_string())?;
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.port,
            body.len()
        )
        .map_err(|e| e.to_string())?;
        let mut response = String::new();
        stream
            .read_to_string(&mut response)
            .map_err(|e| e.to_string())?;
        let status = response
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("not an HTTP answer: {response:.80}"))?;
        let body = response
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default();
        if status >= 400 {
            return Err(format!("{method} {path}: {status} {body:.200}"));
        }
        Ok((status, body))
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
