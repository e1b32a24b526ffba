//! The start of an answer's bytes, made safe for `eventsource-stream` 0.2.3: it panics on a
//! stream that begins with a byte-order mark (it slices the 3-byte mark at byte 1; upstream
//! pull request jpopesculian/eventsource-stream#10). SSE allows one BOM at the start, so it is
//! removed here, and an empty line (which SSE ignores) goes first so that the parser never
//! looks for another.

use futures::{stream, Stream, StreamExt};

use super::TransportError;

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// One piece of the guarded stream: the start, copied, or a piece of the rest as it came.
pub(super) enum Piece<B> {
    Head(Vec<u8>),
    Body(B),
}

impl<B: AsRef<[u8]>> AsRef<[u8]> for Piece<B> {
    fn as_ref(&self) -> &[u8] {
        match self {
            Piece::Head(bytes) => bytes,
            Piece::Body(bytes) => bytes.as_ref(),
        }
    }
}

/// `bytes` without a leading BOM, after an empty line. Nothing is held back once the first
/// three bytes are in (no event is shorter), however they were split.
pub(super) fn guarded<B: AsRef<[u8]> + Send + 'static>(
    bytes: impl Stream<Item = Result<B, TransportError>> + Send + 'static,
) -> impl Stream<Item = Result<Piece<B>, TransportError>> + Send {
    let start = async move {
        let mut bytes = Box::pin(bytes);
        let mut head = b"\n".to_vec();
        let mut failed = None;
        while head.len() < 1 + BOM.len() {
            match bytes.next().await {
                Some(Ok(piece)) => head.extend_from_slice(piece.as_ref()),
                Some(Err(e)) => {
                    failed = Some(Err(e));
                    break;
                }
                None => break,
            }
        }
        if head[1..].starts_with(BOM) {
            head.drain(1..=BOM.len());
        }
        stream::iter([Ok(Piece::Head(head))])
            .chain(stream::iter(failed))
            .chain(bytes.map(|piece| piece.map(Piece::Body)))
    };
    stream::once(start).flatten()
}
