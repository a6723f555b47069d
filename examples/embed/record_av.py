# Records a camera's video and audio into Matroska from Python (PyGObject) with rustrtspsrc: the video
# pad is there from the start; the audio pad comes later, linked in pad-added.
#   GST_PLUGIN_PATH=target/release python3 examples/embed/record_av.py rtsp://camera/stream out.mkv 10
# Needs python3-gi and gir1.2-gstreamer-1.0 (Debian). tests/embedding.rs runs this file.
import sys

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst

Gst.init(None)
url, path = sys.argv[1], sys.argv[2]
seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 10
pipeline = Gst.parse_launch(
    "rustrtspsrc name=src ! h264parse ! queue ! matroskamux name=mux ! filesink name=file"
)
src, mux = pipeline.get_by_name("src"), pipeline.get_by_name("mux")
src.set_property("location", url)
pipeline.get_by_name("file").set_property("location", path)


def on_pad(src, pad):
    # audio_0, audio_1, ...: any codec goes into Matroska as it comes.
    if not pad.get_name().startswith("audio_"):
        return
    queue = Gst.ElementFactory.make("queue")
    pipeline.add(queue)
    queue.sync_state_with_parent()
    pad.link(queue.get_static_pad("sink"))
    queue.link_pads("src", mux, "audio_%u")
    print("recording", pad.get_name(), pad.get_current_caps().get_structure(0).get_name())


src.connect("pad-added", on_pad)
pipeline.set_state(Gst.State.PLAYING)
bus = pipeline.get_bus()
msg = bus.timed_pop_filtered(int(seconds * Gst.SECOND), Gst.MessageType.ERROR | Gst.MessageType.EOS)
if msg and msg.type == Gst.MessageType.ERROR:
    pipeline.set_state(Gst.State.NULL)
    print("error:", msg.parse_error()[0].message)
    sys.exit(1)
# EOS first, so that the muxer writes its index.
pipeline.send_event(Gst.Event.new_eos())
bus.timed_pop_filtered(5 * Gst.SECOND, Gst.MessageType.EOS)
pipeline.set_state(Gst.State.NULL)
