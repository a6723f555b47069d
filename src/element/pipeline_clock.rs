//! The clock the pipeline gave the element, held for reading the running time once per picture and
//! per audio frame. `gst_element_get_current_running_time` takes a reference to the clock and drops
//! it on every call, so every picture of every camera wrote the one clock's reference count from its
//! own streaming thread; reading the held clock writes nothing shared. (The CPU this saves is below
//! what side-by-side runs on the benchmark machine can show: BENCHMARKS.md, 2026-12-08.)

use gst::prelude::*;
use std::sync::Mutex;

#[derive(Debug, Default)]
pub struct PipelineClock(Mutex<Option<gst::Clock>>);

impl PipelineClock {
    /// The element's clock changed (`GstElement::set_clock`).
    pub fn set(&self, clock: Option<&gst::Clock>) {
        *self.0.lock().unwrap() = clock.cloned();
    }

    /// `element`'s running time now (ns), as `gst_element_get_current_running_time` has it: `None`
    /// without a clock or a base time, or before the base time.
    pub fn running_time(&self, element: &gst::Element) -> Option<u64> {
        let now = self.0.lock().unwrap().as_ref()?.time();
        let base = element.base_time()?;
        now.nseconds().checked_sub(base.nseconds())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same running time as GStreamer's own reading, from a pipeline's clock and base time.
    #[test]
    fn reads_as_gstreamer_does() {
        gst::init().unwrap();
        let element = gst::ElementFactory::make("fakesrc").build().unwrap();
        let held = PipelineClock::default();
        assert_eq!(held.running_time(&element), None);
        let clock = gst::SystemClock::obtain();
        element.set_clock(Some(&clock)).unwrap();
        held.set(Some(&clock));
        let base = clock.time() - gst::ClockTime::from_seconds(2);
        element.set_base_time(base);
        let ours = held.running_time(&element).unwrap();
        let theirs = element.current_running_time().unwrap().nseconds();
        assert!(
            ours <= theirs && theirs - ours < 1_000_000_000,
            "{ours} {theirs}"
        );
        assert!(ours >= 2_000_000_000);
        element.set_base_time(clock.time() + gst::ClockTime::from_seconds(60));
        assert_eq!(held.running_time(&element), None);
        held.set(None);
        assert_eq!(held.running_time(&element), None);
    }
}
