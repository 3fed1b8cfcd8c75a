//! The local SES service: `SendEmail` into the outbox, and the outbox pages.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use http::header::HeaderValue;
use http::{Method, Request, StatusCode};
use hyper::body::Body;
use serde_json::{Value, json};

use crate::clock::{now_ms, rfc3339_seconds};
use crate::files::{DIR_MODE, FILE_MODE, create_private_dir, restrict, write_private};
use crate::logs::LogSink;
use crate::scheduler::event_id;
use crate::server::{self, BodyError};
use crate::ses::address::mailbox;
use crate::ses::compose::{Outgoing, SendEmailRequest, announcement, compose, recipients};
use crate::ses::pages::{body_document, document, escape, linkify};
use crate::ses::types::{
    BODY_LIMIT, HTML, Mail, PAGE_SIZE, REGION, Reply, SEND_EMAIL_PATH, View, bad_request, closing,
    is_message_id, message_id, page, ses_error, too_large,
};

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
    pub(crate) public_url: String,
    /// What the list pages show of each message, by id: each `.json` is read once.
    index: Mutex<HashMap<String, Summary>>,
}

/// What the list shows of a message.
#[derive(Debug, Clone)]
struct Summary {
    pub(crate) id: String,
    pub(crate) timestamp_ms: i64,
    pub(crate) from: String,
    pub(crate) recipients: Vec<String>,
    pub(crate) subject: String,
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
    pub(crate) page: usize,
    total: usize,
}

impl ListPage {
    fn pages(&self) -> usize {
        self.total.div_ceil(PAGE_SIZE).max(1)
    }
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
        value["time"] = Value::String(rfc3339_seconds(mail.timestamp_ms.div_euclid(1000)));
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
                escape(&rfc3339_seconds(mail.timestamp_ms.div_euclid(1000))),
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

    pub(crate) fn detail_page(&self, mail: &Mail) -> String {
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
        row("Date", &rfc3339_seconds(mail.timestamp_ms.div_euclid(1000)));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn senders_must_be_declared_identities() {
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
