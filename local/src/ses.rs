//! Local Amazon SES v2: `SendEmail` on the services endpoint, delivered to an outbox.
//!
//! The app's SES client, pointed here by `AWS_ENDPOINT_URL_SESV2`, calls
//! `POST /v2/email/outbound-emails` (REST-JSON) exactly as on AWS. Nothing leaves the machine:
//! each accepted message is written as an RFC 5322 file, `.portico/local/outbox/<id>.eml`
//! (MIME, UTF-8, `multipart/alternative` for text and HTML), with a `<id>.json` beside it that
//! the outbox pages list. Both are plain files, so the outbox survives a restart and is cleared
//! by deleting the folder.
//!
//! Like an SES account in the sandbox, the sender (`FromEmailAddress`, or the raw message's
//! `From`) must be a declared identity: an `[[email_identities]]` address, or an address at a
//! declared domain; anything else is `MessageRejected`. Unlike the sandbox, recipients are not
//! checked, since no message is delivered.
//!
//! Pages on the same endpoint: `GET /outbox` (newest first, [`PAGE_SIZE`] a page,
//! `?page=2`…), `GET /outbox/<id>` (headers and the body), `GET /outbox/<id>/body` (the HTML
//! body alone, sandboxed: no scripts), `GET /outbox/<id>.eml`, and `GET /outbox.json` (the
//! same pages) for scripts and tests. The list comes from an index of the outbox kept in
//! memory: each message's `.json` is read once, and the files are read off the thread that
//! serves the API, so a large outbox or a large message does not hold the API up.
//!
//! The outbox folder and its files are owner-only (they hold live decision links).

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Body;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::files::{DIR_MODE, FILE_MODE, create_private_dir, restrict, write_private};
use crate::logs::LogSink;
use crate::scheduler::{event_id, rfc3339};
use crate::server::{self, BodyError};

/// Where `SendEmail` is served.
const SEND_EMAIL_PATH: &str = "/v2/email/outbound-emails";

/// The largest `SendEmail` request taken: 10 MB, the API port's limit (and SES v1's message
/// limit). SES v2 takes messages up to 40 MB, but a local cloud that buffered 54 MB requests
/// would let any client grow it by hundreds of megabytes; a request announcing more is refused
/// before its body is read.
const BODY_LIMIT: usize = 10 * 1024 * 1024;

/// Messages on one page of `/outbox` and `/outbox.json`.
pub(crate) const PAGE_SIZE: usize = 50;

/// The region named in errors, as the rest of the local cloud's services.
const REGION: &str = "us-east-1";

/// SES refuses a message with more recipients than this.
const MAX_RECIPIENTS: usize = 50;

/// Whether the services endpoint routes `path` here.
pub(crate) fn is_ses_path(path: &str) -> bool {
    path.starts_with("/v2/email/") || is_outbox_page(path)
}

/// Whether `path` is one of the outbox pages (rather than the SES API).
pub(crate) fn is_outbox_page(path: &str) -> bool {
    path == "/outbox" || path == "/outbox.json" || path.starts_with("/outbox/")
}

/// The local SES: the outbox folder, the declared identities, and where to announce mail.
pub struct Ses {
    outbox: PathBuf,
    identities: Vec<String>,
    logs: Option<LogSink>,
    public_url: String,
    /// What the list pages show of each message, by id: each `.json` is read once.
    index: Mutex<HashMap<String, Summary>>,
}

/// What the list shows of a message.
#[derive(Debug, Clone)]
struct Summary {
    id: String,
    timestamp_ms: i64,
    from: String,
    recipients: Vec<String>,
    subject: String,
}

impl Summary {
    fn of(mail: &Mail) -> Self {
        Self {
            id: mail.id.clone(),
            timestamp_ms: mail.timestamp_ms,
            from: mail.from.clone(),
            recipients: recipients(mail),
            subject: mail.subject.clone(),
        }
    }
}

/// One page of the outbox, newest first.
struct ListPage {
    summaries: Vec<Summary>,
    /// 1-based.
    page: usize,
    total: usize,
}

impl ListPage {
    fn pages(&self) -> usize {
        self.total.div_ceil(PAGE_SIZE).max(1)
    }
}

type Reply = Response<Full<Bytes>>;

/// One message of the outbox, as `<id>.json` keeps it and `/outbox.json` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Mail {
    /// The `MessageId` answered to the sender; also the file name.
    pub(crate) id: String,
    /// When it was accepted, in milliseconds since the Unix epoch.
    pub(crate) timestamp_ms: i64,
    /// The `From` mailbox as given (`Name <address>` or an address).
    pub(crate) from: String,
    pub(crate) to: Vec<String>,
    pub(crate) cc: Vec<String>,
    pub(crate) bcc: Vec<String>,
    pub(crate) reply_to: Vec<String>,
    pub(crate) subject: String,
    pub(crate) text: Option<String>,
    pub(crate) html: Option<String>,
    /// Sent as `Content.Raw` (the `.eml` is the caller's message).
    pub(crate) raw: bool,
}

impl Ses {
    /// The service writing to `outbox`, accepting senders of `identities` (addresses or
    /// domains), announcing each message on `logs` with a link below `public_url` (the
    /// services endpoint, `http://127.0.0.1:8001`).
    pub(crate) fn new(
        outbox: PathBuf,
        identities: impl IntoIterator<Item = String>,
        logs: Option<LogSink>,
        public_url: String,
    ) -> Self {
        tighten_outbox(&outbox);
        Self {
            outbox,
            identities: identities
                .into_iter()
                .map(|i| i.to_ascii_lowercase())
                .collect(),
            logs,
            public_url,
            index: Mutex::default(),
        }
    }

    /// The outbox page's URL.
    pub fn outbox_url(public_url: &str) -> String {
        format!("{public_url}/outbox")
    }

