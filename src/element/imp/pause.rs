//! What a pause does to the session. basesrc (1.22) does not unlock a live source's `create` on
//! PLAYING -> PAUSED, so a streaming thread waiting for a silent camera would hold the session until the
//! stall timeout: the pause wakes it, and `create` ends the session and waits for PLAYING itself (it
//! never returns FLUSHING to a paused basesrc, whose task would not always start again). A thread,
//! one at a time, ends the session when the streaming thread is elsewhere (pushing, waiting for
//! PLAYING).

use super::RustRtspSrc;
use crate::CAT;
use gst::subclass::prelude::*;
use std::sync::atomic::Ordering;

impl RustRtspSrc {
    /// The element's part of a state change, before basesrc's.
    pub(super) fn on_state_change(&self, transition: gst::StateChange) {
        match transition {
            gst::StateChange::PlayingToPaused => {
                self.paused.store(true, Ordering::SeqCst);
                self.wake();
                self.suspend_when_idle();
            }
            // Only back from a pause: the first PLAYING must not interrupt the first connect.
            gst::StateChange::PausedToPlaying if self.paused.swap(false, Ordering::SeqCst) => {
                self.wake();
            }
            gst::StateChange::ReadyToPaused => self.backchannel.set_flushing(false),
            gst::StateChange::PausedToReady => self.backchannel.set_flushing(true),
            _ => {}
        }
    }

    /// Interrupts whatever the streaming thread waits for (the camera, a connect, the backoff).
    pub(super) fn wake(&self) {
        if let Some(w) = &*self.waker.lock().unwrap() {
            w.wake();
        }
    }

    /// `create` was woken without `unlock`: for a pause, the session ends (TEARDOWN) and the thread
    /// waits here until PLAYING (then reconnects) or `unlock`; for a resume, it goes on at once.
    pub(super) fn wait_while_paused(&self) -> Result<(), gst::FlowError> {
        let Some(waker) = self.waker.lock().unwrap().clone() else {
            return Err(gst::FlowError::Flushing);
        };
        let mut suspended = false;
        loop {
            waker.reset();
            if self.unlocked.load(Ordering::SeqCst) {
                return Err(gst::FlowError::Flushing);
            }
            if !self.paused.load(Ordering::SeqCst) {
                return Ok(());
            }
            if !std::mem::replace(&mut suspended, true) {
                if let Some(s) = self.supervisor.lock().unwrap().as_mut() {
                    s.suspend();
                }
            }
            let _ = crate::net::epoll::wait_one(None, false, Some(&waker), None);
        }
    }

    /// Ends the session once the streaming thread has let go of it (at most a frame later, or the
    /// stall timeout for a camera that went silent), if the pipeline is still paused by then. One
    /// such thread at a time: it reads `paused` once it has the session, so later pauses and plays
    /// are taken into account by the one already waiting.
    fn suspend_when_idle(&self) {
        if self.suspending.swap(true, Ordering::SeqCst) {
            return;
        }
        let obj = self.obj().clone();
        let suspending = self.suspending.clone();
        let spawned = std::thread::Builder::new()
            .name("rustrtspsrc-pause".into())
            .spawn(move || {
                let imp = obj.imp();
                let mut guard = imp.supervisor.lock().unwrap();
                // Cleared with the lock held: a pause from now on starts a thread of its own.
                suspending.store(false, Ordering::SeqCst);
                if imp.paused.load(Ordering::SeqCst) {
                    if let Some(s) = guard.as_mut() {
                        s.suspend();
                    }
                }
            });
        if let Err(e) = spawned {
            self.suspending.store(false, Ordering::SeqCst);
            gst::warning!(CAT, imp = self, "session kept open while paused: {}", e);
        }
    }
}
