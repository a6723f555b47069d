//! Real cameras' replies (tests/fixtures/retina) served by the fake camera: every address in them is
//! rewritten to loopback — no test may send a packet off the machine, and until RTCP went only to the
//! RTSP server the element sent receiver reports to the SDP's `c=` address — and SETUP's lower transport
//! and ports become the ones the element asked for, so one capture serves UDP and TCP tests alike.

/// A camera's recorded replies, by method; methods without one get the fake camera's own.
#[derive(Clone, Copy, Default)]
pub struct Captured {
    pub describe: Option<&'static str>,
    pub setup: Option<&'static str>,
    pub play: Option<&'static str>,
    /// The SSRC the camera's packets carry (the fake camera's own when `None`).
    pub ssrc: Option<u32>,
}

impl Captured {
    pub fn reply(&self, method: &str) -> Option<&'static str> {
        match method {
            "DESCRIBE" => self.describe,
            "SETUP" => self.setup,
            "PLAY" => self.play,
            _ => None,
        }
    }
}

/// The capture as this fake camera's reply: CSeq of the request, addresses on loopback (rtsp:// URLs on
/// `port`), Content-Length recounted, and for SETUP the Transport `ours` with the capture's `ssrc=`.
pub fn replay(capture: &str, cseq: &str, port: u16, ours_transport: Option<&str>) -> String {
    let text = loopback(capture, port);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut out = String::new();
    for line in head.split("\r\n") {
        let name = line
            .split(':')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match name.as_str() {
            "cseq" => out.push_str(&format!("CSeq: {cseq}")),
            "content-length" => out.push_str(&format!("Content-Length: {}", body.len())),
            "transport" if ours_transport.is_some() => {
                let ssrc = line
                    .split(';')
                    .find(|p| p.trim().to_ascii_lowercase().starts_with("ssrc="));
                let ours = ours_transport
                    .unwrap()
                    .split(';')
                    .filter(|p| !p.trim().starts_with("ssrc="))
                    .collect::<Vec<_>>()
                    .join(";");
                out.push_str(&format!("Transport: {ours}"));
                if let Some(s) = ssrc {
                    out.push_str(&format!(";{}", s.trim()));
                }
            }
            _ => out.push_str(line),
        }
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    out.push_str(body);
    out
}

/// Every IPv4 address in `text` becomes 127.0.0.1 (0.0.0.0 stays), and every `rtsp://host[:port]`
/// becomes `rtsp://127.0.0.1:port`.
pub fn loopback(text: &str, port: u16) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("rtsp://") {
        out.push_str(&addresses(&rest[..at]));
        let after = &rest[at + 7..];
        let end = after
            .find(['/', ';', ',', '\r', '\n', ' '])
            .unwrap_or(after.len());
        out.push_str(&format!("rtsp://127.0.0.1:{port}"));
        rest = &after[end..];
    }
    out.push_str(&addresses(rest));
    out
}

fn addresses(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        let starts = b[i].is_ascii_digit()
            && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'.'));
        if starts {
            let len = b[i..]
                .iter()
                .take_while(|c| c.is_ascii_digit() || **c == b'.')
                .count();
            let token = &text[i..i + len];
            let octets: Vec<&str> = token.split('.').collect();
            let is_ip = octets.len() == 4 && octets.iter().all(|o| o.parse::<u8>().is_ok());
            if is_ip && token != "0.0.0.0" {
                out.push_str("127.0.0.1");
            } else {
                out.push_str(token);
            }
            i += len;
        } else {
            let c = text[i..].chars().next().unwrap();
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}
