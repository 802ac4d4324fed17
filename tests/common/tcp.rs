//! The embedded drivers' streams in tests: a keep-alive TCP connection as an `embedded-io`
//! (blocking) or `embedded-io-async` (tokio) stream, each read bounded so a hung server fails
//! the test instead of hanging it. Included with `#[path]` by the tests that need it.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::Duration;

/// How long any single read may wait.
pub const READ_TIMEOUT: Duration = Duration::from_secs(20);

/// A blocking TCP stream as an `embedded-io` stream.
pub struct BlockingTcp(TcpStream);

impl BlockingTcp {
    pub fn connect(addr: std::net::SocketAddr) -> Self {
        let s = TcpStream::connect(addr).expect("connect to the sandbox");
        s.set_read_timeout(Some(READ_TIMEOUT)).expect("timeout");
        BlockingTcp(s)
    }
}

impl embedded_io::ErrorType for BlockingTcp {
    type Error = std::io::Error;
}

impl embedded_io::Read for BlockingTcp {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf)
    }
}

impl embedded_io::Write for BlockingTcp {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// A tokio TCP stream as an `embedded-io-async` stream.
pub struct AsyncTcp(tokio::net::TcpStream);

impl AsyncTcp {
    pub async fn connect(addr: std::net::SocketAddr) -> Self {
        AsyncTcp(
            tokio::net::TcpStream::connect(addr)
                .await
                .expect("connect to the sandbox"),
        )
    }
}

impl embedded_io_async::ErrorType for AsyncTcp {
    type Error = std::io::Error;
}

impl embedded_io_async::Read for AsyncTcp {
    async fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        use tokio::io::AsyncReadExt;
        tokio::time::timeout(READ_TIMEOUT, self.0.read(buf))
            .await
            .unwrap_or_else(|_| Err(std::io::ErrorKind::TimedOut.into()))
    }
}

impl embedded_io_async::Write for AsyncTcp {
    async fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        use tokio::io::AsyncWriteExt;
        self.0.write(buf).await
    }

    async fn flush(&mut self) -> std::io::Result<()> {
        use tokio::io::AsyncWriteExt;
        self.0.flush().await
    }
}
