//! A blocking [`Read`] over byte pieces sent from async code, so the CSV reader
//! (synchronous, on a blocking thread) can consume a stream that arrives over
//! the network or from the database. The channel is bounded: the sender waits
//! while the reader is busy, so memory stays at a few pieces.

use std::io::Read;

use bytes::Bytes;
use tokio::sync::mpsc;

/// One piece, or why the source broke off (the reader then fails with it, so a
/// cut-off source never looks like a shorter file).
pub type Piece = std::io::Result<Bytes>;

/// Reads the pieces in order; end of stream when the sender is dropped.
pub struct ChannelReader {
    rx: mpsc::Receiver<Piece>,
    current: Bytes,
}

impl ChannelReader {
    /// A bounded channel of `depth` pieces and its reader.
    pub fn channel(depth: usize) -> (mpsc::Sender<Piece>, Self) {
        let (tx, rx) = mpsc::channel(depth.max(1));
        (
            tx,
            Self {
                rx,
                current: Bytes::new(),
            },
        )
    }
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(piece) => self.current = piece?,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        let _ = self.current.split_to(n);
        Ok(n)
    }
}
