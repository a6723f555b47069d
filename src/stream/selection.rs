//! Choosing which of the SDP's media to set up, apart from parsing it: the first video the element can
//! depacketize (or the first of the codec asked for), then by default the first audio it can play, or
//! every audio and the ONVIF metadata. Media it cannot use (vendor media, unknown codecs) are left
//! out, audio with a reason; it fails only when no video is left.

use super::codec::{Codec, Kind};
use super::spec::StreamSpec;
use crate::rtsp::sdp::{Description, Direction, Media};
use std::fmt;

/// No media the element can play.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NothingToPlay {
    /// The codec asked for (`None`: any the element has).
    pub wanted: Option<Codec>,
    /// What the SDP offered instead, as `<kind> <encoding>`.
    pub offered: Vec<String>,
    /// Media past `sdp::MAX_MEDIA`, not even read.
    pub omitted: usize,
    /// Videos the application refused (`select-stream`).
    pub refused: usize,
}

/// How many of the media found the error names (each cut at 40 characters).
const MAX_MEDIA_SHOWN: usize = 4;

impl fmt::Display for NothingToPlay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.offered.is_empty() {
            return write!(f, "the stream offers no media (empty SDP)");
        }
        if self.refused > 0 {
            return write!(
                f,
                "select-stream refused every video the stream offers ({} of them); the element \
                 needs one for its src pad",
                self.refused
            );
        }
        // A hostile SDP may list thousands of media with long names: a few, each cut short.
        let shown: Vec<String> = self
            .offered
            .iter()
            .take(MAX_MEDIA_SHOWN)
            .map(|m| crate::au::cut(m))
            .collect();
        let more = (self.offered.len() + self.omitted).saturating_sub(MAX_MEDIA_SHOWN);
        write!(
            f,
            "the stream has no {} video (it offers: {}{}); pick another stream/profile on the camera{}",
            self.wanted.map_or("H.264 or H.265", Codec::name),
            shown.join(", "),
            if more > 0 { format!(" and {more} more") } else { String::new() },
            if self.wanted.is_some() { " or video-codec=auto" } else { "" }
        )
    }
}

impl std::error::Error for NothingToPlay {}

/// Which streams to set up besides the video.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StreamChoice {
    VideoOnly,
    /// The video and the first audio the element can play (what rtspsrc2 does).
    #[default]
    VideoAndAudio,
    /// The video, every audio it can play and the first ONVIF metadata stream.
    All,
}

/// What to choose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Choice {
    /// The video codec (`None`: any the element has).
    pub video_codec: Option<Codec>,
    pub streams: StreamChoice,
    /// ONVIF's audio back channel: asked for with `Require`, and the camera's `sendonly` audio is
    /// set up to send on (`backchannel=onvif`).
    pub backchannel: bool,
}

impl Choice {
    /// The video alone, of `video_codec` if given.
    pub fn video_only(video_codec: Option<Codec>) -> Choice {
        Choice {
            video_codec,
            streams: StreamChoice::VideoOnly,
            backchannel: false,
        }
    }
}

/// The streams chosen, in the order their SETUPs go out (the video first), and the media left out
/// that the user may have wanted (an audio codec the element does not know), each with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    pub streams: Vec<StreamSpec>,
    pub left_out: Vec<String>,
    /// ONVIF's audio back channel, when asked for and offered in a codec the element sends: set up
    /// after the streams received.
    pub backchannel: Option<StreamSpec>,
    /// The application refused the back channel the camera offers (select-stream): its own choice,
    /// not the camera's lack.
    pub backchannel_refused: bool,
}

/// Why a stream the application refused is left out.
pub const REFUSED: &str = "refused by select-stream";

/// The streams to set up: the first video of the codec wanted, then the audio `choice` asks for.
pub fn select(desc: &Description, choice: &Choice) -> Result<Selection, NothingToPlay> {
    select_with(desc, choice, &mut |_| true)
}

