//! A moto server (PyPI `moto[server]`, installed by scripts/setup.sh): real S3 (and Batch)
//! APIs on a free loopback port, started by a test and killed when it is dropped.

use pathgrid_store::{S3Options, S3Store};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A moto server on a free loopback port, killed on drop.
#[derive(Debug)]
pub struct Moto {
    child: Child,
    port: u16,
}

impl Moto {
    pub fn start() -> Moto {
        let have_moto = Command::new("python3").args(["-c", "import moto"]).status().is_ok_and(|s| s.success());
        assert!(have_moto, "moto is not installed: run scripts/setup.sh (pip install \"moto[server]\")");
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new("python3")
            .args(["-m", "moto.server", "-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut moto = Moto { child, port };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if moto.http("GET", "/moto-api/", &[], "").is_ok_and(|(status, _)| status > 0) {
                break;
            }
            if let Ok(Some(status)) = moto.child.try_wait() {
                panic!("moto server exited early: {status}");
            }
            assert!(Instant::now() < deadline, "moto server did not answer on port {port} within 60 s");
            std::thread::sleep(Duration::from_millis(100));
        }
        moto
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// A minimal HTTP/1.0 request; returns the status and the body.
    pub fn http(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> std::io::Result<(u16, String)> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port))?;
        s.set_read_timeout(Some(Duration::from_secs(30)))?;
        let mut req = format!("{method} {path} HTTP/1.0\r\nHost: 127.0.0.1:{}\r\n", self.port);
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
        s.write_all(req.as_bytes())?;
        let mut out = String::new();
        s.read_to_string(&mut out)?;
        let status = out.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
        let body = out.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
        Ok((status, body))
    }

    /// The options that reach this server (static test credentials, path-style).
    pub fn options(&self) -> S3Options {
        S3Options::local(self.endpoint())
    }

    /// The AWS SDK configuration for this server, for any service client.
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        self.options().sdk_config().await
    }

    pub async fn s3(&self) -> aws_sdk_s3::Client {
        S3Store::connect("unused", "", &self.options()).await.client().clone()
    }

    /// The environment a `pathgrid` process needs to use this server as S3.
    pub fn env(&self) -> [(&'static str, String); 4] {
        [
            ("AWS_ENDPOINT_URL", self.endpoint()),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            ("AWS_REGION", "us-east-1".into()),
        ]
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
