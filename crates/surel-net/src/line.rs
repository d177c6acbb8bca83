//! Reading one CRLF-terminated line with a length limit, so a client cannot
//! make the server buffer without bound.

use tokio::io::{AsyncBufRead, AsyncBufReadExt};

#[derive(Debug, thiserror::Error)]
pub enum LineError {
    #[error("line longer than {0} bytes")]
    TooLong(usize),
    #[error("connection closed")]
    Closed,
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Reads up to and including `\n` into `buf` (cleared first). A line longer
/// than `max` is consumed to its end and reported as [`LineError::TooLong`],
/// so the session can answer and go on in sync.
pub async fn read_line<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    max: usize,
) -> Result<(), LineError> {
    buf.clear();
    let mut too_long = false;
    loop {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            return Err(LineError::Closed);
        }
        let (take, done) = match available.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (available.len(), false),
        };
        if !too_long {
            if buf.len() + take > max {
                too_long = true;
                buf.clear();
            } else {
                buf.extend_from_slice(&available[..take]);
            }
        }
        reader.consume(take);
        if done {
            return if too_long {
                Err(LineError::TooLong(max))
            } else {
                Ok(())
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reads_lines_and_skips_over_long_ones() {
        let input: &[u8] = b"a1 NOOP\r\nxxxxxxxxxxxxxxxxxxxxxxxx\r\nb2 LOGOUT\r\n";
        let mut reader = tokio::io::BufReader::with_capacity(4, input);
        let mut buf = Vec::new();
        read_line(&mut reader, &mut buf, 12).await.unwrap();
        assert_eq!(buf, b"a1 NOOP\r\n");
        assert!(matches!(
            read_line(&mut reader, &mut buf, 12).await,
            Err(LineError::TooLong(12))
        ));
        read_line(&mut reader, &mut buf, 12).await.unwrap();
        assert_eq!(buf, b"b2 LOGOUT\r\n");
        assert!(matches!(
            read_line(&mut reader, &mut buf, 12).await,
            Err(LineError::Closed)
        ));
    }
}

/// What a session waiting for its next command got.
#[derive(Debug)]
pub enum Next {
    /// A whole line is in the buffer.
    Line,
    /// The line was longer than allowed (and was skipped).
    TooLong,
    /// No command came within the idle timeout.
    Timeout,
    /// The server is shutting down.
    Shutdown,
    /// The peer closed the connection or it broke.
    Closed,
}

/// Waits for the next command line, the idle timeout or shutdown, whichever
/// comes first. A session calls this only between commands, so shutdown
/// never cuts a command in half.
pub async fn next_line<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    max: usize,
    idle: std::time::Duration,
    shutdown: &tokio_util::sync::CancellationToken,
) -> Next {
    tokio::select! {
        biased;
        _ = shutdown.cancelled() => Next::Shutdown,
        read = tokio::time::timeout(idle, read_line(reader, buf, max)) => match read {
            Err(_) => Next::Timeout,
            Ok(Ok(())) => Next::Line,
            Ok(Err(LineError::TooLong(_))) => Next::TooLong,
            Ok(Err(_)) => Next::Closed,
        },
    }
}
