//! DynamoDB and S3 for the local cloud, from an existing emulator: moto server (from PyPI) on
//! loopback, started and stopped with `portico local`, behind the services endpoint. Portico
//! does not write these services itself.
//!
//! - Start: `moto_server -H 127.0.0.1 -p <free port>` in its own process group (the program is
//!   `PORTICO_MOTO_SERVER` when set), ready when it answers; then the declared `[[tables]]`
//!   and `[[buckets]]` are created, and the journal is replayed.
//! - Requests: the services endpoint forwards DynamoDB (`X-Amz-Target: DynamoDB_20120810.*`,
//!   `DynamoDBStreams_20120810.*`) and S3 (requests signed for the `s3` service) here
//!   unchanged, and answers with moto's response.
//! - State: moto keeps everything in memory. Every write that succeeded (DynamoDB's writing
//!   operations; S3's `PUT`, `POST` and `DELETE`) is appended to the state database's
//!   `emulator_journal`, and replayed in order at the next start against the fresh emulator:
//!   tables and buckets come back with their data. A multipart upload's new upload id is
//!   mapped during the replay.
//! - Stop: the process group is terminated (then killed); Ctrl-C leaves no process behind.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{AUTHORIZATION, CONNECTION, CONTENT_LENGTH, HOST, TRANSFER_ENCODING};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use portico_spec::config::{Config, ResourceKind};
use portico_spec::names::{Location, Names};
use rusqlite::params;
use serde_json::{Value, json};

use crate::store::Store;

/// How long moto server may take to answer after it is started.
const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// What the emulator serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// DynamoDB (and DynamoDB Streams).
    DynamoDb,
    /// S3.
    S3,
}

impl Service {
    fn as_str(self) -> &'static str {
        match self {
            Self::DynamoDb => "dynamodb",
            Self::S3 => "s3",
        }
    }
}

/// Why the emulator did not start.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    /// No moto server on this machine.
    #[error(
        "DynamoDB and S3 need moto server, which was not found ({program}: {source}); install it with `python3 -m pip install 'moto[server]'` (or set PORTICO_MOTO_SERVER to its path)"
    )]
    Missing {
        /// The program looked for.
        program: String,
        /// Why it could not be started.
        source: std::io::Error,
    },
    /// Started, but it did not answer, or it exited.
    #[error("moto server did not start: {0}")]
    NotReady(String),
    /// Creating a declared table or bucket, or replaying the journal, failed.
    #[error("moto server: {0}")]
    Setup(String),
}

/// A running emulator.
pub struct Emulator {
    authority: String,
    child: tokio::sync::Mutex<Option<tokio::process::Child>>,
    pid: Option<u32>,
    client: Client<HttpConnector, Full<Bytes>>,
    store: Arc<Store>,
}

/// A declared table or bucket to create at start.
#[derive(Debug, Clone, PartialEq)]
pub enum Declared {
    /// `CreateTable`'s request (and `UpdateTimeToLive`'s, when the table has one).
    Table(Value, Option<Value>),
    /// A bucket's name.
    Bucket(String),
}