    /// Answers one request routed here by [`is_ses_path`]; a body must arrive within
    /// `body_read`. Files are read and written off the serving thread.
    pub(crate) async fn handle<B>(self: &Arc<Self>, req: Request<B>, body_read: Duration) -> Reply
    where
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        let method = req.method().clone();
        let path = req.uri().path().to_owned();
        let query = req.uri().query().unwrap_or_default().to_owned();
        if path == SEND_EMAIL_PATH && method == Method::POST {
            let (parts, body) = req.into_parts();
            let body = match server::read_body(&parts.headers, body, BODY_LIMIT, body_read).await {
                Ok(body) => body,
                Err(BodyError::TooLarge) => {
                    return too_large(server::content_length(&parts.headers));
                }
                Err(BodyError::Timeout) => {
                    return closing(bad_request(&format!(
                        "the request body did not arrive within {} s",
                        body_read.as_secs()
                    )));
                }
                Err(BodyError::Read(e)) => {
                    return closing(bad_request(&format!("cannot read the request body: {e}")));
                }
            };
            let ses = Arc::clone(self);
            return self.off_thread(move || ses.send_email(&body)).await;
        }
        if path.starts_with("/v2/email/") {
            return ses_error(
                StatusCode::NOT_FOUND,
                "UnknownOperationException",
                &format!(
                    "portico local implements SES v2 `SendEmail` (POST {SEND_EMAIL_PATH}) only, \
                     not {method} {path}"
                ),
            );
        }
        if method != Method::GET && method != Method::HEAD {
            return page(
                StatusCode::METHOD_NOT_ALLOWED,
                "text/plain; charset=utf-8",
                "the outbox pages answer GET only\n".into(),
            );
        }
        let page_number = form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == "page")
            .and_then(|(_, v)| v.parse::<usize>().ok())
            .unwrap_or(1)
            .max(1);
        let ses = Arc::clone(self);
        match path.as_str() {
            "/outbox" => {
                self.off_thread(move || {
                    let list = ses.list(page_number);
                    page(StatusCode::OK, HTML, ses.list_page(&list).into())
                })
                .await
            }
            "/outbox.json" => {
                self.off_thread(move || {
                    let list = ses.list(page_number);
                    let mails: Vec<Value> = list
                        .summaries
                        .iter()
                        .filter_map(|s| ses.read_mail(&s.id))
                        .map(|m| ses.mail_json(&m))
                        .collect();
                    let mut res = page(
                        StatusCode::OK,
                        "application/json",
                        serde_json::to_vec_pretty(&mails).unwrap_or_default().into(),
                    );
                    list_headers(&mut res, &list);
                    res
                })
                .await
            }
            _ => {
                let rest = path.trim_start_matches("/outbox/").to_owned();
                self.off_thread(move || ses.message_page(&rest)).await
            }
        }
    }

    /// Runs `work` (file reads and writes, parsing) on a blocking thread.
    async fn off_thread(&self, work: impl FnOnce() -> Reply + Send + 'static) -> Reply {
        match tokio::task::spawn_blocking(work).await {
            Ok(reply) => reply,
            Err(err) => ses_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalServiceErrorException",
                &format!("the outbox failed: {err}"),
            ),
        }
    }

    fn message_page(&self, rest: &str) -> Reply {
        let (id, view) = if let Some(id) = rest.strip_suffix(".eml") {
            (id, View::Eml)
        } else if let Some(id) = rest.strip_suffix("/body") {
            (id, View::Body)
        } else {
            (rest, View::Page)
        };
        let not_found = || {
            page(
                StatusCode::NOT_FOUND,
                "text/plain; charset=utf-8",
                format!("no message `{rest}` in the outbox\n").into(),
            )
        };
        if !is_message_id(id) {
            return not_found();
        }
        let Some(mail) = self.read_mail(id) else {
            return not_found();
        };
        match view {
            View::Page => page(StatusCode::OK, HTML, self.detail_page(&mail).into()),
            View::Body => {
                let mut res = page(StatusCode::OK, HTML, body_document(&mail).into());
                // A mail is someone else's HTML on this origin: no scripts, no same-origin
                // access, links still work.
                res.headers_mut().insert(
                    "content-security-policy",
                    HeaderValue::from_static(
                        "sandbox allow-popups allow-popups-to-escape-sandbox \
                         allow-top-navigation-by-user-activation; script-src 'none'; \
                         object-src 'none'",
                    ),
                );
                res
            }
            View::Eml => match std::fs::read(self.outbox.join(format!("{id}.eml"))) {
                Ok(bytes) => page(StatusCode::OK, "message/rfc822", bytes.into()),
                Err(_) => not_found(),
            },
        }
    }

    /// `SendEmail`: validates like SES, writes the message, announces it.
    fn send_email(&self, body: &[u8]) -> Reply {
        let request: SendEmailRequest = match serde_json::from_slice(body) {
            Ok(request) => request,
            Err(err) => {
                return bad_request(&format!("the SendEmail request is not valid: {err}"));
            }
        };
        let id = message_id();
        let timestamp_ms = now_ms();
        let outgoing = match compose(request, &id, timestamp_ms) {
            Ok(outgoing) => outgoing,
            Err(reply) => return reply,
        };
        if let Err(reply) = self.check_sender(&outgoing.mail.from) {
            return reply;
        }
        if let Err(err) = self.write(&outgoing) {
            return ses_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalServiceErrorException",
                &format!(
                    "cannot write the message to {}: {err}",
                    self.outbox.display()
                ),
            );
        }
        if let Some(logs) = &self.logs {
            logs.system(&announcement(&outgoing.mail, &self.public_url));
        }
        let mut res = page(
            StatusCode::OK,
            "application/json",
            json!({ "MessageId": id }).to_string().into(),
        );
        res.headers_mut().insert(
            "x-amzn-requestid",
            HeaderValue::from_str(&event_id()).unwrap_or(HeaderValue::from_static("local")),
        );
        res
    }

    /// `MessageRejected` unless `from`'s address or domain is a declared identity.
    #[allow(
        clippy::result_large_err,
        reason = "the refusal is the answer, built once per request"
    )]
    fn check_sender(&self, from: &str) -> Result<(), Reply> {
        let address = mailbox(from)
            .map(|m| m.address.to_ascii_lowercase())
            .unwrap_or_default();
        let domain = address.rsplit_once('@').map(|(_, d)| d).unwrap_or_default();
        if self
            .identities
            .iter()
            .any(|identity| *identity == address || *identity == domain)
        {
            return Ok(());
        }
        let declared = if self.identities.is_empty() {
            "none".to_owned()
        } else {
            self.identities.join(", ")
        };
        Err(ses_error(
            StatusCode::BAD_REQUEST,
            "MessageRejected",
            &format!(
                "Email address is not verified. The following identities failed the check in \
                 region {}: {address} (portico local: declare it in portico.toml as \
                 [[email_identities]] address = \"{address}\" or domain = \"{domain}\"; declared: \
                 {declared})",
                REGION.to_ascii_uppercase()
            ),
        ))
    }

    /// Writes the message's two files, owner-only, and indexes it.
    fn write(&self, outgoing: &Outgoing) -> std::io::Result<()> {
        create_private_dir(&self.outbox)?;
        let id = &outgoing.mail.id;
        write_private(&self.outbox.join(format!("{id}.eml")), &outgoing.eml)?;
        // The JSON last: a message is listed once both files are complete.
        let meta = serde_json::to_vec_pretty(&outgoing.mail).map_err(std::io::Error::other)?;
        write_private(&self.outbox.join(format!("{id}.json")), &meta)?;
        self.index().insert(id.clone(), Summary::of(&outgoing.mail));
        Ok(())
    }

    fn read_mail(&self, id: &str) -> Option<Mail> {
        let bytes = std::fs::read(self.outbox.join(format!("{id}.json"))).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    fn index(&self) -> MutexGuard<'_, HashMap<String, Summary>> {
        self.index
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Page `page` (1-based) of the outbox, newest first. The folder's names are listed each
    /// time (messages deleted or added by hand show), but a message's `.json` is read only
    /// the first time it is seen. Blocking: call it off the serving thread.
    fn list(&self, page: usize) -> ListPage {
        let ids: Vec<String> = std::fs::read_dir(&self.outbox)
            .map(|entries| {
                entries
                    .flatten()
                    .filter_map(|entry| {
                        let name = entry.file_name();
                        let id = name.to_str()?.strip_suffix(".json")?;
                        is_message_id(id).then(|| id.to_owned())
                    })
                    .collect()
            })
            .unwrap_or_default();
        let unseen: Vec<&String> = {
            let index = self.index();
            ids.iter().filter(|id| !index.contains_key(*id)).collect()
        };
        // Read without holding the lock: a large outbox's first listing takes a while.
        let read: Vec<Summary> = unseen
            .into_iter()
            .filter_map(|id| self.read_mail(id))
            .map(|mail| Summary::of(&mail))
            .collect();
        let mut summaries: Vec<Summary> = {
            let mut index = self.index();
            for summary in read {
                index.insert(summary.id.clone(), summary);
            }
            let present: std::collections::HashSet<&String> = ids.iter().collect();
            index.retain(|id, _| present.contains(id));
            index.values().cloned().collect()
        };
        summaries.sort_by(|a, b| {
            b.timestamp_ms
                .cmp(&a.timestamp_ms)
                .then_with(|| b.id.cmp(&a.id))
        });
        let total = summaries.len();
        let summaries = summaries
            .into_iter()
            .skip((page - 1).saturating_mul(PAGE_SIZE))
            .take(PAGE_SIZE)
            .collect();
        ListPage {
            summaries,
            page,
            total,
        }
    }

    fn mail_json(&self, mail: &Mail) -> Value {
        let mut value = serde_json::to_value(mail).unwrap_or_default();
        value["time"] = Value::String(rfc3339(mail.timestamp_ms.div_euclid(1000)));
        value["url"] = Value::String(format!("{}/outbox/{}", self.public_url, mail.id));
        value["eml"] = Value::String(
            self.outbox
                .join(format!("{}.eml", mail.id))
                .display()
                .to_string(),
        );
        value
    }

    fn list_page(&self, list: &ListPage) -> String {
        let mut rows = String::new();
        for mail in &list.summaries {
            let _ = writeln!(
                rows,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td><a href=\"/outbox/{}\">{}</a></td></tr>",
                escape(&rfc3339(mail.timestamp_ms.div_euclid(1000))),
                escape(&mail.from),
                escape(&mail.recipients.join(", ")),
                escape(&mail.id),
                escape(if mail.subject.is_empty() {
                    "(no subject)"
                } else {
                    &mail.subject
                }),
            );
        }
        let content = if list.total == 0 {
            "<p>No mail yet. Messages the app sends with SES v2 <code>SendEmail</code> appear here.</p>"
                .to_owned()
        } else {
            format!(
                "<table><thead><tr><th>Time (UTC)</th><th>From</th><th>To</th><th>Subject</th></tr></thead>\n<tbody>\n{rows}</tbody></table>"
            )
        };
        let mut nav = String::new();
        if list.pages() > 1 {
            let _ = write!(
                nav,
                "<p class=\"meta\">page {} of {}",
                list.page,
                list.pages()
            );
            if list.page > 1 {
                let _ = write!(
                    nav,
                    " &middot; <a href=\"/outbox?page={}\">newer</a>",
                    list.page - 1
                );
            }
            if list.page < list.pages() {
                let _ = write!(
                    nav,
                    " &middot; <a href=\"/outbox?page={}\">older</a>",
                    list.page + 1
                );
            }
            nav.push_str("</p>\n");
        }
        document(
            "Outbox",
            &format!(
                "<h1>Outbox</h1>\n<p class=\"meta\">{} message(s) in {} &middot; <a href=\"/outbox.json\">JSON</a></p>\n{nav}{content}",
                list.total,
                escape(&self.outbox.display().to_string())
            ),
        )
    }

    fn detail_page(&self, mail: &Mail) -> String {
        let mut head = String::new();
        let mut row = |name: &str, value: &str| {
            if !value.is_empty() {
                let _ = writeln!(
                    head,
                    "<tr><th>{}</th><td>{}</td></tr>",
                    escape(name),
                    escape(value)
                );
            }
        };
        row("From", &mail.from);
        row("To", &mail.to.join(", "));
        row("Cc", &mail.cc.join(", "));
        row("Bcc", &mail.bcc.join(", "));
        row("Reply-To", &mail.reply_to.join(", "));
        row("Subject", &mail.subject);
        row("Date", &rfc3339(mail.timestamp_ms.div_euclid(1000)));
        row("Message-ID", &mail.id);
        let id = escape(&mail.id);
        let mut body = String::new();
        if mail.html.is_some() {
            let _ = write!(
                body,
                "<h2>HTML</h2>\n<p class=\"meta\"><a href=\"/outbox/{id}/body\" target=\"_blank\">open in its own page</a></p>\n\
                 <iframe src=\"/outbox/{id}/body\" title=\"HTML body\" \
                 sandbox=\"allow-popups allow-popups-to-escape-sandbox allow-top-navigation-by-user-activation\"></iframe>\n"
            );
        }
        if let Some(text) = &mail.text {
            let _ = write!(body, "<h2>Text</h2>\n<pre>{}</pre>\n", linkify(text));
        }
        document(
            &mail.subject,
            &format!(
                "<p class=\"meta\"><a href=\"/outbox\">&larr; Outbox</a> &middot; <a href=\"/outbox/{id}.eml\">.eml</a></p>\n\
                 <h1>{}</h1>\n<table class=\"headers\">\n{head}</table>\n{body}",
                escape(if mail.subject.is_empty() {
                    "(no subject)"
                } else {
                    &mail.subject
                })
            ),
        )
    }
}

