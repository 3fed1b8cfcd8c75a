//! `portico local`'s SES v2 endpoint, driven by boto3 (`fixtures/ses.py`) as real SDK code
//! would: messages land in the outbox as `.eml` files (read back with Python's `email`
//! package), in `/outbox.json`, on the HTML pages and on the terminal; senders that are not
//! declared identities are rejected; the outbox survives a restart.

mod common;

use std::time::Duration;

use common::{AppDir, Req, Res, Server, apps, boto3_script, fixture};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(30);

const SUBJECT: &str = "Promotion request for Jim <b>now</b> — approve? ✅";
const APPROVE: &str = "http://127.0.0.1:9/dev/approve?token=abc&decision=yes";

/// Runs `fixtures/ses.py` with `args`, `stdin` as its input; its stdout as JSON.
fn python(args: &[&str], stdin: &[u8]) -> Value {
    // boto3 is installed by scripts/test.
    let out = common::run_with_input(boto3_script("ses.py").args(args), stdin);
    assert!(
        out.status.success(),
        "ses.py {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "ses.py printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

fn send(server: &Server, requests: &Value) -> Vec<Value> {
    let endpoint = format!("http://{}", server.services);
    let out = python(&["send", &endpoint], requests.to_string().as_bytes());
    out.as_array().expect("a list of results").clone()
}

fn get(server: &Server, path: &str) -> Res {
    Req::new(server.services, "GET", path).send()
}

fn outbox_json(server: &Server) -> Vec<Value> {
    let res = get(server, "/outbox.json");
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(res.header("content-type"), Some("application/json"));
    res.json().as_array().expect("a list").clone()
}

fn simple(from: &str, to: &[&str], subject: &str, text: Option<&str>, html: Option<&str>) -> Value {
    let mut body = json!({});
    if let Some(text) = text {
        body["Text"] = json!({"Data": text, "Charset": "UTF-8"});
    }
    if let Some(html) = html {
        body["Html"] = json!({"Data": html, "Charset": "UTF-8"});
    }
    json!({
        "FromEmailAddress": from,
        "Destination": {"ToAddresses": to},
        "Content": {"Simple": {"Subject": {"Data": subject, "Charset": "UTF-8"}, "Body": body}},
    })
}

#[test]
fn boto3_mail_lands_in_the_outbox_as_eml_json_html_and_a_terminal_line() {
    let dir = AppDir::new("ses-outbox", &fixture("ses.toml"));
    let mut server = Server::start(&dir.path, &apps().fixture, &["--no-schedules"]);
    let outbox_url = format!("http://{}/outbox", server.services);
    assert!(
        server
            .stdout()
            .contains(&format!("Outbox (SES): {outbox_url}\n")),
        "{}",
        server.stdout()
    );
    assert_eq!(outbox_json(&server), Vec::<Value>::new());

    let text = format!("Jim asks for a promotion.\nApprove: {APPROVE}\n\nGrüße, HR");
    let html = format!(
        "<p>Jim asks for a promotion.</p><p><a href=\"{}\">Approve</a></p><p>Grüße, HR</p>",
        APPROVE.replace('&', "&amp;")
    );
    let mut promotion = simple(
        "Personalabteilung Müller <hr@example.com>",
        &["manager@example.com"],
        SUBJECT,
        Some(&text),
        Some(&html),
    );
    promotion["Destination"]["CcAddresses"] = json!(["\"Boss, The\" <boss@example.com>"]);
    promotion["Destination"]["BccAddresses"] = json!(["audit@example.com"]);
    promotion["ReplyToAddresses"] = json!(["noreply@example.org"]);
    let raw = "From: HR <hr@example.com>\r\nTo: raw@example.com\r\nSubject: Raw hello\r\n\
               Content-Type: text/plain; charset=utf-8\r\n\r\nSent raw.\r\n";
    let results = send(
        &server,
        &json!([
            promotion,
            // Not a declared identity: neither the address nor its domain.
            simple("intruder@example.net", &["manager@example.com"], "Hi", Some("hi"), None),
            // A declared domain covers every address at it.
            simple("alerts@example.org", &["ops@example.com"], "Domain sender", None, Some("<p>ok</p>")),
            // No recipients.
            json!({
                "FromEmailAddress": "hr@example.com",
                "Content": {"Simple": {"Subject": {"Data": "x"}, "Body": {"Text": {"Data": "x"}}}},
            }),
            {"Content": {"Raw": {"Data": raw}}},
        ]),
    );
    assert_eq!(results.len(), 5, "{results:?}");
    let id = results[0]["MessageId"]
        .as_str()
        .unwrap_or_else(|| panic!("{results:?}"));
    assert_eq!(results[0]["Status"], 200);
    assert_eq!(results[1]["Status"], 400, "{results:?}");
    assert_eq!(results[1]["Error"]["Code"], "MessageRejected");
    let message = results[1]["Error"]["Message"].as_str().unwrap();
    assert!(
        message.starts_with("Email address is not verified.")
            && message.contains("intruder@example.net")
            && message.contains("[[email_identities]]"),
        "{message}"
    );
    let domain_id = results[2]["MessageId"]
        .as_str()
        .unwrap_or_else(|| panic!("{results:?}"));
    assert_eq!(results[3]["Status"], 400, "{results:?}");
    assert_eq!(results[3]["Error"]["Code"], "BadRequestException");
    assert!(
        results[3]["Error"]["Message"]
            .as_str()
            .unwrap()
            .contains("no recipients"),
        "{results:?}"
    );
    let raw_id = results[4]["MessageId"]
        .as_str()
        .unwrap_or_else(|| panic!("{results:?}"));

    // The terminal: one line per message, with its page.
    let line = server.wait_for_line(&["mail  to manager@example.com"], WAIT);
    assert!(
        line.ends_with(&format!(
            "mail  to manager@example.com, boss@example.com, audit@example.com: \"{SUBJECT}\" → {outbox_url}/{id}"
        )),
        "{line}"
    );
    server.wait_for_line(&["mail  to raw@example.com: \"Raw hello\""], WAIT);
    assert!(
        !server.stdout().contains("intruder"),
        "a rejected message was announced"
    );

    // The files: three messages, each an .eml and its .json.
    let outbox = dir.local_dir().join("outbox");
    let mut files: Vec<String> = std::fs::read_dir(&outbox)
        .expect("the outbox folder")
        .map(|e| {
            e.expect("an entry")
                .file_name()
                .into_string()
                .expect("UTF-8")
        })
        .collect();
    files.sort();
    let mut expected: Vec<String> = [id, domain_id, raw_id]
        .iter()
        .flat_map(|id| [format!("{id}.eml"), format!("{id}.json")])
        .collect();
    expected.sort();
    assert_eq!(files, expected);

    // The .eml, read by Python's e-mail parser.
    let eml_path = outbox.join(format!("{id}.eml"));
    let eml = std::fs::read(&eml_path).expect("the .eml");
    assert!(eml.is_ascii(), "headers and bodies are 7-bit encoded");
    let eml_text = String::from_utf8_lossy(&eml);
    assert!(
        eml_text.contains("Content-Type: multipart/alternative;"),
        "{eml_text}"
    );
    assert!(eml_text.contains("Subject: =?UTF-8?B?"), "{eml_text}");
    let parsed = python(&["parse", eml_path.to_str().unwrap()], b"");
    assert_eq!(parsed["defects"], json!([]), "{parsed}");
    assert_eq!(parsed["subject"], SUBJECT);
    assert_eq!(parsed["from_name"], "Personalabteilung Müller");
    assert_eq!(parsed["from_address"], "hr@example.com");
    assert_eq!(parsed["to"], json!(["manager@example.com"]));
    assert_eq!(parsed["cc"], json!(["boss@example.com"]));
    assert_eq!(parsed["bcc"], json!(["audit@example.com"]));
    assert_eq!(parsed["reply_to"], json!(["noreply@example.org"]));
    assert_eq!(parsed["message_id"], format!("<{id}@portico.local>"));
    assert_eq!(parsed["content_type"], "multipart/alternative");
    assert_eq!(parsed["text"], text);
    assert_eq!(parsed["html"], html);
    assert!(
        parsed["date"].as_str().unwrap().ends_with("+0000"),
        "{parsed}"
    );
    let raw_eml = std::fs::read_to_string(outbox.join(format!("{raw_id}.eml"))).unwrap();
    assert!(
        raw_eml.starts_with(&format!("Message-ID: <{raw_id}@portico.local>\r\nDate: "))
            && raw_eml.ends_with(raw),
        "SES adds Message-ID and Date to a raw message that lacks them: {raw_eml}"
    );

    // /outbox.json: newest first, with bodies and where to look.
    let list = outbox_json(&server);
    let ids: Vec<&str> = list.iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [raw_id, domain_id, id]);
    let mail = &list[2];
    assert_eq!(mail["from"], "Personalabteilung Müller <hr@example.com>");
    assert_eq!(mail["to"], json!(["manager@example.com"]));
    assert_eq!(mail["subject"], SUBJECT);
    assert_eq!(mail["text"], text);
    assert_eq!(mail["html"], html);
    assert_eq!(mail["url"], format!("{outbox_url}/{id}"));
    assert_eq!(mail["eml"], eml_path.display().to_string());
    assert_eq!(list[1]["from"], "alerts@example.org");
    assert_eq!(list[1]["text"], Value::Null);
    assert_eq!(list[0]["raw"], true);
    assert_eq!(list[0]["text"], "Sent raw.\r\n");

    // The list page: every header value escaped, each message linked.
    let page = get(&server, "/outbox");
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let html_page = page.text();
    assert!(
        html_page.contains("Promotion request for Jim &lt;b&gt;now&lt;/b&gt; — approve? ✅"),
        "{html_page}"
    );
    assert!(!html_page.contains("<b>now"), "{html_page}");
    assert!(
        html_page.contains("Personalabteilung Müller &lt;hr@example.com&gt;"),
        "{html_page}"
    );
    let first = html_page
        .find(&format!("href=\"/outbox/{raw_id}\""))
        .expect("raw listed");
    let last = html_page
        .find(&format!("href=\"/outbox/{id}\""))
        .expect("promotion listed");
    assert!(first < last, "newest first");

    // The message page: headers escaped, the text with clickable links, the HTML in a frame.
    let detail = get(&server, &format!("/outbox/{id}"));
    assert_eq!(detail.status, 200);
    let detail = detail.text();
    assert!(detail.contains("&lt;b&gt;now&lt;/b&gt;"), "{detail}");
    assert!(
        detail.contains(&format!(
            "<a href=\"{0}\">{0}</a>",
            APPROVE.replace('&', "&amp;")
        )),
        "{detail}"
    );
    assert!(
        detail.contains(&format!("<iframe src=\"/outbox/{id}/body\"")),
        "{detail}"
    );
    let body = get(&server, &format!("/outbox/{id}/body"));
    assert_eq!(body.status, 200);
    assert!(
        body.header("content-security-policy")
            .is_some_and(|csp| csp.starts_with("sandbox ") && csp.contains("script-src 'none'")),
        "{:?}",
        body.headers
    );
    assert!(body.text().contains(&html), "{}", body.text());
    assert!(body.text().contains("<base target=\"_top\">"));
    let eml_res = get(&server, &format!("/outbox/{id}.eml"));
    assert_eq!(eml_res.header("content-type"), Some("message/rfc822"));
    assert_eq!(eml_res.body, eml);
    for missing in [
        "/outbox/0123-nope",
        "/outbox/..%2Fstate.db",
        "/outbox/../state.db",
    ] {
        assert_eq!(get(&server, missing).status, 404, "{missing}");
    }

    // A restart keeps the outbox.
    assert!(server.stop_with("TERM").success());
    let server = Server::start(&dir.path, &apps().fixture, &["--no-schedules"]);
    let list = outbox_json(&server);
    let ids: Vec<&str> = list.iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [raw_id, domain_id, id]);
    assert_eq!(
        list[2]["url"],
        format!("http://{}/outbox/{id}", server.services)
    );
    assert!(
        get(&server, "/outbox")
            .text()
            .contains(&format!("/outbox/{id}"))
    );
}

