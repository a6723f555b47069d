//! Log lines that say which element — which camera — they come from. The protocol core holds a `Log`
//! handed down by the element and logs through it, so that with 64 cameras in one process every line
//! of `GST_DEBUG=rustrtspsrc:6` carries its element's name. Unit tests use `Log::default()`.

use gst::prelude::*;

/// The element to log as (weakly held: the core never keeps the element alive).
#[derive(Clone, Default)]
pub struct Log(Option<glib::WeakRef<gst::Object>>);

impl Log {
    pub fn new(obj: &impl IsA<gst::Object>) -> Self {
        Log(Some(obj.upcast_ref::<gst::Object>().downgrade()))
    }

    pub fn object(&self) -> Option<gst::Object> {
        self.0.as_ref().and_then(|w| w.upgrade())
    }
}

impl std::fmt::Debug for Log {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.object() {
            Some(o) => write!(f, "Log({})", o.name()),
            None => write!(f, "Log(-)"),
        }
    }
}

/// `log!(self.log, Warning, "format", args…)`: a line under the `rustrtspsrc` category, with the element
/// as its object. Arguments are formatted only when the level is enabled.
#[macro_export]
macro_rules! log {
    ($log:expr, $level:ident, $($args:tt)+) => {{
        #[allow(unused_imports)]
        use gst::log::DebugLogger as _;
        let level = gst::DebugLevel::$level;
        if $crate::CAT.above_threshold(level) {
            match $log.object() {
                Some(obj) => gst::log_with_level!($crate::CAT, level, obj = obj, $($args)+),
                None => gst::log_with_level!($crate::CAT, level, $($args)+),
            }
        }
    }};
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_element_and_holds_it_weakly() {
        gst::init().unwrap();
        let obj = gst::Bin::with_name("front-door");
        let log = Log::new(&obj);
        assert_eq!(format!("{log:?}"), "Log(front-door)");
        crate::log!(log, Debug, "a line with {}", "an object");
        drop(obj);
        assert!(log.object().is_none());
        crate::log!(Log::default(), Debug, "a line without");
    }
}
