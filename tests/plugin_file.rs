//! The shared library users load through GST_PLUGIN_PATH is accepted by GStreamer (the other tests
//! register the plugin statically and would not notice, e.g., a plugin description GStreamer rejects).

use gst::prelude::*;
use std::path::PathBuf;
use std::process::Command;

#[test]
fn plugin_file_loads() {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--lib", "--quiet"])
        .current_dir(&manifest)
        .status()
        .expect("cargo build");
    assert!(status.success());
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| manifest.join("target"), PathBuf::from);
    let path = target.join("debug").join("libgstrustrtsp.so");
    gst::init().unwrap();
    let plugin =
        gst::Plugin::load_file(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(plugin.plugin_name(), "rustrtsp");
    assert!(!plugin.origin().is_empty());
    let factory = gst::ElementFactory::find("rustrtspsrc").expect("element registered by the file");
    assert_eq!(factory.plugin().unwrap().filename().unwrap(), path);
}
