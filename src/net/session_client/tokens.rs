//! What each epoll token of the session client's loop stands for: the wake-up, the RTSP connection,
//! an HTTP tunnel's POST connection, per stream its RTP socket (the one that wakes the loop), its bulk
//! RTP socket (marker steering) and its RTCP socket, and the back channel's queue.

use crate::net::epoll::TOKEN_TIMER;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Token {
    Wake,
    Rtsp,
    TunnelPost,
    Rtp(usize),
    RtpBulk(usize),
    Rtcp(usize),
    /// The back channel's queue has audio to send.
    Backchannel,
}

/// Tokens per stream; the first stream's come after the wake-up's and the connections'.
const PER_STREAM: usize = 3;
const FIRST_STREAM: usize = 3;
/// The streams a session client serves: their tokens must stay below the timer's.
pub(super) const MAX_STREAMS: usize = (TOKEN_BACKCHANNEL as usize - FIRST_STREAM) / PER_STREAM;
/// Just below the timer's.
const TOKEN_BACKCHANNEL: u8 = TOKEN_TIMER - 1;

impl Token {
    /// The number the poller reports it by (below `TOKEN_TIMER` for streams below `MAX_STREAMS`).
    pub fn id(self) -> u8 {
        let n = match self {
            Token::Wake => 0,
            Token::Rtsp => 1,
            Token::TunnelPost => 2,
            Token::Rtp(i) => FIRST_STREAM + PER_STREAM * i,
            Token::RtpBulk(i) => FIRST_STREAM + PER_STREAM * i + 1,
            Token::Rtcp(i) => FIRST_STREAM + PER_STREAM * i + 2,
            Token::Backchannel => return TOKEN_BACKCHANNEL,
        };
        debug_assert!(n < usize::from(TOKEN_TIMER), "stream beyond MAX_STREAMS");
        n as u8
    }
}

/// The tokens one wait reported ready.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Ready(pub u64);

impl Ready {
    pub fn has(self, token: Token) -> bool {
        self.0 & (1 << token.id()) != 0
    }

    /// The precise timer (the reorder window's deadline) fired.
    pub fn timer(self) -> bool {
        self.0 & (1 << TOKEN_TIMER) != 0
    }

    /// Either of stream `i`'s RTP sockets has datagrams.
    pub fn rtp(self, i: usize) -> bool {
        self.has(Token::Rtp(i)) || self.has(Token::RtpBulk(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_distinct_and_below_the_timer() {
        let mut seen = vec![Token::Wake.id(), Token::Rtsp.id(), Token::TunnelPost.id()];
        for i in 0..MAX_STREAMS {
            seen.extend([
                Token::Rtp(i).id(),
                Token::RtpBulk(i).id(),
                Token::Rtcp(i).id(),
            ]);
        }
        assert!(seen.iter().all(|&t| t < TOKEN_TIMER));
        let mut unique = seen.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), seen.len());
        let ready = Ready(1 << Token::RtpBulk(1).id() | 1 << TOKEN_TIMER);
        assert!(ready.rtp(1) && !ready.rtp(0) && ready.timer() && !ready.has(Token::Rtsp));
    }
}
