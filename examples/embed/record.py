# Records a camera from Python (PyGObject) with rustrtspsrc; prints a line per keyframe and a count.
#   GST_PLUGIN_PATH=target/release python3 examples/embed/record.py rtsp://camera/stream 10
# Needs python3-gi and gir1.2-gstreamer-1.0 (Debian). tests/embedding.rs runs this file.
import sys

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst

Gst.init(None)
url, seconds = sys.argv[1], float(sys.argv[2]) if len(sys.argv) > 2 else 10
pipeline = Gst.parse_launch("rustrtspsrc name=src ! appsink name=sink emit-signals=true sync=false")
pipeline.get_by_name("src").set_property("location", url)
count = {"buffers": 0, "keyframes": 0}


def on_sample(sink):
    buf = sink.emit("pull-sample").get_buffer()
    count["buffers"] += 1
    if not buf.has_flags(Gst.BufferFlags.DELTA_UNIT):
        count["keyframes"] += 1
        print("keyframe at", buf.pts, "size", buf.get_size())
    return Gst.FlowReturn.OK


pipeline.get_by_name("sink").connect("new-sample", on_sample)
pipeline.set_state(Gst.State.PLAYING)
msg = pipeline.get_bus().timed_pop_filtered(
    int(seconds * Gst.SECOND), Gst.MessageType.ERROR | Gst.MessageType.EOS
)
pipeline.set_state(Gst.State.NULL)
if msg and msg.type == Gst.MessageType.ERROR:
    print("error:", msg.parse_error()[0].message)
    sys.exit(1)
print("buffers", count["buffers"], "keyframes", count["keyframes"])