/// The owned `[[tables]]` and `[[buckets]]` of `config` for a stage, as the emulator creates
/// them (external ones are AWS's).
pub fn declared(config: &Config, names: &Names, location: &Location) -> Vec<Declared> {
    let resolved = config.stage_resources(names, location, None);
    let physical = |kind: ResourceKind, name: &str| {
        resolved
            .iter()
            .find(|r| r.kind == kind && r.name == name && !r.external)
            .map(|r| r.physical.clone())
    };
    let mut out = Vec::new();
    for t in &config.tables {
        let (Some(name), Some(pk)) = (
            physical(ResourceKind::Table, t.name.get_ref()),
            &t.partition_key,
        ) else {
            continue;
        };
        let mut schema = vec![json!({"AttributeName": pk.name.get_ref(), "KeyType": "HASH"})];
        let mut attributes =
            vec![json!({"AttributeName": pk.name.get_ref(), "AttributeType": pk.kind.get_ref()})];
        if let Some(sk) = &t.sort_key {
            schema.push(json!({"AttributeName": sk.name.get_ref(), "KeyType": "RANGE"}));
            attributes.push(
                json!({"AttributeName": sk.name.get_ref(), "AttributeType": sk.kind.get_ref()}),
            );
        }
        let mut create = json!({
            "TableName": name,
            "KeySchema": schema,
            "AttributeDefinitions": attributes,
            "BillingMode": t.billing_mode.as_ref().map_or("PAY_PER_REQUEST", |m| m.get_ref().as_str()),
        });
        if let (Some(read), Some(write)) = (&t.read_capacity, &t.write_capacity) {
            create["ProvisionedThroughput"] =
                json!({"ReadCapacityUnits": read.get_ref(), "WriteCapacityUnits": write.get_ref()});
        }
        if let Some(view) = &t.stream {
            create["StreamSpecification"] =
                json!({"StreamEnabled": true, "StreamViewType": view.get_ref()});
        }
        let ttl = t.ttl_attribute.as_ref().map(|a| {
            json!({"TableName": name, "TimeToLiveSpecification": {"Enabled": true, "AttributeName": a.get_ref()}})
        });
        out.push(Declared::Table(create, ttl));
    }
    for b in &config.buckets {
        if let Some(name) = physical(ResourceKind::Bucket, b.name.get_ref()) {
            out.push(Declared::Bucket(name));
        }
    }
    out
}

impl Emulator {
    /// Starts moto server, creates `declared`, replays the journal kept in `store`.
    ///
    /// # Errors
    /// [`EmulatorError::Missing`] when moto server is not installed; the others when it does
    /// not come up or refuses the setup.
    pub async fn start(store: Arc<Store>, declared: &[Declared]) -> Result<Self, EmulatorError> {
        let program =
            std::env::var("PORTICO_MOTO_SERVER").unwrap_or_else(|_| "moto_server".to_owned());
        let port = std::net::TcpListener::bind(("127.0.0.1", 0))
            .and_then(|l| l.local_addr())
            .map_err(|e| EmulatorError::NotReady(format!("no free port: {e}")))?
            .port();
        let child = tokio::process::Command::new(&program)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .map_err(|source| EmulatorError::Missing {
                program: program.clone(),
                source,
            })?;
        let emulator = Self {
            authority: format!("127.0.0.1:{port}"),
            pid: child.id(),
            child: tokio::sync::Mutex::new(Some(child)),
            client: Client::builder(TokioExecutor::new()).build_http(),
            store,
        };
        if let Err(e) = emulator.setup(declared).await {
            emulator.stop().await;
            return Err(e);
        }
        Ok(emulator)
    }

    async fn setup(&self, declared: &[Declared]) -> Result<(), EmulatorError> {
        self.wait_ready().await?;
        for d in declared {
            match d {
                Declared::Table(create, ttl) => {
                    self.dynamodb("CreateTable", create).await?;
                    if let Some(ttl) = ttl {
                        self.dynamodb("UpdateTimeToLive", ttl).await?;
                    }
                }
                Declared::Bucket(name) => {
                    let (status, body) = self
                        .send(
                            Method::PUT,
                            &format!("/{name}"),
                            signed_for(Service::S3),
                            Bytes::new(),
                        )
                        .await
                        .map_err(EmulatorError::Setup)?;
                    if !status.is_success() {
                        return Err(EmulatorError::Setup(format!(
                            "creating bucket {name}: {status} {}",
                            String::from_utf8_lossy(&body)
                        )));
                    }
                }
            }
        }
        self.replay().await
    }

