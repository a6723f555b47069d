//! What the element does on its streaming thread: run the receiver, turn access units into timestamped
//! buffers with caps, and turn failures into bus errors a person can act on.

use super::caps::caps_for;
use super::timing::Timeline;
use crate::h264::params;
use crate::net::poll::Waker;
use crate::net::receiver::{ReceiveError, Receiver, ReceiverConfig};
use crate::rtsp::auth::AuthError;
use crate::rtsp::session::SessionError;
use std::time::Instant;

pub enum StreamError {
    Flushing,
    Error(gst::ErrorMessage),
}

pub struct Produced {
    pub buffer: gst::Buffer,
    /// New caps to set before pushing the buffer.
    pub caps: Option<gst::Caps>,
}

pub struct Stream {
    cfg: ReceiverConfig,
    waker: Waker,
    receiver: Option<Receiver>,
    timeline: Timeline,
    sps_generation: Option<u32>,
}

impl Stream {
    pub fn new(cfg: ReceiverConfig, waker: Waker) -> Self {
        Stream {
            cfg,
            waker,
            receiver: None,
            timeline: Timeline::default(),
            sps_generation: None,
        }
    }

    /// Blocks until the next access unit. `running_time` gives the pipeline's running time now (ns).
    pub fn next(
        &mut self,
        running_time: impl Fn() -> Option<u64>,
    ) -> Result<Produced, StreamError> {
        let receiver = match &mut self.receiver {
            Some(r) => r,
            None => {
                let r = Receiver::connect(self.cfg.clone(), self.waker.clone())
                    .map_err(to_stream_error)?;
                self.receiver.insert(r)
            }
        };
        let (au, completed) = receiver.next_access_unit().map_err(to_stream_error)?;

        let mut caps = None;
        let (sps, generation) = receiver.sps();
        if self.sps_generation != Some(generation) && !sps.is_empty() {
            self.sps_generation = Some(generation);
            match params::sps_info(sps) {
                Ok(info) => caps = Some(caps_for(&info)),
                Err(e) => gst::warning!(crate::CAT, "cannot read the SPS for caps: {}", e),
            }
        }

        let now_rt = running_time().unwrap_or(0);
        let waited = Instant::now().duration_since(completed).as_nanos() as u64;
        let arrival = now_rt.saturating_sub(waited);
        let pts = self.timeline.pts(au.rtp_ts, receiver.clock_rate(), arrival);

        let (idr, discont) = (au.idr, au.discont);
        let mut buffer = gst::Buffer::from_mut_slice(au.data);
        {
            let b = buffer.get_mut().expect("a new buffer is writable");
            b.set_pts(gst::ClockTime::from_nseconds(pts));
            let mut flags = gst::BufferFlags::empty();
            if !idr {
                flags |= gst::BufferFlags::DELTA_UNIT;
            }
            if discont {
                flags |= gst::BufferFlags::DISCONT;
            }
            b.set_flags(flags);
        }
        Ok(Produced { buffer, caps })
    }

    /// Sends TEARDOWN and closes the connection.
    pub fn shutdown(&mut self) {
        if let Some(mut r) = self.receiver.take() {
            r.teardown();
        }
    }
}

fn to_stream_error(e: ReceiveError) -> StreamError {
    use gst::ResourceError as R;
    let kind = match &e {
        ReceiveError::Flushing => return StreamError::Flushing,
        ReceiveError::Connect { .. } => R::OpenRead,
        ReceiveError::Session(SessionError::Status { status: 404, .. }) => R::NotFound,
        ReceiveError::Session(SessionError::Status {
            status: 401 | 403, ..
        }) => R::NotAuthorized,
        ReceiveError::Session(SessionError::Auth(AuthError::BadChallenge(_))) => R::NotAuthorized,
        ReceiveError::Session(SessionError::Auth(_)) => R::NotAuthorized,
        ReceiveError::Session(SessionError::Sdp(_)) => R::Settings,
        ReceiveError::Session(_) => R::Read,
        ReceiveError::Io(..) => R::Read,
        ReceiveError::Parse(_) | ReceiveError::Closed | ReceiveError::NoData(_) => R::Read,
    };
    StreamError::Error(gst::error_msg!(kind, ["{}", e]))
}
