// A live555 RTSP server for the tests: the RTSP stack most cameras embed, built from the 2024.06.26
// sources PyPI's `liblivemedia` package ships (scripts/live555.sh). It serves the clips in DIR over UDP,
// TCP-interleaved and HTTP tunnelling, as a camera built on live555 does:
//   /h264 /h265            video only
//   /h264-aac /h265-aac    the same video with an AAC (ADTS file) track beside it
// Usage: live555-test-server RTSP_PORT HTTP_PORT DIR (0: any free port). Prints "ready RTSP_PORT
// HTTP_PORT" once both listen.
#include "BasicUsageEnvironment.hh"
#include "liveMedia.hh"
#include <cstdio>
#include <cstdlib>
#include <string>

// RTSPServer as createNew makes it, with the port it bound readable (asked for port 0).
class TestServer : public RTSPServer {
 public:
  static TestServer* createNew(UsageEnvironment& env, Port port) {
    int v4 = setUpOurSocket(env, port, AF_INET);
    int v6 = setUpOurSocket(env, port, AF_INET6);
    if (v4 < 0 && v6 < 0) return NULL;
    return new TestServer(env, v4, v6, port);
  }
  unsigned portNum() const { return ntohs(fServerPort.num()); }

 protected:
  TestServer(UsageEnvironment& env, int v4, int v6, Port port) : RTSPServer(env, v4, v6, port, NULL, 65) {}
};

static void add(UsageEnvironment& env, RTSPServer* server, char const* name, std::string const& video,
                bool h265, std::string const& audio) {
  ServerMediaSession* sms = ServerMediaSession::createNew(env, name, name, "rustrtspsrc test clip");
  // reuseFirstSource False: every client starts the clip from its first picture, as a camera's
  // stream starts each session with a keyframe soon after PLAY.
  if (h265) {
    sms->addSubsession(H265VideoFileServerMediaSubsession::createNew(env, video.c_str(), False));
  } else {
    sms->addSubsession(H264VideoFileServerMediaSubsession::createNew(env, video.c_str(), False));
  }
  if (!audio.empty()) {
    sms->addSubsession(ADTSAudioFileServerMediaSubsession::createNew(env, audio.c_str(), False));
  }
  server->addServerMediaSession(sms);
}

int main(int argc, char** argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s RTSP_PORT HTTP_PORT DIR\n", argv[0]);
    return 2;
  }
  TaskScheduler* scheduler = BasicTaskScheduler::createNew();
  UsageEnvironment* env = BasicUsageEnvironment::createNew(*scheduler);
  // A 1080p keyframe does not fit live555's 60 kB default: it would be cut (and warned about).
  OutPacketBuffer::maxSize = 4000000;
  TestServer* server = TestServer::createNew(*env, Port((portNumBits)atoi(argv[1])));
  if (server == NULL) {
    fprintf(stderr, "cannot listen for RTSP: %s\n", env->getResultMsg());
    return 1;
  }
  if (!server->setUpTunnelingOverHTTP((portNumBits)atoi(argv[2]))) {
    fprintf(stderr, "cannot listen for HTTP tunnelling: %s\n", env->getResultMsg());
    return 1;
  }
  std::string dir = argv[3];
  add(*env, server, "h264", dir + "/clip.h264", false, "");
  add(*env, server, "h265", dir + "/clip.h265", true, "");
  add(*env, server, "h264-aac", dir + "/clip.h264", false, dir + "/clip.aac");
  add(*env, server, "h265-aac", dir + "/clip.h265", true, dir + "/clip.aac");
  printf("ready %u %u\n", server->portNum(), (unsigned)server->httpServerPortNum());
  fflush(stdout);
  env->taskScheduler().doEventLoop();
  return 0;
}
