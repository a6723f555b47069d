//! Keep-alives while playing: the method that works (GET_PARAMETER, OPTIONS when refused), their
//! interval inside the session timeout, and the session's timers: never a deadline `poll` lets pass
//! without acting, which the I/O loop would wait for with a zero timeout again and again.

use super::*;

#[test]
fn tapo_keepalive_fallback_lands_inside_a_5s_session() {
    let (mut s, now) = playing("OPTIONS, DESCRIBE, SETUP, PLAY, GET_PARAMETER");
    s.take_session(&reply(9, "200 OK", "Session: 708345999;timeout=5\r\n", ""));
    // Simulated 30 s: every keep-alive the camera counts (OPTIONS, answered 200) lands within 5 s of
    // the previous one (PLAY at 0); GET_PARAMETER is answered 400 with the previous CSeq, once.
    s.next_keepalive = Some(now + s.keepalive_interval());
    let mut last_alive = now;
    let mut prev_cseq = 4;
    let mut t = now;
    while t < now + Duration::from_secs(30) {
        t += Duration::from_millis(10);
        let Some(req) = s.poll(t).unwrap() else {
            continue;
        };
        let mut req = req;
        loop {
            let cseq = req.cseq().unwrap();
            let (status, counted) = match req.method {
                Method::GetParameter => ("400 Bad Request", false),
                _ => ("200 OK", true),
            };
            if counted {
                assert!(t - last_alive < Duration::from_secs(5), "{:?}", t - now);
                last_alive = t;
            }
            let out = s
                .handle_response(&reply(prev_cseq, status, "", ""), t)
                .unwrap();
            prev_cseq = cseq;
            match out.into_iter().find_map(|o| match o {
                Output::Send(r) => Some(r),
                _ => None,
            }) {
                Some(r) => req = r,
                None => break,
            }
        }
    }
    assert_eq!(s.keepalive_method(), Method::Options);
    assert!(now + Duration::from_secs(30) - last_alive < Duration::from_secs(5));
}

#[test]
fn unanswered_keepalive_is_retried_within_the_timeout() {
    let (mut s, now) = playing("GET_PARAMETER");
    s.take_session(&reply(9, "200 OK", "Session: 708345999;timeout=15\r\n", ""));
    s.next_keepalive = Some(now + s.keepalive_interval());
    let first = s.poll(now + Duration::from_secs(5)).unwrap().unwrap();
    // Unanswered: the next one goes out an interval later, not after RESPONSE_TIMEOUT.
    let second = s.poll(now + Duration::from_secs(10)).unwrap().unwrap();
    assert!(second.cseq() > first.cseq());
}

#[test]
fn options_keepalive_without_get_parameter() {
    let (mut s, now) = playing("OPTIONS, DESCRIBE");
    let ka = s.poll(now + Duration::from_secs(21)).unwrap().unwrap();
    assert_eq!(ka.method, Method::Options);
    // An unanswered keep-alive is not fatal.
    assert!(s.poll(now + Duration::from_secs(50)).is_ok());
}

#[test]
fn session_not_found_on_keepalive() {
    let (mut s, now) = playing("GET_PARAMETER");
    s.poll(now + Duration::from_secs(20)).unwrap().unwrap();
    let e = s
        .handle_response(&reply(5, "454 Session Not Found", "", ""), now)
        .unwrap_err();
    assert!(matches!(e, SessionError::SessionLost(_)));
}

/// After `poll(at)` did nothing, the next deadline is later than `at` (or there is none).
fn assert_nothing_due(s: &mut Session, at: Instant, context: &str) {
    assert_eq!(s.poll(at).unwrap(), None, "{context}: poll sent something");
    if let Some(d) = s.next_deadline() {
        assert!(d > at, "{context}: deadline {:?} before now", at - d);
    }
}

#[test]
fn no_deadline_for_keepalives_that_are_off() {
    let (mut s, now) = playing("GET_PARAMETER");
    s.cfg.keep_alive = false;
    assert_eq!(s.next_deadline(), None);
    // Past the interval (20 s of a 60 s session) nothing is due, then or later.
    for secs in [19, 20, 21, 60, 600] {
        assert_nothing_due(&mut s, now + Duration::from_secs(secs), "keep-alives off");
    }
}

#[test]
fn an_unanswered_keepalive_leaves_no_deadline_behind() {
    // Cameras that ignore keep-alives: once the answer is overdue (RESPONSE_TIMEOUT, 10 s) the next
    // deadline is the next keep-alive, not the overdue answer.
    let (mut s, now) = playing("GET_PARAMETER");
    let sent_at = now + Duration::from_secs(20);
    assert!(s.poll(sent_at).unwrap().is_some());
    assert_eq!(s.next_deadline(), Some(sent_at + Duration::from_secs(20)));
    for secs in [9, 10, 11, 19] {
        assert_nothing_due(&mut s, sent_at + Duration::from_secs(secs), "unanswered");
    }
    assert!(s.poll(sent_at + Duration::from_secs(20)).unwrap().is_some());
}

#[test]
fn an_unanswered_request_before_playing_is_due() {
    // Before PLAYING an answer that does not come ends the session: its deadline stays.
    let now = Instant::now();
    let mut s = Session::new(cfg("rtsp://127.0.0.1:8554/test"));
    s.start(now);
    assert_eq!(s.next_deadline(), Some(now + RESPONSE_TIMEOUT));
    assert!(s.poll(now + RESPONSE_TIMEOUT).is_err());
}