/// As `select`, with the application's say (`select-stream`): a stream `accept` refuses is not set
/// up, and the next video (or audio) that would do is tried in its place.
pub fn select_with(
    desc: &Description,
    choice: &Choice,
    accept: &mut dyn FnMut(&StreamSpec) -> bool,
) -> Result<Selection, NothingToPlay> {
    let wanted = choice.video_codec;
    let mut refused = Vec::new();
    let video = desc.media.iter().enumerate().find_map(|(index, media)| {
        let (codec, pt, rate) = video_format(media, wanted)?;
        let spec = StreamSpec::new(index, media, codec, pt, (rate, 1)).ok()?;
        if accept(&spec) {
            return Some(spec);
        }
        refused.push(format!("{} video (media {index}): {REFUSED}", codec.name()));
        None
    });
    let Some(video) = video else {
        return Err(NothingToPlay {
            wanted,
            offered: desc.media.iter().map(Media::summary).collect(),
            omitted: desc.omitted,
            refused: refused.len(),
        });
    };
    let mut selection = Selection {
        streams: vec![video],
        left_out: refused,
        backchannel: None,
        backchannel_refused: false,
    };
    let back = choice
        .backchannel
        .then(|| backchannel_media(desc))
        .flatten();
    if let Some(index) = back {
        let media = &desc.media[index];
        match audio_format(media).filter(|(codec, ..)| sent(codec)) {
            Some((codec, pt, format)) => match StreamSpec::new(index, media, codec, pt, format) {
                Ok(spec) if !sendable(&spec) => selection.left_out.push(format!(
                    "back channel (media {index}): AAC in a mode other than AAC-hbr"
                )),
                // The application's say, as rtspsrc asks it of every stream, the back channel's too.
                Ok(spec) if !accept(&spec) => {
                    selection.backchannel_refused = true;
                    selection
                        .left_out
                        .push(format!("back channel (media {index}): {REFUSED}"))
                }
                Ok(spec) => selection.backchannel = Some(spec),
                Err(why) => selection
                    .left_out
                    .push(format!("back channel (media {index}): {why}")),
            },
            None => selection.left_out.push(format!(
                "back channel {} (media {index}): not a codec the element sends (PCMU, PCMA, AAC, G.726)",
                crate::au::cut(&media.summary())
            )),
        }
    }
    let audio = desc
        .media
        .iter()
        .enumerate()
        .filter(|(i, m)| m.kind.eq_ignore_ascii_case("audio") && Some(*i) != back);
    for (index, media) in audio {
        let wanted_more = match choice.streams {
            StreamChoice::VideoOnly => false,
            StreamChoice::VideoAndAudio => selection.streams.len() < 2,
            StreamChoice::All => true,
        };
        if !wanted_more {
            break;
        }
        match audio_format(media) {
            Some((codec, pt, format)) => match StreamSpec::new(index, media, codec, pt, format) {
                Ok(spec) if accept(&spec) => selection.streams.push(spec),
                Ok(_) => selection
                    .left_out
                    .push(format!("{} audio (media {index}): {REFUSED}", codec.name())),
                Err(why) => selection
                    .left_out
                    .push(format!("{} audio (media {index}): {why}", codec.name())),
            },
            None => selection.left_out.push(format!(
                "{} (media {index}): not a codec the element plays",
                crate::au::cut(&media.summary())
            )),
        }
    }
    if choice.streams == StreamChoice::All {
        let metadata = desc.media.iter().enumerate().find_map(|(index, media)| {
            let (codec, pt, rate) = metadata_format(media)?;
            StreamSpec::new(index, media, codec, pt, (rate, 1))
                .ok()
                .filter(|spec| accept(spec))
        });
        selection.streams.extend(metadata);
    }
    Ok(selection)
}

/// The codecs the back channel sends: G.711, which ONVIF requires of every back channel, G.726 and
/// AAC, the others ONVIF names.
fn sent(codec: &Codec) -> bool {
    matches!(
        codec,
        Codec::Pcmu | Codec::Pcma | Codec::Aac | Codec::G726 { .. }
    )
}

/// AAC goes as AAC-hbr only (13-bit sizes, 3-bit indexes), the mode cameras take.
fn sendable(spec: &StreamSpec) -> bool {
    match (&spec.codec, &spec.aac) {
        (Codec::Aac, Some(a)) => {
            (a.size_length, a.index_length, a.index_delta_length) == (13, 3, 3)
        }
        (Codec::Aac, None) => false,
        _ => true,
    }
}

