//! The shared library users load through GST_PLUGIN_PATH is accepted by GStreamer (the other tests
//! register the plugin statically and would not notice, e.g., a plugin description GStreamer rejects).

mod common;

use gst::prelude::*;

#[test]
fn plugin_file_loads() {
    let path = common::cargo_build(&["--lib", "--quiet"]).join("libgstrustrtsp.so");
    gst::init().unwrap();
    let plugin =
        gst::Plugin::load_file(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(plugin.plugin_name(), "rustrtsp");
    assert!(!plugin.origin().is_empty());
    let factory = gst::ElementFactory::find("rustrtspsrc").expect("element registered by the file");
    assert_eq!(factory.plugin().unwrap().filename().unwrap(), path);
}