#[test]
fn ses_errors_have_the_aws_shape() {
    let dir = AppDir::new("ses-errors", &fixture("ses.toml"));
    let server = Server::start(&dir.path, &apps().fixture, &["--no-schedules"]);
    let post = |body: &str| {
        Req::new(server.services, "POST", "/v2/email/outbound-emails")
            .header("Content-Type", "application/json")
            .body(body.as_bytes().to_vec())
            .send()
    };
    let res = post("{not json");
    assert_eq!(res.status, 400);
    assert_eq!(res.header("x-amzn-errortype"), Some("BadRequestException"));
    assert!(res.json()["message"].is_string(), "{}", res.text());

    let res = post(
        &json!({
            "FromEmailAddress": "someone@elsewhere.example",
            "Destination": {"ToAddresses": ["a@example.com"]},
            "Content": {"Simple": {"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "t"}}}},
        })
        .to_string(),
    );
    assert_eq!(res.status, 400);
    assert_eq!(res.header("x-amzn-errortype"), Some("MessageRejected"));

    let res = post(&json!({"FromEmailAddress": "hr@example.com", "Content": {}}).to_string());
    assert_eq!(res.status, 400);
    assert_eq!(res.header("x-amzn-errortype"), Some("BadRequestException"));

    let res = Req::new(server.services, "POST", "/v2/email/templates").send();
    assert_eq!(res.status, 404);
    assert_eq!(
        res.header("x-amzn-errortype"),
        Some("UnknownOperationException")
    );
    assert!(
        !dir.local_dir().join("outbox").exists(),
        "nothing was written for refused messages"
    );
}

/// Sends a mail with text `t` through the SES v2 endpoint.
fn send_text(server: &Server, from: &str, to: &[&str], subject: &str) -> Res {
    post_mail(server, &simple(from, to, subject, Some("t"), None))
}

fn post_mail(server: &Server, body: &Value) -> Res {
    Req::new(server.services, "POST", "/v2/email/outbound-emails")
        .header("Content-Type", "application/json")
        .body(body.to_string().into_bytes())
        .send()
}

#[test]
fn addresses_ses_refuses_are_refused() {
    let dir = AppDir::new("ses-addresses", &fixture("ses.toml"));
    let server = Server::start(&dir.path, &apps().fixture, &["--no-schedules"]);
    for bad in [
        "bóss@exämple.com",
        "boss@exämple.com",
        "boss@@example.com",
        "boss@example..com",
        "x@y.z/../",
        ".boss@example.com",
        "boss@-example.com",
    ] {
        let res = send_text(&server, "hr@example.com", &[bad], "s");
        assert_eq!(res.status, 400, "{bad}: {}", res.text());
        assert_eq!(
            res.header("x-amzn-errortype"),
            Some("BadRequestException"),
            "{bad}"
        );
        let message = res.json()["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(message.starts_with("Illegal address"), "{bad}: {message}");
    }
    let res = send_text(&server, "hr@@example.com", &["boss@example.com"], "s");
    assert_eq!(res.status, 400, "the sender too");
    assert!(
        !dir.local_dir().join("outbox").exists(),
        "nothing was written for refused messages"
    );
    // What SES takes: Punycode domains, the usual local-part characters, Unicode names.
    for good in [
        "boss@xn--exmple-cua.com",
        "o'brien+hr@mail.example.co.uk",
        "Jürgen Müller <j@example.com>",
    ] {
        let res = send_text(&server, "hr@example.com", &[good], "s");
        assert_eq!(res.status, 200, "{good}: {}", res.text());
    }
}

#[test]
fn the_outbox_is_listed_a_page_at_a_time_from_an_index() {
    let dir = AppDir::new("ses-pages", &fixture("ses.toml"));
    let server = Server::start(&dir.path, &apps().fixture, &["--no-schedules"]);
    let mut sent = Vec::new();
    for n in 0..120 {
        let res = send_text(
            &server,
            "hr@example.com",
            &["boss@example.com"],
            &format!("mail {n}"),
        );
        assert_eq!(res.status, 200, "{}", res.text());
        sent.push(res.json()["MessageId"].as_str().unwrap().to_owned());
    }
    let total = std::cell::Cell::new("120");
    let page = |n: usize| {
        let res = get(&server, &format!("/outbox.json?page={n}"));
        assert_eq!(res.status, 200);
        assert_eq!(res.header("x-total-count"), Some(total.get()));
        let list = res.json().as_array().unwrap().clone();
        (res, list)
    };
    let (first, list1) = page(1);
    assert_eq!(list1.len(), 50);
    assert_eq!(
        first.header("link"),
        Some("</outbox.json?page=2>; rel=\"next\"")
    );
    // With the bodies.
    assert_eq!(list1[0]["text"], "t");
    let (_, list2) = page(2);
    let (last, list3) = page(3);
    assert_eq!((list2.len(), list3.len()), (50, 20));
    assert_eq!(
        last.header("link"),
        Some("</outbox.json?page=2>; rel=\"prev\"")
    );
    let listed: Vec<String> = list1
        .iter()
        .chain(&list2)
        .chain(&list3)
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect();
    let mut listed_sorted = listed.clone();
    listed_sorted.sort();
    let mut sent_sorted = sent.clone();
    sent_sorted.sort();
    assert_eq!(listed_sorted, sent_sorted, "every message once");
    // Newest first (messages of the same millisecond in either order).
    let times: Vec<i64> = list1
        .iter()
        .chain(&list2)
        .chain(&list3)
        .map(|m| m["timestamp_ms"].as_i64().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");
    assert_eq!(page(4).1.len(), 0);
    // Unpaged, the JSON is the first page (scripts look for the newest mail).
    assert_eq!(outbox_json(&server), list1);

    let html = get(&server, "/outbox?page=3").text();
    assert!(html.contains("120 message(s)"), "{html}");
    assert!(html.contains("page 3 of 3"), "{html}");
    assert_eq!(html.matches("<tr><td>").count(), 20, "{html}");
    for mail in &list3 {
        assert!(html.contains(mail["id"].as_str().unwrap()), "{html}");
    }

    // A message removed by hand leaves the list; the index notices.
    let gone = listed[0].clone();
    std::fs::remove_file(dir.local_dir().join(format!("outbox/{gone}.json"))).unwrap();
    total.set("119");
    let (_, list) = page(1);
    assert!(list.iter().all(|m| m["id"] != gone.as_str()));
}