#[derive(Clone, Copy)]
enum View {
    Page,
    Body,
    Eml,
}

const HTML: &str = "text/html; charset=utf-8";

fn page(status: StatusCode, content_type: &'static str, body: Bytes) -> Reply {
    let mut res = Response::new(Full::new(body));
    *res.status_mut() = status;
    res.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    res.headers_mut().insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    if content_type == HTML {
        res.headers_mut().insert(
            "content-security-policy",
            HeaderValue::from_static(
                "default-src 'none'; style-src 'unsafe-inline'; frame-src 'self'; img-src 'self'; frame-ancestors 'self'",
            ),
        );
    }
    res
}

/// An SES error: AWS's REST-JSON shape, the code in `x-amzn-ErrorType`.
fn ses_error(status: StatusCode, code: &'static str, message: &str) -> Reply {
    let mut res = page(
        status,
        "application/json",
        json!({ "message": message }).to_string().into(),
    );
    res.headers_mut()
        .insert("x-amzn-errortype", HeaderValue::from_static(code));
    res
}

fn bad_request(message: &str) -> Reply {
    ses_error(StatusCode::BAD_REQUEST, "BadRequestException", message)
}

/// The SES v2 `SendEmail` request; every field optional here, so that what is missing gets
/// SES's error instead of a parse error.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SendEmailRequest {
    from_email_address: Option<String>,
    destination: Option<Destination>,
    reply_to_addresses: Option<Vec<String>>,
    content: Option<EmailContent>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Destination {
    to_addresses: Option<Vec<String>>,
    cc_addresses: Option<Vec<String>>,
    bcc_addresses: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct EmailContent {
    simple: Option<SimpleMessage>,
    raw: Option<RawMessage>,
    template: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SimpleMessage {
    subject: Option<Content>,
    body: Option<MessageBody>,
    headers: Option<Vec<MessageHeader>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Content {
    data: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct MessageBody {
    text: Option<Content>,
    html: Option<Content>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct MessageHeader {
    name: String,
    value: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawMessage {
    data: Option<String>,
}

/// A message ready to be written: the `.eml` bytes and what the outbox lists.
struct Outgoing {
    eml: Vec<u8>,
    mail: Mail,
}

/// Validates the request as SES does and builds the message.
#[allow(
    clippy::result_large_err,
    reason = "the refusal is the answer, built once per request"
)]
fn compose(request: SendEmailRequest, id: &str, timestamp_ms: i64) -> Result<Outgoing, Reply> {
    let content = request
        .content
        .ok_or_else(|| bad_request("Missing required field: Content"))?;
    let destination = request.destination.unwrap_or_default();
    let given = |list: Option<Vec<String>>| list.unwrap_or_default();
    let mut to = given(destination.to_addresses);
    let mut cc = given(destination.cc_addresses);
    let mut bcc = given(destination.bcc_addresses);
    let reply_to = given(request.reply_to_addresses);
    match (content.simple, content.raw, content.template) {
        (Some(simple), None, None) => {
            let from = request.from_email_address.ok_or_else(|| {
                bad_request(
                    "Missing required field: FromEmailAddress (required for Simple content)",
                )
            })?;
            let subject = simple.subject.and_then(|s| s.data).ok_or_else(|| {
                bad_request("Missing required field: Content.Simple.Subject.Data")
            })?;
            let body = simple
                .body
                .ok_or_else(|| bad_request("Missing required field: Content.Simple.Body"))?;
            let text = body.text.and_then(|t| t.data);
            let html = body.html.and_then(|h| h.data);
            if text.is_none() && html.is_none() {
                return Err(bad_request(
                    "Content.Simple.Body needs Text or Html (with Data)",
                ));
            }
            for address in [&from]
                .into_iter()
                .chain(&to)
                .chain(&cc)
                .chain(&bcc)
                .chain(&reply_to)
            {
                check_address(address)?;
            }
            check_recipients(to.len() + cc.len() + bcc.len())?;
            let extra: Vec<(String, String)> = simple
                .headers
                .unwrap_or_default()
                .into_iter()
                .map(|h| (h.name, h.value))
                .collect();
            for (name, value) in &extra {
                if name.is_empty()
                    || !name.bytes().all(|b| b.is_ascii_graphic() && b != b':')
                    || value.contains(['\r', '\n'])
                {
                    return Err(bad_request(&format!("invalid message header `{name}`")));
                }
            }
            let mail = Mail {
                id: id.to_owned(),
                timestamp_ms,
                from,
                to,
                cc,
                bcc,
                reply_to,
                subject,
                text,
                html,
                raw: false,
            };
            let eml = build_message(&mail, &extra);
            Ok(Outgoing { eml, mail })
        }
        (None, Some(raw), None) => {
            let data = raw
                .data
                .ok_or_else(|| bad_request("Missing required field: Content.Raw.Data"))?;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(data.trim())
                .map_err(|e| bad_request(&format!("Content.Raw.Data is not base64: {e}")))?;
            let parsed = parse_message(&bytes);
            if parsed.headers.is_empty() {
                return Err(bad_request(
                    "Content.Raw.Data is not an e-mail message (no headers)",
                ));
            }
            let from = match request.from_email_address {
                Some(from) => from,
                None => parsed.header("from").map(decode_words).ok_or_else(|| {
                    bad_request(
                        "the raw message has no From header and the request no FromEmailAddress",
                    )
                })?,
            };
            let listed = |name: &str| {
                parsed
                    .header(name)
                    .map(|v| split_addresses(&decode_words(v)))
                    .unwrap_or_default()
            };
            if to.is_empty() && cc.is_empty() && bcc.is_empty() {
                to = listed("to");
                cc = listed("cc");
                bcc = listed("bcc");
            }
            check_address(&from)?;
            for address in to.iter().chain(&cc).chain(&bcc) {
                check_address(address)?;
            }
            check_recipients(to.len() + cc.len() + bcc.len())?;
            let (text, html) = parsed.bodies();
            let mail = Mail {
                id: id.to_owned(),
                timestamp_ms,
                from,
                to,
                cc,
                bcc,
                reply_to: if reply_to.is_empty() {
                    listed("reply-to")
                } else {
                    reply_to
                },
                subject: parsed
                    .header("subject")
                    .map(decode_words)
                    .unwrap_or_default(),
                text,
                html,
                raw: true,
            };
            // SES adds the headers a message lacks.
            let mut eml = Vec::new();
            if parsed.header("message-id").is_none() {
                eml.extend_from_slice(format!("Message-ID: <{id}@portico.local>\r\n").as_bytes());
            }
            if parsed.header("date").is_none() {
                eml.extend_from_slice(
                    format!("Date: {}\r\n", rfc5322_date(timestamp_ms)).as_bytes(),
                );
            }
            eml.extend_from_slice(&bytes);
            Ok(Outgoing { eml, mail })
        }
        (None, None, Some(_)) => Err(bad_request(
            "portico local does not render SES templates (Content.Template); send Simple or Raw content",
        )),
        _ => Err(bad_request(
            "Content needs exactly one of Simple, Raw and Template",
        )),
    }
}

#[allow(
    clippy::result_large_err,
    reason = "the refusal is the answer, built once per request"
)]
fn check_recipients(count: usize) -> Result<(), Reply> {
    if count == 0 {
        return Err(bad_request(
            "the message has no recipients: give Destination.ToAddresses, CcAddresses or BccAddresses",
        ));
    }
    if count > MAX_RECIPIENTS {
        return Err(bad_request(&format!(
            "Recipient count exceeds {MAX_RECIPIENTS}: {count} recipients"
        )));
    }
    Ok(())
}

#[allow(
    clippy::result_large_err,
    reason = "the refusal is the answer, built once per request"
)]
fn check_address(given: &str) -> Result<(), Reply> {
    mailbox(given).map(drop).map_err(|why| bad_request(&why))
}

