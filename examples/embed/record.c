/* Records a camera from C with rustrtspsrc: gst_parse_launch is all it takes.
 *   cc record.c $(pkg-config --cflags --libs gstreamer-1.0) -o record
 *   GST_PLUGIN_PATH=target/release ./record rtsp://camera/stream out.h264 10
 * tests/embedding.rs builds and runs this file. */
#include <gst/gst.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  gst_init(&argc, &argv);
  if (argc < 3) {
    g_printerr("usage: record URL FILE [SECONDS]\n");
    return 2;
  }
  GstElement *pipeline = gst_parse_launch(
      "rustrtspsrc name=src ! filesink name=file", NULL);
  GstElement *src = gst_bin_get_by_name(GST_BIN(pipeline), "src");
  GstElement *file = gst_bin_get_by_name(GST_BIN(pipeline), "file");
  if (!src || !file) {
    g_printerr("rustrtspsrc not found: set GST_PLUGIN_PATH or install the plugin\n");
    return 1;
  }
  g_object_set(src, "location", argv[1], NULL);
  g_object_set(file, "location", argv[2], NULL);
  gst_element_set_state(pipeline, GST_STATE_PLAYING);
  GstBus *bus = gst_element_get_bus(pipeline);
  double seconds = argc > 3 ? atof(argv[3]) : 10;
  GstMessage *msg = gst_bus_timed_pop_filtered(
      bus, (GstClockTime)(seconds * GST_SECOND), GST_MESSAGE_ERROR | GST_MESSAGE_EOS);
  int rc = 0;
  if (msg && GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ERROR) {
    GError *err = NULL;
    gst_message_parse_error(msg, &err, NULL);
    g_printerr("error: %s\n", err->message);
    g_error_free(err);
    rc = 1;
  }
  /* EOS first, so the last access unit is written whole. */
  gst_element_send_event(pipeline, gst_event_new_eos());
  GstMessage *eos = gst_bus_timed_pop_filtered(bus, 5 * GST_SECOND, GST_MESSAGE_EOS);
  if (eos)
    gst_message_unref(eos);
  if (msg)
    gst_message_unref(msg);
  gst_element_set_state(pipeline, GST_STATE_NULL);
  gst_object_unref(bus);
  gst_object_unref(src);
  gst_object_unref(file);
  gst_object_unref(pipeline);
  return rc;
}