    async fn wait_ready(&self) -> Result<(), EmulatorError> {
        let deadline = tokio::time::Instant::now() + READY_TIMEOUT;
        loop {
            if let Ok((status, _)) = self
                .send(
                    Method::GET,
                    "/moto-api/data.json",
                    HeaderMap::new(),
                    Bytes::new(),
                )
                .await
            {
                if status.is_success() {
                    return Ok(());
                }
            }
            if let Some(child) = self.child.lock().await.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    return Err(EmulatorError::NotReady(format!("it exited with {status}")));
                }
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(EmulatorError::NotReady(format!(
                    "no answer on {} within {} s",
                    self.authority,
                    READY_TIMEOUT.as_secs()
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn dynamodb(&self, operation: &str, request: &Value) -> Result<(), EmulatorError> {
        let mut headers = signed_for(Service::DynamoDb);
        headers.insert(
            "content-type",
            HeaderValue::from_static("application/x-amz-json-1.0"),
        );
        if let Ok(target) = HeaderValue::from_str(&format!("DynamoDB_20120810.{operation}")) {
            headers.insert("x-amz-target", target);
        }
        let (status, body) = self
            .send(Method::POST, "/", headers, Bytes::from(request.to_string()))
            .await
            .map_err(EmulatorError::Setup)?;
        if status.is_success() {
            Ok(())
        } else {
            Err(EmulatorError::Setup(format!(
                "DynamoDB {operation}: {status} {}",
                String::from_utf8_lossy(&body)
            )))
        }
    }

    /// Replays the journal against the fresh emulator, in order.
    async fn replay(&self) -> Result<(), EmulatorError> {
        type Row = (String, String, String, Vec<u8>, Option<String>);
        let rows: Vec<Row> = self
            .store
            .with_connection(|conn| {
                let mut stmt = conn.prepare(
                    "SELECT method, target, headers, body, upload_id FROM emulator_journal ORDER BY id",
                )?;
                stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))?
                    .collect()
            })
            .map_err(|e| EmulatorError::Setup(format!("reading the journal: {e}")))?;
        let mut uploads: BTreeMap<String, String> = BTreeMap::new();
        for (method, mut target, headers, body, upload_id) in rows {
            for (old, new) in &uploads {
                target = target.replace(&format!("uploadId={old}"), &format!("uploadId={new}"));
            }
            let method = Method::from_bytes(method.as_bytes()).unwrap_or(Method::POST);
            let headers = decode_headers(&headers);
            let (_, response) = self
                .send(method, &target, headers, Bytes::from(body))
                .await
                .map_err(EmulatorError::Setup)?;
            if let (Some(old), Some(new)) = (upload_id, upload_id_of(&response)) {
                uploads.insert(old, new);
            }
        }
        Ok(())
    }

    /// Forwards a request of `service` and answers with the emulator's response; a write that
    /// succeeded is journaled.
    pub async fn forward(
        &self,
        service: Service,
        method: Method,
        target: &str,
        headers: &HeaderMap,
        body: Bytes,
    ) -> Response<Full<Bytes>> {
        let forwarded = forwardable(headers);
        let result = self
            .send_full(method.clone(), target, forwarded.clone(), body.clone())
            .await;
        let (status, response_headers, response_body) = match result {
            Ok(r) => r,
            Err(e) => {
                let mut reply = Response::new(Full::new(Bytes::from(format!(
                    "the DynamoDB/S3 emulator (moto server) did not answer: {e}"
                ))));
                *reply.status_mut() = StatusCode::BAD_GATEWAY;
                return reply;
            }
        };
        if status.is_success() && writes(service, &method, headers) {
            let upload_id =
                (service == Service::S3 && method == Method::POST && target.contains("uploads"))
                    .then(|| upload_id_of(&response_body))
                    .flatten();
            let recorded = self.store.with_connection(|conn| {
                conn.execute(
                    "INSERT INTO emulator_journal (service, method, target, headers, body, upload_id)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![
                        service.as_str(),
                        method.as_str(),
                        target,
                        encode_headers(&forwarded),
                        body.as_ref(),
                        upload_id
                    ],
                )
            });
            if let Err(e) = recorded {
                let mut reply = Response::new(Full::new(Bytes::from(format!(
                    "the write succeeded but could not be kept for the next start: {e}"
                ))));
                *reply.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
                return reply;
            }
        }
        let mut reply = Response::new(Full::new(response_body));
        *reply.status_mut() = status;
        for (name, value) in &response_headers {
            // Content-Length stays: the body is whole, and a HEAD answer has none but says it.
            if name != CONNECTION && name != TRANSFER_ENCODING {
                reply.headers_mut().append(name.clone(), value.clone());
            }
        }
        reply
    }

    async fn send(
        &self,
        method: Method,
        target: &str,
        headers: HeaderMap,
        body: Bytes,
    ) -> Result<(StatusCode, Bytes), String> {
        self.send_full(method, target, headers, body)
            .await
            .map(|(status, _, body)| (status, body))
    }

    async fn send_full(
        &self,
        method: Method,
        target: &str,
        headers: HeaderMap,
        body: Bytes,
    ) -> Result<(StatusCode, HeaderMap, Bytes), String> {
        let uri = format!("http://{}{target}", self.authority);
        let mut request = Request::builder()
            .method(method)
            .uri(uri)
            .body(Full::new(body))
            .map_err(|e| e.to_string())?;
        *request.headers_mut() = headers;
        if let Ok(host) = HeaderValue::from_str(&self.authority) {
            request.headers_mut().insert(HOST, host);
        }
        let response = tokio::time::timeout(Duration::from_secs(60), self.client.request(request))
            .await
            .map_err(|_| "no answer within 60 s".to_owned())?
            .map_err(|e| e.to_string())?;
        let (parts, body) = response.into_parts();
        let body = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
        Ok((parts.status, parts.headers, body))
    }

    /// Terminates moto server's process group, then kills what is left after 3 s.
    pub async fn stop(&self) {
        let Some(mut child) = self.child.lock().await.take() else {
            return;
        };
        if let Some(pid) = self.pid {
            crate::lambda::signal_group(pid, nix::sys::signal::Signal::SIGTERM);
        }
        if tokio::time::timeout(Duration::from_secs(3), child.wait())
            .await
            .is_err()
        {
            if let Some(pid) = self.pid {
                crate::lambda::signal_group(pid, nix::sys::signal::Signal::SIGKILL);
            }
            let _ = child.kill().await;
        }
    }
}

/// The request's headers without those of this hop. The signature stays: moto checks none,
/// but reads the service from its credential scope.
fn forwardable(headers: &HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::new();
    for (name, value) in headers {
        if ![HOST, CONNECTION, CONTENT_LENGTH, TRANSFER_ENCODING].contains(name)
            && name.as_str() != "expect"
        {
            out.append(name.clone(), value.clone());
        }
    }
    out
}

/// Headers for a request of Portico's own: moto tells the service from the signature's
/// credential scope (and checks no signature).
fn signed_for(service: Service) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let authorization = format!(
        "AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/{}/aws4_request, SignedHeaders=host, Signature=0",
        service.as_str()
    );
    if let Ok(value) = HeaderValue::from_str(&authorization) {
        headers.insert(AUTHORIZATION, value);
    }
    headers
}