/// A mailbox: `address` or `Display Name <address>`.
#[derive(Debug, PartialEq, Eq)]
struct Mailbox {
    name: Option<String>,
    address: String,
}

fn mailbox(given: &str) -> Result<Mailbox, String> {
    let given = given.trim();
    let (name, address) = match (given.rfind('<'), given.ends_with('>')) {
        (Some(open), true) => {
            let name = given[..open].trim().trim_matches('"').replace("\\\"", "\"");
            (
                (!name.is_empty()).then_some(name),
                given[open + 1..given.len() - 1].trim(),
            )
        }
        _ => (None, given),
    };
    if name.as_deref().is_some_and(|n| n.contains(['\r', '\n'])) {
        return Err(format!(
            "Illegal address: `{given}`: a line break in the name"
        ));
    }
    check_address_syntax(address).map_err(|why| match why {
        AddressError::NoDomain => format!("Missing final '@domain' in `{given}`"),
        why => format!("Illegal address: `{given}`: {why}"),
    })?;
    Ok(Mailbox {
        name,
        address: address.to_owned(),
    })
}

/// Why an address is not one SES sends to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AddressError {
    NoDomain,
    NotAscii,
    BadLocalPart,
    BadDomain,
    TooLong,
}

impl std::fmt::Display for AddressError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::NoDomain => "no '@domain'",
            Self::NotAscii => {
                "SES takes 7-bit ASCII addresses only: encode a Unicode domain with Punycode \
                 (xn--…); a Unicode local part cannot be sent"
            }
            Self::BadLocalPart => {
                "the local part must be letters, digits and !#$%&'*+-/=?^_`{|}~ in dot-separated \
                 words, or a quoted string"
            }
            Self::BadDomain => {
                "the domain must be dot-separated labels of letters, digits and '-' (1 to 63 \
                 characters, not starting or ending with '-')"
            }
            Self::TooLong => "the local part is over 64 characters or the address over 320",
        })
    }
}

/// Checks `address` (`local@domain`, no display name) as SES does: SES has no SMTPUTF8, so the
/// address is 7-bit ASCII (a Unicode domain is sent in Punycode, `xn--…`); the local part is
/// an RFC 5322 dot-atom (no leading, trailing or doubled dot) or a quoted string; the domain
/// is host-name labels (no empty label, no `/`, no second `@`), with at least two labels
/// (`localhost` aside).
fn check_address_syntax(address: &str) -> Result<(), AddressError> {
    const ATEXT: &[u8] = b"!#$%&'*+-/=?^_`{|}~";
    if !address.is_ascii() {
        return Err(AddressError::NotAscii);
    }
    let (local, domain) = address.rsplit_once('@').ok_or(AddressError::NoDomain)?;
    if domain.is_empty() {
        return Err(AddressError::NoDomain);
    }
    if local.len() > 64 || address.len() > 320 {
        return Err(AddressError::TooLong);
    }
    let quoted = local.len() >= 2 && local.starts_with('"') && local.ends_with('"');
    let local_ok = if quoted {
        let inner = &local.as_bytes()[1..local.len() - 1];
        let mut escaped = false;
        inner.iter().all(|&b| {
            let ok = (b' '..=b'~').contains(&b) && (escaped || b != b'"');
            escaped = !escaped && b == b'\\';
            ok
        }) && !escaped
    } else {
        !local.is_empty()
            && local.split('.').all(|word| {
                !word.is_empty()
                    && word
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || ATEXT.contains(&b))
            })
    };
    if !local_ok {
        return Err(AddressError::BadLocalPart);
    }
    let labels: Vec<&str> = domain.split('.').collect();
    let label_ok = |label: &&str| {
        (1..=63).contains(&label.len())
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    if domain.len() > 253
        || !labels.iter().all(label_ok)
        || labels.len() < 2 && !domain.eq_ignore_ascii_case("localhost")
    {
        return Err(AddressError::BadDomain);
    }
    Ok(())
}

/// The recipients for the list page and the terminal: To, then Cc, then Bcc.
fn recipients(mail: &Mail) -> Vec<String> {
    mail.to
        .iter()
        .chain(&mail.cc)
        .chain(&mail.bcc)
        .map(|r| mailbox(r).map_or_else(|_| r.clone(), |m| m.address))
        .collect()
}

