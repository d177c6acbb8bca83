//! COMPRESS=DEFLATE (RFC 4978): after the tagged OK, both directions are
//! raw DEFLATE (RFC 1951); every flush is a sync flush, so each response
//! reaches the client whole.

use std::pin::Pin;
use std::task::{Context, Poll};

use async_compression::tokio::bufread::DeflateDecoder;
use async_compression::tokio::write::DeflateEncoder;
use tokio::io::{AsyncRead, AsyncWrite, BufReader, ReadBuf, ReadHalf, WriteHalf};

use surel_net::BoxStream;

pub struct Deflate {
    reader: DeflateDecoder<BufReader<ReadHalf<BoxStream>>>,
    writer: DeflateEncoder<WriteHalf<BoxStream>>,
}

impl Deflate {
    pub fn new(stream: BoxStream) -> Deflate {
        let (read, write) = tokio::io::split(stream);
        let mut reader = DeflateDecoder::new(BufReader::new(read));
        // A client may flush in the middle of a DEFLATE block; keep going.
        reader.multiple_members(true);
        Deflate {
            reader,
            writer: DeflateEncoder::new(write),
        }
    }
}

impl AsyncRead for Deflate {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.reader).poll_read(cx, buf)
    }
}

impl AsyncWrite for Deflate {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.writer).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.writer).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.writer).poll_shutdown(cx)
    }
}
