//! A minimal HTTP/1.1 keep-alive client for the load generator.
//!
//! The load generator shares the machine with the server it measures, so every microsecond it
//! spends is taken from the server. A general client (reqwest) spent about as much CPU per
//! request as the server's whole request path; this one writes a request it formats into a
//! reused buffer and reads back only the status line, the `Content-Length` and the body bytes.
//! It understands exactly what `upline serve` answers (bodies with a length, no chunking) and
//! refuses anything else as a failed request.

use std::io;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The longest response head accepted.
const HEAD_BYTES_MAX: usize = 16 * 1024;

/// One keep-alive connection.
pub struct Connection {
    stream: TcpStream,
    host: String,
    request: Vec<u8>,
    response: Vec<u8>,
}

/// What came back (the load tool reads past the body without keeping it).
pub struct Answer {
    pub status: u16,
}

impl Connection {
    /// Connects to `host:port` (a `http://host:port` base URL without its scheme).
    pub async fn open(host: &str) -> io::Result<Connection> {
        let stream = TcpStream::connect(host).await?;
        stream.set_nodelay(true)?;
        Ok(Connection {
            stream,
            host: host.to_owned(),
            request: Vec::with_capacity(1024),
            response: Vec::with_capacity(4096),
        })
    }

    /// Sends one request and reads its answer. `headers` are `(name, value)` pairs.
    pub async fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> io::Result<Answer> {
        self.format_request(method, path, headers, body);
        self.stream.write_all(&self.request).await?;
        self.read_answer().await
    }

    fn format_request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) {
        use std::io::Write as _;
        let request = &mut self.request;
        request.clear();
        let _ = write!(
            request,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\n",
            self.host
        );
        for (name, value) in headers {
            let _ = write!(request, "{name}: {value}\r\n");
        }
        match body {
            Some(body) => {
                let _ = write!(
                    request,
                    "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                    body.len()
                );
                request.extend_from_slice(body);
            }
            None => request.extend_from_slice(b"\r\n"),
        }
    }

    async fn read_answer(&mut self) -> io::Result<Answer> {
        let response = &mut self.response;
        response.clear();
        let head_end = loop {
            if let Some(at) = find(response, b"\r\n\r\n") {
                break at + 4;
            }
            if response.len() > HEAD_BYTES_MAX {
                return Err(invalid("a response head over 16 KiB"));
            }
            read_more(&mut self.stream, response).await?;
        };
        let head = std::str::from_utf8(&response[..head_end])
            .map_err(|_| invalid("a response head that is not UTF-8"))?;
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse::<u16>().ok())
            .ok_or_else(|| invalid("no status code"))?;
        let mut length = None;
        for line in head.split("\r\n").skip(1) {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse::<usize>().ok();
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                return Err(invalid(
                    "a chunked response (this client reads lengths only)",
                ));
            }
        }
        let length = length.ok_or_else(|| invalid("no Content-Length"))?;
        while response.len() < head_end + length {
            read_more(&mut self.stream, response).await?;
        }
        // Keep-alive answers one request at a time: nothing may follow the body.
        if response.len() > head_end + length {
            return Err(invalid("bytes after the response body"));
        }
        Ok(Answer { status })
    }
}

async fn read_more(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> io::Result<()> {
    let mut chunk = [0u8; 8192];
    let read = stream.read(&mut chunk).await?;
    if read == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the server closed the connection",
        ));
    }
    buffer.extend_from_slice(&chunk[..read]);
    Ok(())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    #[tokio::test]
    async fn sends_requests_and_reads_answers_on_one_connection() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut seen = Vec::new();
            for answer in [
                "HTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\n{}",
                "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
            ] {
                let mut buffer = vec![0u8; 4096];
                let read = socket.read(&mut buffer).await.unwrap();
                seen.push(String::from_utf8_lossy(&buffer[..read]).into_owned());
                socket.write_all(answer.as_bytes()).await.unwrap();
            }
            seen
        });
        let mut connection = Connection::open(&address).await.unwrap();
        let created = connection
            .send(
                "POST",
                "/v1/orders",
                &[("Idempotency-Key", "k1")],
                Some(b"{\"a\":1}"),
            )
            .await
            .unwrap();
        assert_eq!(created.status, 201);
        let missing = connection.send("GET", "/v1/x", &[], None).await.unwrap();
        // The second answer is read right only if the first body was consumed exactly.
        assert_eq!(missing.status, 404);
        let seen = server.await.unwrap();
        assert!(
            seen[0].starts_with("POST /v1/orders HTTP/1.1\r\n"),
            "{}",
            seen[0]
        );
        assert!(seen[0].contains("Idempotency-Key: k1\r\n"));
        assert!(
            seen[0].ends_with("Content-Length: 7\r\n\r\n{\"a\":1}"),
            "{}",
            seen[0]
        );
        assert!(seen[1].ends_with("\r\n\r\n"));
    }
}