/// Whether a request changes the emulator's state.
fn writes(service: Service, method: &Method, headers: &HeaderMap) -> bool {
    match service {
        Service::S3 => matches!(*method, Method::PUT | Method::POST | Method::DELETE),
        Service::DynamoDb => {
            let operation = headers
                .get("x-amz-target")
                .and_then(|t| t.to_str().ok())
                .and_then(|t| t.split_once('.'))
                .map_or("", |(_, op)| op);
            matches!(
                operation,
                "PutItem"
                    | "UpdateItem"
                    | "DeleteItem"
                    | "BatchWriteItem"
                    | "TransactWriteItems"
                    | "CreateTable"
                    | "DeleteTable"
                    | "UpdateTable"
                    | "UpdateTimeToLive"
                    | "ExecuteStatement"
                    | "BatchExecuteStatement"
                    | "ExecuteTransaction"
                    | "TagResource"
                    | "UntagResource"
            )
        }
    }
}

fn encode_headers(headers: &HeaderMap) -> String {
    let pairs: Vec<(String, String)> = headers
        .iter()
        .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect();
    serde_json::to_string(&pairs).unwrap_or_else(|_| "[]".to_owned())
}

fn decode_headers(text: &str) -> HeaderMap {
    let pairs: Vec<(String, String)> = serde_json::from_str(text).unwrap_or_default();
    let mut out = HeaderMap::new();
    for (name, value) in pairs {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            out.append(n, v);
        }
    }
    out
}

