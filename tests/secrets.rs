//! Credentials never reach the logs, at any debug level, nor bus messages or errors. Its own test binary:
//! it turns on every debug category at the highest level for the whole process.

mod common;

use common::server::{Auth, ServerOptions, TestServer};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[test]
fn password_never_logged() {
    common::init();
    let log = Arc::new(Mutex::new(String::new()));
    let l = log.clone();
    gst::log::add_log_function(move |cat, level, file, module, line, _obj, msg| {
        if let Some(m) = msg.get() {
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
    gst::log::set_default_threshold(gst::DebugLevel::None);
    let log = log.lock().unwrap();
    assert!(log.contains("rustrtspsrc"), "our category logged nothing");
    assert!(
        log.contains("Authorization: <redacted>"),
        "requests were not logged"
    );
    for secret in ["hunter2", "badpass"] {
        assert!(!log.contains(secret), "{secret} found in the debug log");
    }
}
