//! Credentials never reach the logs, at any debug level, nor bus messages or errors. Its own test binary:
//! it turns on every debug category at the highest level for the whole process.

mod common;

use base64::Engine;
use common::fake_camera::{FakeCamera, Script};
use common::server::{Auth, ServerOptions, TestServer};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[test]
fn password_never_logged() {
    common::init();
    let log = Arc::new(Mutex::new(String::new()));
    let anonymous = Arc::new(Mutex::new(Vec::new()));
    let (l, a) = (log.clone(), anonymous.clone());
    gst::log::add_log_function(move |cat, level, file, module, line, obj, msg| {
        if let Some(m) = msg.get() {
            // With many cameras in one process, a line must say which element it is about.
            if cat.name() == "rustrtspsrc" && obj.is_none() {
                a.lock().unwrap().push(format!("{file}:{line} {m}"));
            }
            l.lock().unwrap().push_str(&format!(
                "{} {level:?} {file}:{line} {module} {m}\n",
                cat.name()
            ));
        }
    });
    // Everything goes to our buffer only, not to stderr as well.
    gst::log::remove_default_log_function();
    gst::log::set_active(true);
    gst::log::set_default_threshold(gst::DebugLevel::Memdump);

    for digest in [false, true] {
        let srv = TestServer::start(ServerOptions {
            auth: Some(Auth {
                user: "admin".into(),
                password: "Zq9-hunter2".into(),
                digest,
            }),
            ..Default::default()
        })
        .unwrap();
        // Right password in the URL, then a wrong one as a property (error path).
        let url = srv.url().replace("rtsp://", "rtsp://admin:Zq9-hunter2@");
        let ok = common::record(&url, Duration::from_millis(1500), &[]);
        assert!(ok.errors.is_empty(), "{:?}", ok.errors);
        assert!(!ok.frames.is_empty());
        let bad = common::record(
            &srv.url(),
            Duration::from_secs(3),
            &[("user-id", &"admin"), ("user-pw", &"Wx7-badpass")],
        );
        assert!(!bad.errors.is_empty());
        for rec in [&ok, &bad] {
            let all = format!("{:?} {:?} {:?}", rec.errors, rec.all_messages, rec.warnings);
            assert!(
                !all.contains("hunter2") && !all.contains("badpass"),
                "{all}"
            );
        }
    }
    // The fake camera checks the Digest hash; the password also stands in the query, as Dahua and
    // Uniview take it.
    let cam = FakeCamera::start(Script {
        digest: Some(("admin".into(), "Zq9-hunter2".into())),
        session_timeout: Some(2),
        ..Default::default()
    });
    let url = format!(
        "{}?user=admin&password=Qy5-inquery",
        cam.url().replace("rtsp://", "rtsp://admin:Zq9-hunter2@")
    );
    let ok = common::record(&url, Duration::from_secs(2), &[]);
    assert!(ok.errors.is_empty(), "{:?}", ok.errors);
    assert!(!ok.frames.is_empty());
    let bad = common::record(
        &cam.url(),
        Duration::from_secs(2),
        &[("user-id", &"admin"), ("user-pw", &"Wx7-badpass")],
    );
    assert_eq!(
        bad.error_kind,
        Some(gst::ResourceError::NotAuthorized),
        "{:?}",
        bad.errors
    );
    let responses = cam.shared.digest_responses.lock().unwrap().clone();
    assert!(responses.len() >= 5, "{responses:?}");
    for rec in [&ok, &bad] {
        let all = format!("{:?} {:?} {:?}", rec.errors, rec.all_messages, rec.warnings);
        assert!(
            !all.contains("hunter2") && !all.contains("inquery"),
            "{all}"
        );
    }

    gst::log::set_default_threshold(gst::DebugLevel::None);
    let log = log.lock().unwrap();
    let basic = base64::engine::general_purpose::STANDARD.encode("admin:Zq9-hunter2");
    assert!(
        !log.contains(&basic),
        "Basic credentials found in the debug log"
    );
    for r in &responses {
        assert!(
            !log.contains(r.as_str()),
            "a Digest response found in the debug log"
        );
    }
    assert!(
        !log.contains("inquery"),
        "a password from the query found in the debug log"
    );
    assert!(
        log.contains("password=***"),
        "the URL with its query was never logged"
    );
    let anonymous = anonymous.lock().unwrap();
    assert!(
        anonymous.is_empty(),
        "lines without their element: {anonymous:#?}"
    );
    assert!(log.contains("rustrtspsrc"), "our category logged nothing");
    assert!(
        log.contains("Authorization: <redacted>"),
        "requests were not logged"
    );
    for secret in ["hunter2", "badpass"] {
        assert!(!log.contains(secret), "{secret} found in the debug log");
    }
}