/// `<UploadId>…</UploadId>` of a CreateMultipartUpload response.
fn upload_id_of(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    let start = text.find("<UploadId>")? + "<UploadId>".len();
    let end = text[start..].find("</UploadId>")? + start;
    Some(text[start..end].to_owned())
}

/// Which emulated service a request is for: DynamoDB by its `X-Amz-Target`, S3 by the service
/// of its signature's credential scope (header or presigned query).
pub fn service_of(headers: &HeaderMap, query: Option<&str>) -> Option<Service> {
    let target = headers.get("x-amz-target").and_then(|t| t.to_str().ok());
    if target.is_some_and(|t| {
        t.starts_with("DynamoDB_20120810.") || t.starts_with("DynamoDBStreams_20120810.")
    }) {
        return Some(Service::DynamoDb);
    }
    if target.is_some() {
        return None;
    }
    let scope_service = |credential: &str| credential.split('/').nth(3).map(str::to_owned);
    let from_header = headers
        .get(AUTHORIZATION)
        .and_then(|a| a.to_str().ok())
        .and_then(|a| a.split("Credential=").nth(1))
        .and_then(|c| scope_service(c.split(',').next().unwrap_or_default()));
    let from_query = query.and_then(|q| {
        form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "X-Amz-Credential")
            .and_then(|(_, v)| scope_service(&v))
    });
    match from_header.or(from_query).as_deref() {
        Some("s3") => Some(Service::S3),
        Some("dynamodb") => Some(Service::DynamoDb),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_told_apart_by_target_or_signature_scope() {
        let mut dynamo = HeaderMap::new();
        dynamo.insert(
            "x-amz-target",
            HeaderValue::from_static("DynamoDB_20120810.PutItem"),
        );
        assert_eq!(service_of(&dynamo, None), Some(Service::DynamoDb));
        let mut sfn = HeaderMap::new();
        sfn.insert(
            "x-amz-target",
            HeaderValue::from_static("AWSStepFunctions.StartExecution"),
        );
        assert_eq!(service_of(&sfn, None), None);
        let mut s3 = HeaderMap::new();
        s3.insert(
            AUTHORIZATION,
            HeaderValue::from_static(
                "AWS4-HMAC-SHA256 Credential=local/20261207/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00",
            ),
        );
        assert_eq!(service_of(&s3, None), Some(Service::S3));
        let presigned = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=local%2F20261207%2Fus-east-1%2Fs3%2Faws4_request";
        assert_eq!(
            service_of(&HeaderMap::new(), Some(presigned)),
            Some(Service::S3)
        );
        let mut ses = HeaderMap::new();
        ses.insert(
            AUTHORIZATION,
            HeaderValue::from_static(
                "AWS4-HMAC-SHA256 Credential=local/20261207/us-east-1/ses/aws4_request",
            ),
        );
        assert_eq!(service_of(&ses, None), None);
    }

    #[test]
    fn writes_are_told_from_reads() {
        let mut put = HeaderMap::new();
        put.insert(
            "x-amz-target",
            HeaderValue::from_static("DynamoDB_20120810.PutItem"),
        );
        assert!(writes(Service::DynamoDb, &Method::POST, &put));
        let mut get = HeaderMap::new();
        get.insert(
            "x-amz-target",
            HeaderValue::from_static("DynamoDB_20120810.GetItem"),
        );
        assert!(!writes(Service::DynamoDb, &Method::POST, &get));
        assert!(writes(Service::S3, &Method::DELETE, &HeaderMap::new()));
        assert!(!writes(Service::S3, &Method::GET, &HeaderMap::new()));
        assert_eq!(
            upload_id_of(b"<InitiateMultipartUploadResult><UploadId>abc</UploadId></InitiateMultipartUploadResult>"),
            Some("abc".to_owned())
        );
    }
}
