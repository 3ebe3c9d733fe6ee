//! Just enough HTTP/1.1 for an OTLP exporter: one request at a time off a
//! keep-alive connection, bodies by `Content-Length` or chunked.

use std::io::{self, BufRead, BufReader, Read, Write};

/// Request line plus headers; an exporter sends well under 1 KiB.
const MAX_HEAD: usize = 64 * 1024;
/// Large enough for any batch an SDK sends, small enough to refuse nonsense lengths.
const MAX_BODY: usize = 256 * 1024 * 1024;

/// A request as read off the wire.
pub(crate) struct RawRequest {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) version: String,
    /// Names lower-cased, values trimmed.
    pub(crate) headers: Vec<(String, String)>,
    /// De-chunked, otherwise as sent.
    pub(crate) body: Vec<u8>,
}

impl RawRequest {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// HTTP/1.1 keeps the connection unless told otherwise; HTTP/1.0 only when asked.
    pub(crate) fn keep_alive(&self) -> bool {
        let conn = self
            .header("connection")
            .unwrap_or_default()
            .to_ascii_lowercase();
        if self.version == "HTTP/1.0" {
            conn.contains("keep-alive")
        } else {
            !conn.contains("close")
        }
    }
}

pub(crate) enum ReadError {
    /// The peer closed the connection between requests.
    Eof,
    /// Not HTTP we understand; the reason goes in the 400 body.
    Malformed(&'static str),
    Io,
}

impl From<io::Error> for ReadError {
    fn from(e: io::Error) -> Self {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            ReadError::Malformed("connection closed mid-request")
        } else {
            ReadError::Io
        }
    }
}

/// One line without its CRLF; `None` at EOF before any byte.
fn read_line(r: &mut impl BufRead, limit: usize) -> Result<Option<String>, ReadError> {
    let mut buf = Vec::new();
    let n = r.take(limit as u64).read_until(b'\n', &mut buf)?;
    if n == 0 {
        return Ok(None);
    }
    if buf.pop() != Some(b'\n') {
        return Err(ReadError::Malformed(if n >= limit {
            "line too long"
        } else {
            "connection closed mid-line"
        }));
    }
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    Ok(Some(String::from_utf8_lossy(&buf).into_owned()))
}

/// Reads the next request. `w` receives `100 Continue` when the client waits for it.
pub(crate) fn read_request<S: Read + Write>(r: &mut BufReader<S>) -> Result<RawRequest, ReadError> {
    // RFC 9112 §2.2: ignore empty lines before the request line.
    let line = loop {
        match read_line(r, MAX_HEAD)? {
            None => return Err(ReadError::Eof),
            Some(l) if l.is_empty() => {}
            Some(l) => break l,
        }
    };
    let mut parts = line.split_whitespace();
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ReadError::Malformed("bad request line"));
    };
    if !version.starts_with("HTTP/1.") {
        return Err(ReadError::Malformed("not HTTP/1.x"));
    }
    // Absolute form (`http://host/path`), as sent through a proxy.
    let path = match target.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("/", |i| &rest[i..]),
        None => target,
    };

    let mut headers = Vec::new();
    let mut head_len = line.len();
    loop {
        let line =
            read_line(r, MAX_HEAD)?.ok_or(ReadError::Malformed("connection closed in headers"))?;
        head_len += line.len();
        if head_len > MAX_HEAD {
            return Err(ReadError::Malformed("headers too large"));
        }
        if line.is_empty() {
            break;
        }
        let (name, value) = line
            .split_once(':')
            .ok_or(ReadError::Malformed("header without colon"))?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
    let mut req = RawRequest {
        method: method.to_owned(),
        path: path.to_owned(),
        version: version.to_owned(),
        headers,
        body: Vec::new(),
    };

    if req
        .header("expect")
        .is_some_and(|e| e.eq_ignore_ascii_case("100-continue"))
    {
        let w = r.get_mut();
        w.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        w.flush()?;
    }
    let chunked = req
        .header("transfer-encoding")
        .is_some_and(|te| te.to_ascii_lowercase().contains("chunked"));
    if chunked {
        req.body = read_chunked(r)?;
    } else if let Some(len) = req.header("content-length") {
        let len: usize = len
            .parse()
            .map_err(|_| ReadError::Malformed("bad content-length"))?;
        if len > MAX_BODY {
            return Err(ReadError::Malformed("body too large"));
        }
        // `take` grows the buffer as bytes arrive rather than trusting the header.
        r.take(len as u64).read_to_end(&mut req.body)?;
        if req.body.len() != len {
            return Err(ReadError::Malformed("connection closed mid-body"));
        }
    }
    Ok(req)
}

fn read_chunked(r: &mut impl BufRead) -> Result<Vec<u8>, ReadError> {
    let mut body = Vec::new();
    loop {
        let line =
            read_line(r, 1024)?.ok_or(ReadError::Malformed("connection closed mid-chunk"))?;
        let size = line.split(';').next().unwrap_or_default().trim();
        let size =
            usize::from_str_radix(size, 16).map_err(|_| ReadError::Malformed("bad chunk size"))?;
        if size == 0 {
            // Trailers, up to the blank line; nothing an exporter sends matters here.
            while !read_line(r, MAX_HEAD)?
                .ok_or(ReadError::Malformed("connection closed in trailers"))?
                .is_empty()
            {}
            return Ok(body);
        }
        if body.len().saturating_add(size) > MAX_BODY {
            return Err(ReadError::Malformed("body too large"));
        }
        let start = body.len();
        r.take(size as u64).read_to_end(&mut body)?;
        if body.len() - start != size {
            return Err(ReadError::Malformed("connection closed mid-chunk"));
        }
        if read_line(r, 2)?.is_none_or(|l| !l.is_empty()) {
            return Err(ReadError::Malformed("chunk not followed by CRLF"));
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        // Clients read the code; the phrase is decoration (RFC 9112 §4).
        _ => "Status",
    }
}

pub(crate) fn write_response(
    w: &mut impl Write,
    status: u16,
    content_type: &str,
    body: &[u8],
    close: bool,
) -> io::Result<()> {
    let connection = if close { "close" } else { "keep-alive" };
    let head = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: {connection}\r\n\r\n",
        reason(status),
        body.len(),
    );
    // One write so the client never sees a head without its body.
    let mut out = head.into_bytes();
    out.extend_from_slice(body);
    w.write_all(&out)?;
    w.flush()
}
