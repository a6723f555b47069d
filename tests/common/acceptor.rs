//! What the TLS front and the HTTP tunnel front share: a listener on 127.0.0.1 that serves each
//! connection on a thread of its own until it is dropped.

use super::fake_camera::listen;
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

pub struct Acceptor {
    pub port: u16,
    stop: Arc<AtomicBool>,
}

impl Acceptor {
    /// Listens with segments of at most `mss` bytes (`None`: loopback's 64 KiB) and Nagle's algorithm
    /// on, as a camera's TCP would; `serve` gets each connection and the flag that says "stop".
    pub fn start(
        mss: Option<u32>,
        serve: impl Fn(TcpStream, &AtomicBool) + Send + Sync + 'static,
    ) -> Acceptor {
        let listener = listen(0, mss);
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let serve = Arc::new(serve);
        thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((client, _)) => {
                        let (serve, s) = (serve.clone(), s.clone());
                        thread::spawn(move || serve(client, &s));
                    }
                    Err(_) => thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Acceptor { port, stop }
    }
}

impl Drop for Acceptor {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}
