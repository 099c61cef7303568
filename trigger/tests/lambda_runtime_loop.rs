//! The real Lambda runtime loop: the `pathgrid-trigger-lambda` binary, driven through the Lambda
//! Runtime API (served here by a small loopback emulator: `GET …/invocation/next`, `POST
//! …/response`), prices a small spec from a moto S3 server and writes the result there.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use aws_sdk_s3::primitives::ByteStream;
use pathgrid_pricing::{JobResult, Problem, price_instrument_sequential};
use pathgrid_store::{S3Options, S3Store, Store};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn start_moto() -> (Killed, String) {
    let port = free_port();
    let child = Command::new("python3")
        .args(["-m", "moto.server", "-H", "127.0.0.1", "-p", &port.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 -m moto.server (run scripts/setup.sh)");
    let mut moto = Killed(child);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let answered = TcpStream::connect(("127.0.0.1", port)).and_then(|mut s| {
            s.set_read_timeout(Some(Duration::from_secs(10)))?;
            s.write_all(b"GET /moto-api/ HTTP/1.0\r\n\r\n")?;
            let mut first = [0u8; 5];
            s.read_exact(&mut first)?;
            Ok(&first == b"HTTP/")
        });
        if answered.unwrap_or(false) {
            break;
        }
        assert!(moto.0.try_wait().unwrap().is_none(), "moto exited early");
        assert!(Instant::now() < deadline, "moto did not answer within 60 s");
        std::thread::sleep(Duration::from_millis(100));
    }
    (moto, format!("http://127.0.0.1:{port}"))
}

/// What the function sent back through the Runtime API.
#[derive(Debug)]
enum Reply {
    Response(String),
    Error(String),
}

/// Serves one invocation of `event` on the Runtime API; later `next` calls wait forever.
fn runtime_api(event: String, replies: mpsc::Sender<Reply>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let served = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let (event, replies, served) = (event.clone(), replies.clone(), served.clone());
            std::thread::spawn(move || serve_connection(stream, &event, &replies, &served));
        }
    });
    port
}

fn serve_connection(
    stream: TcpStream,
    event: &str,
    replies: &mpsc::Sender<Reply>,
    served: &std::sync::atomic::AtomicBool,
) {
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                length = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0u8; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let body = String::from_utf8_lossy(&body).into_owned();
        let mut parts = request_line.split_whitespace();
        let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let (status, extra, reply_body) = if method == "GET" && path.ends_with("/runtime/invocation/next") {
            if served.swap(true, std::sync::atomic::Ordering::SeqCst) {
                // One invocation only: hold this poll until the process is killed.
                std::thread::sleep(Duration::from_secs(3600));
                return;
            }
            let deadline = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() + 300_000;
            let headers = format!(
                "Lambda-Runtime-Aws-Request-Id: req-1\r\nLambda-Runtime-Deadline-Ms: {deadline}\r\n\
                 Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:123456789012:function:pathgrid-trigger\r\n\
                 Lambda-Runtime-Trace-Id: Root=1-00000000-000000000000000000000000\r\n"
            );
            ("200 OK", headers, event.to_string())
        } else if method == "POST" && path.ends_with("/response") {
            let _ = replies.send(Reply::Response(body));
            ("202 Accepted", String::new(), "{}".to_string())
        } else if method == "POST" && path.ends_with("/error") {
            let _ = replies.send(Reply::Error(format!("{path}: {body}")));
            ("202 Accepted", String::new(), "{}".to_string())
        } else {
            ("404 Not Found", String::new(), "{}".to_string())
        };
        let response = format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\n{extra}Content-Length: {}\r\n\r\n{reply_body}",
            reply_body.len()
        );
        if writer.write_all(response.as_bytes()).is_err() {
            return;
        }
    }
}

#[tokio::test]
async fn lambda_binary_prices_a_small_spec_through_the_runtime_api() {
    let (_moto, endpoint) = start_moto();
    let store = S3Store::connect("lambda-loop", "", &S3Options::local(&endpoint)).await;
    store.client().create_bucket().bucket("lambda-loop").send().await.unwrap();
    let spec = json!({
        "name": "loop", "seed": 11, "paths": 4000, "batch_size": 1024,
        "instruments": [{ "id": "put",
            "model": { "type": "gbm", "spot": 36.0, "vol": 0.2, "rate": 0.06, "dividend": 0.0 },
            "payoff": { "type": "put", "strike": 40.0 },
            "exercise": { "style": "american", "maturity": 1.0, "steps": 10 } }]
    })
    .to_string();
    let key = "inputs/via lambda é.json";
    let put = store
        .client()
        .put_object()
        .bucket("lambda-loop")
        .key(key)
        .body(ByteStream::from(spec.clone().into_bytes()))
        .send()
        .await
        .unwrap();
    let event = json!({ "Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": "2026-01-01T00:00:00.000Z", "eventName": "ObjectCreated:Put",
        "userIdentity": { "principalId": "test" }, "requestParameters": { "sourceIPAddress": "127.0.0.1" },
        "responseElements": {},
        "s3": { "s3SchemaVersion": "1.0", "configurationId": "inputs",
            "bucket": { "name": "lambda-loop", "ownerIdentity": { "principalId": "test" }, "arn": "arn:aws:s3:::lambda-loop" },
            "object": { "key": "inputs/via+lambda+%C3%A9.json", "size": spec.len(),
                        "eTag": put.e_tag().unwrap_or_default().trim_matches('"'), "sequencer": "0" } }
    }]})
    .to_string();

    let (tx, rx) = mpsc::channel();
    let api_port = runtime_api(event, tx);
    let _function = Killed(
        Command::new(env!("CARGO_BIN_EXE_pathgrid-trigger-lambda"))
            .env("AWS_LAMBDA_RUNTIME_API", format!("127.0.0.1:{api_port}"))
            .env("AWS_LAMBDA_FUNCTION_NAME", "pathgrid-trigger")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "2048")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_ENDPOINT_URL", &endpoint)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env_remove("AWS_PROFILE")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap(),
    );
    let reply = rx.recv_timeout(Duration::from_secs(120)).expect("no reply from the function within 120 s");
    let body = match reply {
        Reply::Response(body) => body,
        Reply::Error(e) => panic!("function failed: {e}"),
    };
    let response: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(response["outcomes"][0]["outcome"], "priced", "{response}");
    assert_eq!(response["outcomes"][0]["result_key"], "results/via lambda é.json", "{response}");

    let text = String::from_utf8(store.get("results/via lambda é.json", 1 << 20).await.unwrap()).unwrap();
    let result: JobResult = serde_json::from_str(&text).unwrap();
    let job = pathgrid_pricing::parse_job(&spec).unwrap();
    let expected = price_instrument_sequential(&Problem::all(&job)[0]).unwrap();
    let at = text.find("\"price\":").unwrap() + "\"price\":".len();
    let raw = text[at..].trim_start();
    let raw = &raw[..raw.find([',', '\n']).unwrap()];
    assert_eq!(raw.trim().parse::<f64>().unwrap().to_bits(), expected.price.to_bits());
    assert_eq!(result.results[0].id, "put");
    eprintln!("lambda loop: put {raw} ± {}", expected.std_error);
}