/// The terminal line for a message: `mail  to a@example.com: "Subject" → <url>`.
fn announcement(mail: &Mail, public_url: &str) -> String {
    let printable = |s: &str| -> String {
        s.chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect()
    };
    format!(
        "mail  to {}: \"{}\" → {public_url}/outbox/{}",
        printable(&recipients(mail).join(", ")),
        printable(&mail.subject),
        mail.id
    )
}

/// An SES-like message id: `<13 hex digits of ms>-<uuid>-000000`.
fn message_id() -> String {
    format!("{:013x}-{}-000000", now_ms(), event_id())
}

/// Whether `id` is shaped like the ids [`message_id`] makes (no path tricks).
fn is_message_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 80 && id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Narrows the outbox folder and its files to owner-only (an older version wrote them 0644).
fn tighten_outbox(outbox: &Path) {
    let _ = restrict(outbox, DIR_MODE);
    if let Ok(entries) = std::fs::read_dir(outbox) {
        for entry in entries.flatten() {
            let _ = restrict(&entry.path(), FILE_MODE);
        }
    }
}

/// `X-Total-Count`, and `Link` to the neighbouring pages, on a page of `/outbox.json`.
fn list_headers(res: &mut Reply, list: &ListPage) {
    let headers = res.headers_mut();
    headers.insert("x-total-count", HeaderValue::from(list.total));
    let mut links = Vec::new();
    if list.page > 1 {
        links.push(format!(
            "</outbox.json?page={}>; rel=\"prev\"",
            list.page - 1
        ));
    }
    if list.page < list.pages() {
        links.push(format!(
            "</outbox.json?page={}>; rel=\"next\"",
            list.page + 1
        ));
    }
    if let Ok(value) = HeaderValue::from_str(&links.join(", ")) {
        if !links.is_empty() {
            headers.insert(http::header::LINK, value);
        }
    }
}

/// A `SendEmail` over [`BODY_LIMIT`]: `MessageRejected`, and the connection closes (the rest
/// of the body is not read).
fn too_large(announced: Option<u64>) -> Reply {
    let size = announced.map_or_else(|| format!("over {BODY_LIMIT}"), |n| n.to_string());
    closing(ses_error(
        StatusCode::PAYLOAD_TOO_LARGE,
        "MessageRejected",
        &format!(
            "Message length is more than {BODY_LIMIT} bytes long: '{size}' (portico local takes \
             SendEmail requests up to 10 MB)"
        ),
    ))
}

/// `reply`, closing the connection.
fn closing(mut reply: Reply) -> Reply {
    reply
        .headers_mut()
        .insert(http::header::CONNECTION, HeaderValue::from_static("close"));
    reply
}

/// `Thu, 26 Nov 2026 20:15:00 +0000`.
fn rfc5322_date(timestamp_ms: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = timestamp_ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let of_day = secs.rem_euclid(86_400);
    let (year, month, day) = crate::usage::civil_from_days(days);
    format!(
        "{}, {day:02} {} {year} {:02}:{:02}:{:02} +0000",
        DAYS[days.rem_euclid(7) as usize],
        MONTHS[(month as usize).saturating_sub(1) % 12],
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60
    )
}

// ---------------------------------------------------------------------------------------------
// Building messages (RFC 5322, MIME)

/// The RFC 5322 message for a simple `SendEmail`: CRLF line ends, encoded words for non-ASCII
/// headers, quoted-printable UTF-8 bodies, `multipart/alternative` with both bodies.
/// `Bcc` is kept, as in a sender's copy.
fn build_message(mail: &Mail, extra_headers: &[(String, String)]) -> Vec<u8> {
    let mut out = String::new();
    let mut header = |name: &str, value: &str| {
        out.push_str(name);
        out.push_str(": ");
        out.push_str(value);
        out.push_str("\r\n");
    };
    header("Date", &rfc5322_date(mail.timestamp_ms));
    header("From", &mailbox_header(&mail.from));
    for (name, list) in [
        ("To", &mail.to),
        ("Cc", &mail.cc),
        ("Bcc", &mail.bcc),
        ("Reply-To", &mail.reply_to),
    ] {
        if !list.is_empty() {
            let values: Vec<String> = list.iter().map(|m| mailbox_header(m)).collect();
            header(name, &values.join(",\r\n "));
        }
    }
    header("Subject", &encode_header_text(&mail.subject));
    header("Message-ID", &format!("<{}@portico.local>", mail.id));
    for (name, value) in extra_headers {
        header(name, &encode_header_text(value));
    }
    header("MIME-Version", "1.0");
    let part = |content_type: &str, text: &str| {
        format!(
            "Content-Type: {content_type}; charset=UTF-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n{}",
            quoted_printable(text)
        )
    };
    match (&mail.text, &mail.html) {
        (Some(text), Some(html)) => {
            // `=_` never occurs in quoted-printable text, so the boundary cannot either.
            let boundary = format!("=_portico_{}", mail.id);
            out.push_str(&format!(
                "Content-Type: multipart/alternative; boundary=\"{boundary}\"\r\n\r\n"
            ));
            out.push_str(&format!(
                "--{boundary}\r\n{}\r\n--{boundary}\r\n{}\r\n--{boundary}--\r\n",
                part("text/plain", text),
                part("text/html", html)
            ));
        }
        (Some(text), None) => out.push_str(&part("text/plain", text)),
        (None, Some(html)) => out.push_str(&part("text/html", html)),
        (None, None) => out.push_str("Content-Type: text/plain; charset=UTF-8\r\n\r\n"),
    }
    if !out.ends_with("\r\n") {
        out.push_str("\r\n");
    }
    out.into_bytes()
}

/// A mailbox for a header: the address alone, or the display name (quoted, or as encoded words
/// when not ASCII) and the address.
fn mailbox_header(given: &str) -> String {
    match mailbox(given) {
        Ok(Mailbox {
            name: Some(name),
            address,
        }) => {
            if name.bytes().all(|b| (0x20..0x7f).contains(&b)) && !name.contains("=?") {
                let quoted = name.replace('\\', "\\\\").replace('"', "\\\"");
                format!("\"{quoted}\" <{address}>")
            } else {
                format!("{} <{address}>", encoded_words(&name))
            }
        }
        Ok(Mailbox {
            name: None,
            address,
        }) => address,
        Err(_) => given.replace(['\r', '\n'], " "),
    }
}

/// Header text: as is when it is printable ASCII (folded at spaces past 78 characters),
/// else RFC 2047 encoded words.
fn encode_header_text(text: &str) -> String {
    let plain = text.bytes().all(|b| (0x20..0x7f).contains(&b)) && !text.contains("=?");
    if !plain {
        return encoded_words(text);
    }
    let mut out = String::new();
    let mut line = 0;
    for (i, word) in text.split(' ').enumerate() {
        if i > 0 {
            if line + 1 + word.len() > 76 && line > 0 {
                out.push_str("\r\n ");
                line = 1;
            } else {
                out.push(' ');
                line += 1;
            }
        }
        out.push_str(word);
        line += word.len();
    }
    out
}

/// `=?UTF-8?B?...?=` words of at most 75 characters, split on character boundaries, folded.
fn encoded_words(text: &str) -> String {
    let mut words = Vec::new();
    let mut chunk = String::new();
    for c in text.chars() {
        if chunk.len() + c.len_utf8() > 45 {
            words.push(std::mem::take(&mut chunk));
        }
        chunk.push(c);
    }
    if !chunk.is_empty() || words.is_empty() {
        words.push(chunk);
    }
    words
        .iter()
        .map(|w| {
            format!(
                "=?UTF-8?B?{}?=",
                base64::engine::general_purpose::STANDARD.encode(w.as_bytes())
            )
        })
        .collect::<Vec<_>>()
        .join("\r\n ")
}

