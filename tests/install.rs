//! `scripts/install.sh --user` puts the plugin where GStreamer looks by itself: `gst-inspect-1.0`
//! finds the element with no GST_PLUGIN_PATH, and `--uninstall` takes it away again.

use std::path::Path;
use std::process::Command;

fn inspect(data_home: &Path, registry: &Path) -> std::process::Output {
    Command::new("gst-inspect-1.0")
        .arg("rustrtspsrc")
        .env("XDG_DATA_HOME", data_home)
        .env("GST_REGISTRY", registry)
        .env_remove("GST_PLUGIN_PATH")
        .env_remove("GST_PLUGIN_PATH_1_0")
        .output()
        .expect("gst-inspect-1.0 (gstreamer1.0-tools)")
}

#[test]
fn user_install_is_found_without_gst_plugin_path() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = std::env::temp_dir().join(format!("rustrtspsrc-install-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).unwrap();
    let registry = tmp.join("registry.bin");
    let script = |args: &[&str]| {
        let out = Command::new(root.join("scripts/install.sh"))
            .args(args)
            .env("XDG_DATA_HOME", &tmp)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    script(&["--user", "--debug"]);
    assert!(tmp.join("gstreamer-1.0/plugins/libgstrustrtsp.so").exists());
    let found = inspect(&tmp, &registry);
    let text = String::from_utf8_lossy(&found.stdout);
    assert!(
        found.status.success() && text.contains("rustrtspsrc"),
        "{text}"
    );
    assert!(text.contains("video-codec"), "{text}");

    script(&["--user", "--uninstall"]);
    let gone = inspect(&tmp, &registry);
    assert!(!gone.status.success(), "still found after --uninstall");
    let _ = std::fs::remove_dir_all(&tmp);
}