/// The back channel among the media of a camera that took `Require: www.onvif.org/ver20/backchannel`:
/// its `sendonly` audio. Some cameras mark every media `recvonly` (or nothing): with two audio media
/// and none `sendonly`, the last one, where ONVIF puts the back channel.
pub fn backchannel_media(desc: &Description) -> Option<usize> {
    let audio = || {
        let media = desc.media.iter().enumerate();
        media.filter(|(_, m)| m.kind.eq_ignore_ascii_case("audio"))
    };
    let sendonly = audio().find(|(_, m)| m.direction == Direction::SendOnly);
    match sendonly {
        Some((i, _)) => Some(i),
        None if audio().count() >= 2 => audio().next_back().map(|(i, _)| i),
        None => None,
    }
}

/// Every stream the element could set up, for the stream collection it offers: the video `select`
/// takes (one: the src pad carries it), then each audio and metadata media it plays, in SDP order;
/// not the back channel when `choice` asks for one (it is sent, not played).
pub fn playable(desc: &Description, choice: &Choice) -> Vec<StreamSpec> {
    let video = desc.media.iter().enumerate().find_map(|(index, media)| {
        let (codec, pt, rate) = video_format(media, choice.video_codec)?;
        StreamSpec::new(index, media, codec, pt, (rate, 1)).ok()
    });
    let back = choice
        .backchannel
        .then(|| backchannel_media(desc))
        .flatten();
    let others = desc.media.iter().enumerate().filter_map(|(index, media)| {
        if Some(index) == back {
            return None;
        }
        if media.kind.eq_ignore_ascii_case("audio") {
            let (codec, pt, format) = audio_format(media)?;
            StreamSpec::new(index, media, codec, pt, format).ok()
        } else {
            let (codec, pt, rate) = metadata_format(media)?;
            StreamSpec::new(index, media, codec, pt, (rate, 1)).ok()
        }
    });
    video.into_iter().chain(others).collect()
}

/// ONVIF metadata in an `application` media (`vnd.onvif.metadata` and its gzip and EXI forms).
fn metadata_format(media: &Media) -> Option<(Codec, u8, u32)> {
    if !media.kind.eq_ignore_ascii_case("application") {
        return None;
    }
    media.rtpmaps.iter().find_map(|r| {
        let codec = Codec::from_encoding(&r.encoding).filter(|c| c.kind() == Kind::Metadata)?;
        media.payload_types.contains(&r.payload_type).then_some((
            codec,
            r.payload_type,
            r.clock_rate,
        ))
    })
}

/// The codec, payload type and clock rate of `media` when it is video of a codec in `wanted`. The
/// payload type must be one the `m=` line lists, and the media must say it is video: Ubiquiti puts
/// audio on the video's payload type.
fn video_format(media: &Media, wanted: Option<Codec>) -> Option<(Codec, u8, u32)> {
    if !media.kind.eq_ignore_ascii_case("video") {
        return None;
    }
    media.rtpmaps.iter().find_map(|r| {
        let codec = Codec::from_encoding(&r.encoding).filter(|c| c.kind() == Kind::Video)?;
        (wanted.is_none_or(|w| w == codec) && media.payload_types.contains(&r.payload_type))
            .then_some((codec, r.payload_type, r.clock_rate))
    })
}

/// The first audio format of `media` the element plays, in the `m=` line's order of preference: its
/// codec from the rtpmap's name, never from the number (cameras put AAC on payload type 0 and declare
/// `rtpmap:8 PCMU`), or RFC 3551's static types for numbers without an rtpmap (Foscam).
fn audio_format(media: &Media) -> Option<(Codec, u8, (u32, u32))> {
    media.payload_types.iter().find_map(|&pt| {
        let (codec, rate, channels) = match media.rtpmaps.iter().find(|r| r.payload_type == pt) {
            Some(r) => (
                Codec::from_encoding(&r.encoding)?,
                r.clock_rate,
                r.channels.map_or(1, u32::from),
            ),
            None => Codec::from_static(pt)?,
        };
        (codec.kind() == Kind::Audio).then_some((codec, pt, (rate, channels)))
    })
}

#[cfg(test)]
mod tests;