/// Quoted-printable (RFC 2045) of UTF-8 text with CRLF line ends and lines of at most 76.
fn quoted_printable(text: &str) -> String {
    let mut out = String::new();
    let lines: Vec<&str> = text.split('\n').collect();
    for (n, line) in lines.iter().enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let bytes = line.as_bytes();
        let mut width = 0;
        for (i, &b) in bytes.iter().enumerate() {
            let last = i + 1 == bytes.len();
            let literal =
                (b'!'..=b'~').contains(&b) && b != b'=' || (b == b' ' || b == b'\t') && !last;
            let piece = if literal {
                char::from(b).to_string()
            } else {
                format!("={b:02X}")
            };
            // Keep room for the soft break `=` (and for the last piece, none is needed).
            let room = if last { 76 } else { 75 };
            if width + piece.len() > room {
                out.push_str("=\r\n");
                width = 0;
            }
            out.push_str(&piece);
            width += piece.len();
        }
        if n + 1 < lines.len() {
            out.push_str("\r\n");
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Reading messages (raw messages from the app, and tests)

/// A parsed message: unfolded headers and the body.
#[derive(Debug, Default)]
pub(crate) struct ParsedMessage {
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl ParsedMessage {
    /// The first header `name` (case-insensitive), undecoded.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The first `text/plain` and `text/html` parts, decoded (attachments skipped).
    pub(crate) fn bodies(&self) -> (Option<String>, Option<String>) {
        let mut text = None;
        let mut html = None;
        self.collect_bodies(&mut text, &mut html, 0);
        (text, html)
    }

    fn collect_bodies(&self, text: &mut Option<String>, html: &mut Option<String>, depth: u8) {
        let (mime, params) = content_type(self.header("content-type").unwrap_or("text/plain"));
        if self
            .header("content-disposition")
            .is_some_and(|d| d.trim().to_ascii_lowercase().starts_with("attachment"))
        {
            return;
        }
        if mime.starts_with("multipart/") {
            let Some(boundary) = params.get("boundary") else {
                return;
            };
            if depth > 8 {
                return;
            }
            for part in split_multipart(&self.body, boundary) {
                parse_message(part).collect_bodies(text, html, depth + 1);
            }
            return;
        }
        let slot = match mime.as_str() {
            "text/plain" => text,
            "text/html" => html,
            _ => return,
        };
        if slot.is_none() {
            let bytes = decode_transfer(
                self.header("content-transfer-encoding").unwrap_or("7bit"),
                &self.body,
            );
            *slot = Some(decode_charset(
                params.get("charset").map_or("us-ascii", String::as_str),
                &bytes,
            ));
        }
    }
}

/// Splits headers (unfolded) from the body.
pub(crate) fn parse_message(bytes: &[u8]) -> ParsedMessage {
    let (head, body) = match find(bytes, b"\r\n\r\n") {
        Some(i) => (&bytes[..i], &bytes[i + 4..]),
        None => match find(bytes, b"\n\n") {
            Some(i) => (&bytes[..i], &bytes[i + 2..]),
            None => (bytes, &[][..]),
        },
    };
    let head = String::from_utf8_lossy(head);
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in head.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = headers.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            if !name.is_empty() && !name.contains(' ') {
                headers.push((name.to_owned(), value.trim().to_owned()));
            }
        }
    }
    ParsedMessage {
        headers,
        body: body.to_vec(),
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// `type/subtype` (lowercase) and the parameters of a `Content-Type` value.
fn content_type(value: &str) -> (String, BTreeMap<String, String>) {
    let mut parts = value.split(';');
    let mime = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
    let params = parts
        .filter_map(|p| {
            let (k, v) = p.split_once('=')?;
            Some((
                k.trim().to_ascii_lowercase(),
                v.trim().trim_matches('"').to_owned(),
            ))
        })
        .collect();
    (mime, params)
}

fn split_multipart<'a>(body: &'a [u8], boundary: &str) -> Vec<&'a [u8]> {
    let delimiter = format!("--{boundary}");
    let mut parts = Vec::new();
    let mut rest = body;
    let mut current: Option<usize> = None;
    let mut offset = 0;
    // Walk line by line: a delimiter line starts a part, the close delimiter ends them.
    while !rest.is_empty() {
        let end = find(rest, b"\n").map_or(rest.len(), |i| i + 1);
        let line = &rest[..end];
        let trimmed = String::from_utf8_lossy(line);
        let trimmed = trimmed.trim_end();
        if trimmed == delimiter || trimmed == format!("{delimiter}--") {
            if let Some(start) = current {
                // The CRLF before the delimiter belongs to it.
                let mut stop = offset;
                if body[..stop].ends_with(b"\r\n") {
                    stop -= 2;
                } else if body[..stop].ends_with(b"\n") {
                    stop -= 1;
                }
                parts.push(&body[start..stop.max(start)]);
            }
            if trimmed.ends_with("--") && trimmed != delimiter {
                break;
            }
            current = Some(offset + end);
        }
        offset += end;
        rest = &rest[end..];
    }
    parts
}

fn decode_transfer(encoding: &str, body: &[u8]) -> Vec<u8> {
    match encoding.trim().to_ascii_lowercase().as_str() {
        "base64" => {
            let compact: Vec<u8> = body
                .iter()
                .copied()
                .filter(|b| !b.is_ascii_whitespace())
                .collect();
            base64::engine::general_purpose::STANDARD
                .decode(&compact)
                .unwrap_or_else(|_| body.to_vec())
        }
        "quoted-printable" => decode_quoted_printable(body),
        _ => body.to_vec(),
    }
}

fn decode_quoted_printable(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        match body[i] {
            b'=' if body[i + 1..].starts_with(b"\r\n") => i += 3,
            b'=' if body[i + 1..].starts_with(b"\n") => i += 2,
            b'=' if i + 2 < body.len() => {
                let hex = std::str::from_utf8(&body[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                    }
                    None => {
                        out.push(b'=');
                        i += 1;
                    }
                }
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

fn decode_charset(charset: &str, bytes: &[u8]) -> String {
    match charset.trim().to_ascii_lowercase().as_str() {
        "iso-8859-1" | "latin1" | "windows-1252" => bytes.iter().map(|&b| char::from(b)).collect(),
        _ => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// Decodes RFC 2047 encoded words (`=?UTF-8?B?...?=`, `=?utf-8?Q?...?=`) in a header value;
/// whitespace between two encoded words is dropped, as the RFC says.
pub(crate) fn decode_words(value: &str) -> String {
    let mut out = String::new();
    let mut rest = value;
    let mut pending_space = String::new();
    let mut last_was_word = false;
    while !rest.is_empty() {
        if let Some((decoded, used)) = rest.strip_prefix("=?").and_then(decode_word) {
            if !last_was_word {
                out.push_str(&pending_space);
            }
            pending_space.clear();
            out.push_str(&decoded);
            rest = &rest[used + 2..];
            last_was_word = true;
            continue;
        }
        let c = rest.chars().next().unwrap_or(' ');
        if c.is_whitespace() {
            pending_space.push(c);
        } else {
            out.push_str(&pending_space);
            pending_space.clear();
            out.push(c);
            last_was_word = false;
        }
        rest = &rest[c.len_utf8()..];
    }
    out.push_str(&pending_space);
    out
}

/// One encoded word after its `=?`: the text and how many bytes it used (up to `?=`).
fn decode_word(rest: &str) -> Option<(String, usize)> {
    let (charset, rest2) = rest.split_once('?')?;
    let (encoding, rest3) = rest2.split_once('?')?;
    let end = rest3.find("?=")?;
    let text = &rest3[..end];
    if text.contains(' ') {
        return None;
    }
    let bytes = match encoding {
        "B" | "b" => base64::engine::general_purpose::STANDARD
            .decode(text)
            .ok()?,
        "Q" | "q" => decode_quoted_printable(text.replace('_', " ").as_bytes()),
        _ => return None,
    };
    let charset = charset.split('*').next().unwrap_or(charset);
    let used = charset.len() + 1 + encoding.len() + 1 + end + 2;
    Some((decode_charset(charset, &bytes), used))
}

/// Addresses of a header such as `To` (commas inside quotes or angle brackets kept).
fn split_addresses(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let (mut quoted, mut angle) = (false, false);
    for c in value.chars() {
        match c {
            '"' => quoted = !quoted,
            '<' if !quoted => angle = true,
            '>' if !quoted => angle = false,
            ',' if !quoted && !angle => {
                out.push(std::mem::take(&mut current).trim().to_owned());
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    out.push(current.trim().to_owned());
    out.retain(|a| !a.is_empty());
    out
}

// ---------------------------------------------------------------------------------------------
// Pages

/// Escapes text for HTML content and attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Escaped text with its `http(s)://` URLs as links.
fn linkify(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = ["http://", "https://"]
        .iter()
        .filter_map(|scheme| rest.find(scheme))
        .min()
    {
        out.push_str(&escape(&rest[..start]));
        let url_len = rest[start..]
            .find(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"'))
            .unwrap_or(rest.len() - start);
        let url = rest[start..start + url_len].trim_end_matches(['.', ',', ')', ';']);
        let _ = write!(out, "<a href=\"{0}\">{0}</a>", escape(url));
        rest = &rest[start + url.len()..];
    }
    out.push_str(&escape(rest));
    out
}

/// The HTML body alone; its links open in the whole window when it is shown in a frame.
fn body_document(mail: &Mail) -> String {
    let html = mail.html.as_deref().unwrap_or_default();
    format!("<!DOCTYPE html>\n<base target=\"_top\">\n{html}")
}

fn document(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · portico local</title>\n<style>\
         body{{font-family:system-ui,sans-serif;margin:2rem;color:#222}}\
         table{{border-collapse:collapse;width:100%}}\
         th,td{{text-align:left;padding:.35rem .6rem;border-bottom:1px solid #ddd;vertical-align:top}}\
         table.headers th{{width:8rem;color:#555;font-weight:600}}\
         .meta{{color:#666}} pre{{white-space:pre-wrap;background:#f6f6f6;padding:1rem}}\
         iframe{{width:100%;height:32rem;border:1px solid #ccc}}\
         </style></head>\n<body>\n{body}\n</body></html>\n",
        escape(title)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mail(text: Option<&str>, html: Option<&str>) -> Mail {
        Mail {
            id: "0000000000001-abc-000000".to_owned(),
            timestamp_ms: 1_764_187_200_000,
            from: "Ünïcode HR <hr@example.com>".to_owned(),
            to: vec!["manager@example.com".to_owned()],
            cc: vec!["\"Boss, The\" <boss@example.com>".to_owned()],
            bcc: vec!["audit@example.com".to_owned()],
            reply_to: vec!["noreply@example.com".to_owned()],
            subject: "Promotion request for Jim — approve? ✅".to_owned(),
            text: text.map(str::to_owned),
            html: html.map(str::to_owned),
            raw: false,
        }
    }

    #[test]
    fn dates_are_rfc_5322() {
        assert_eq!(rfc5322_date(0), "Thu, 01 Jan 1970 00:00:00 +0000");
        assert_eq!(
            rfc5322_date(1_764_187_200_000),
            "Wed, 26 Nov 2025 20:00:00 +0000"
        );
    }

    #[test]
    fn quoted_printable_round_trips_and_keeps_lines_short() {
        let text = format!(
            "Grüße, Jim!\nA = B \nend with tab\t\n{}\n\n€ 5",
            "x".repeat(200)
        );
        let encoded = quoted_printable(&text);
        assert!(encoded.is_ascii());
        for line in encoded.split("\r\n") {
            assert!(line.len() <= 76, "{line:?}");
            assert!(!line.ends_with(' ') && !line.ends_with('\t'), "{line:?}");
        }
        assert!(encoded.contains("Gr=C3=BC=C3=9Fe"), "{encoded}");
        assert!(encoded.contains("A =3D B=20\r\n"), "{encoded}");
        let decoded = String::from_utf8(decode_quoted_printable(encoded.as_bytes())).unwrap();
        assert_eq!(decoded, text.replace('\n', "\r\n"));
    }

    #[test]
    fn headers_are_encoded_words_when_not_ascii() {
        let subject = "Promotion request for Jim — approve? ✅ ".repeat(3);
        let encoded = encode_header_text(&subject);
        for word in encoded.split("\r\n ") {
            assert!(word.len() <= 75, "{word}");
            assert!(
                word.starts_with("=?UTF-8?B?") && word.ends_with("?="),
                "{word}"
            );
        }
        assert_eq!(decode_words(&encoded), subject);
        assert_eq!(encode_header_text("Plain subject"), "Plain subject");
        let long = "word ".repeat(40);
        let folded = encode_header_text(long.trim_end());
        assert!(folded.split("\r\n").all(|l| l.len() <= 78), "{folded}");
        assert_eq!(folded.replace("\r\n ", " "), long.trim_end());
        // Text that looks like an encoded word is encoded, so it is not decoded by readers.
        assert!(encode_header_text("=?UTF-8?B?eA==?=").starts_with("=?UTF-8?B?PT9"));
        assert_eq!(
            mailbox_header("Ünïcode HR <hr@example.com>"),
            "=?UTF-8?B?w5xuw69jb2RlIEhS?= <hr@example.com>"
        );
        assert_eq!(
            mailbox_header("\"Boss, The\" <boss@example.com>"),
            "\"Boss, The\" <boss@example.com>"
        );
        assert_eq!(mailbox_header("a@example.com"), "a@example.com");
    }

    #[test]
    fn text_and_html_make_a_multipart_alternative_message() {
        let text = "Approve: https://example.com/a?x=1&y=2\nThanks — HR";
        let html = "<p>Approve <a href=\"https://example.com/a?x=1&amp;y=2\">here</a> — HR</p>";
        let eml = build_message(&mail(Some(text), Some(html)), &[]);
        let eml_text = String::from_utf8(eml.clone()).unwrap();
        assert!(eml_text.is_ascii());
        assert!(!eml_text.replace("\r\n", "").contains('\n'), "bare LF");
        let parsed = parse_message(&eml);
        assert_eq!(
            parsed.header("content-type"),
            Some("multipart/alternative; boundary=\"=_portico_0000000000001-abc-000000\"")
        );
        assert_eq!(parsed.header("mime-version"), Some("1.0"));
        assert_eq!(
            parsed.header("date"),
            Some("Wed, 26 Nov 2025 20:00:00 +0000")
        );
        assert_eq!(
            parsed.header("message-id"),
            Some("<0000000000001-abc-000000@portico.local>")
        );
        assert_eq!(
            decode_words(parsed.header("subject").unwrap()),
            "Promotion request for Jim — approve? ✅"
        );
        assert_eq!(
            decode_words(parsed.header("from").unwrap()),
            "Ünïcode HR <hr@example.com>"
        );
        assert_eq!(
            parsed.header("cc"),
            Some("\"Boss, The\" <boss@example.com>")
        );
        assert_eq!(parsed.header("bcc"), Some("audit@example.com"));
        assert_eq!(parsed.header("reply-to"), Some("noreply@example.com"));
        let (got_text, got_html) = parsed.bodies();
        assert_eq!(
            got_text.as_deref(),
            Some(text.replace('\n', "\r\n").as_str())
        );
        assert_eq!(got_html.as_deref(), Some(html));
    }

    #[test]
    fn a_single_body_is_not_multipart() {
        let eml = build_message(
            &mail(None, Some("<b>hi</b>")),
            &[("X-Tag".into(), "ok".into())],
        );
        let parsed = parse_message(&eml);
        assert_eq!(
            parsed.header("content-type"),
            Some("text/html; charset=UTF-8")
        );
        assert_eq!(parsed.header("x-tag"), Some("ok"));
        // The message's last line ends with CRLF, as every line of a message does.
        assert_eq!(parsed.bodies(), (None, Some("<b>hi</b>\r\n".to_owned())));
    }

    #[test]
    fn mailboxes_are_checked() {
        assert_eq!(
            mailbox("HR <hr@example.com>").unwrap(),
            Mailbox {
                name: Some("HR".into()),
                address: "hr@example.com".into()
            }
        );
        assert!(mailbox("hr@example.com").is_ok());
        for good in [
            "hr@example.com",
            "first.last+tag@mail.example.co.uk",
            "o'brien@example.com",
            "\"john doe\"@example.com",
            "hr@xn--exmple-cua.com",
            "Jürgen <hr@example.com>",
            "hr@localhost",
        ] {
            assert!(mailbox(good).is_ok(), "{good}: {:?}", mailbox(good));
        }
        for (bad, why) in [
            ("hr", AddressError::NoDomain),
            ("hr@", AddressError::NoDomain),
            ("@example.com", AddressError::BadLocalPart),
            ("h r@example.com", AddressError::BadLocalPart),
            ("hr@exämple.com", AddressError::NotAscii),
            ("bóss@exämple.com", AddressError::NotAscii),
            ("bóss@example.com", AddressError::NotAscii),
            ("hr@example", AddressError::BadDomain),
            ("boss@@example.com", AddressError::BadLocalPart),
            ("boss@example..com", AddressError::BadDomain),
            ("x@y.z/../", AddressError::BadDomain),
            (".boss@example.com", AddressError::BadLocalPart),
            ("boss.@example.com", AddressError::BadLocalPart),
            ("bo..ss@example.com", AddressError::BadLocalPart),
            ("boss@.example.com", AddressError::BadDomain),
            ("boss@example.com.", AddressError::BadDomain),
            ("boss@-example.com", AddressError::BadDomain),
            ("boss@exa_mple.com", AddressError::BadDomain),
            ("boss@[127.0.0.1]", AddressError::BadDomain),
            ("\"bo\"ss\"@example.com", AddressError::BadLocalPart),
        ] {
            let address = bad.rsplit_once('<').map_or(bad, |(_, a)| a);
            assert_eq!(check_address_syntax(address), Err(why), "{bad}");
            let message = mailbox(bad).unwrap_err();
            assert!(
                message.starts_with("Illegal address") || message.starts_with("Missing final"),
                "{message}"
            );
        }
        assert_eq!(
            check_address_syntax(&format!("{}@example.com", "a".repeat(65))),
            Err(AddressError::TooLong)
        );
        assert_eq!(
            split_addresses("\"Doe, J\" <j@example.com>, k@example.com"),
            ["\"Doe, J\" <j@example.com>", "k@example.com"]
        );
    }

    #[test]
    fn pages_escape_what_they_show() {
        assert_eq!(
            escape("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
        assert_eq!(
            linkify("go to https://example.com/a?x=1&y=\"2\". <b>"),
            "go to <a href=\"https://example.com/a?x=1&amp;y=\">https://example.com/a?x=1&amp;y=</a>&quot;2&quot;. &lt;b&gt;"
        );
        let dir = std::env::temp_dir().join(format!("portico-ses-unit-{}", std::process::id()));
        let ses = Ses::new(
            dir.clone(),
            ["example.com".to_owned()],
            None,
            "http://x".into(),
        );
        let mut evil = mail(
            Some("t"),
            Some("<script>alert(1)</script><a href=\"https://e.com\">e</a>"),
        );
        evil.subject = "<img src=x onerror=alert(1)>".into();
        evil.from = "\"<b>Evil</b>\" <hr@example.com>".into();
        let page = ses.detail_page(&evil);
        assert!(!page.contains("<img src=x"), "{page}");
        assert!(!page.contains("<b>Evil"), "{page}");
        assert!(
            page.contains("&lt;img src=x onerror=alert(1)&gt;"),
            "{page}"
        );
        assert!(
            !page.contains("<script>"),
            "the HTML body is only in the sandboxed frame"
        );
        assert!(body_document(&evil).contains("<a href=\"https://e.com\">e</a>"));
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn raw_messages_are_read_and_completed() {
        let raw = "From: =?utf-8?Q?J=C3=BCrgen?= <hr@example.com>\r\nTo: a@example.com, b@example.com\r\n\
                   Subject: =?UTF-8?B?w5xiZXI=?= raw\r\nContent-Type: multipart/mixed; boundary=\"XX\"\r\n\r\n\
                   preamble\r\n--XX\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
                   caf=E9\r\n--XX\r\nContent-Type: text/html\r\nContent-Disposition: attachment\r\n\r\n<p>not the body</p>\r\n--XX--\r\n";
        let request = SendEmailRequest {
            content: Some(EmailContent {
                raw: Some(RawMessage {
                    data: Some(base64::engine::general_purpose::STANDARD.encode(raw)),
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let Ok(out) = compose(request, "0000000000002-def-000000", 0) else {
            panic!("the raw message is refused");
        };
        assert_eq!(out.mail.from, "Jürgen <hr@example.com>");
        assert_eq!(out.mail.to, ["a@example.com", "b@example.com"]);
        assert_eq!(out.mail.subject, "Über raw");
        assert_eq!(out.mail.text.as_deref(), Some("café"));
        assert_eq!(out.mail.html, None);
        let eml = String::from_utf8(out.eml).unwrap();
        assert!(
            eml.starts_with(
                "Message-ID: <0000000000002-def-000000@portico.local>\r\nDate: Thu, 01 Jan 1970"
            ),
            "{eml}"
        );
        assert!(eml.ends_with(raw));
    }

    #[test]
    fn ses_errors() {
        let status_and_type = |request: Value| {
            let request: SendEmailRequest = serde_json::from_value(request).unwrap();
            match compose(request, "1-2", 0) {
                Ok(_) => (200, String::new()),
                Err(reply) => (
                    reply.status().as_u16(),
                    reply.headers()["x-amzn-errortype"]
                        .to_str()
                        .unwrap()
                        .to_owned(),
                ),
            }
        };
        let simple = json!({"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "t"}}});
        let ok = json!({"FromEmailAddress": "hr@example.com", "Destination": {"ToAddresses": ["m@example.com"]}, "Content": {"Simple": simple}});
        assert_eq!(status_and_type(ok.clone()), (200, String::new()));
        let bad = (400, "BadRequestException".to_owned());
        let mut no_to = ok.clone();
        no_to["Destination"] = json!({});
        assert_eq!(status_and_type(no_to), bad);
        let mut no_body = ok.clone();
        no_body["Content"]["Simple"]["Body"] = json!({});
        assert_eq!(status_and_type(no_body), bad);
        let mut no_from = ok.clone();
        no_from.as_object_mut().unwrap().remove("FromEmailAddress");
        assert_eq!(status_and_type(no_from), bad);
        let mut bad_to = ok.clone();
        bad_to["Destination"]["ToAddresses"] = json!(["not an address"]);
        assert_eq!(status_and_type(bad_to), bad);
        let mut many = ok.clone();
        many["Destination"]["ToAddresses"] = json!(vec!["m@example.com"; 51]);
        assert_eq!(status_and_type(many), bad);
        let mut template = ok;
        template["Content"] = json!({"Template": {"TemplateName": "t"}});
        assert_eq!(status_and_type(template), bad);

        let ses = Ses::new(
            std::env::temp_dir().join("portico-ses-unused"),
            ["hr@example.com".to_owned(), "example.org".to_owned()],
            None,
            "http://x".into(),
        );
        assert!(ses.check_sender("HR <HR@example.com>").is_ok());
        assert!(ses.check_sender("anyone@example.org").is_ok());
        assert!(ses.check_sender("anyone@sub.example.org").is_err());
        let rejected = ses.check_sender("other@example.com").unwrap_err();
        assert_eq!(rejected.headers()["x-amzn-errortype"], "MessageRejected");
        assert_eq!(rejected.status(), 400);
    }
}
