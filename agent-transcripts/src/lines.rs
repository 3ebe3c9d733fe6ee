//! Splits the bytes of a growing file into complete lines.
//!
//! One job: [`LineReader`]. Feed it whatever a `read` returned; it hands back only lines that
//! ended in `\n`, keeps an unfinished last line for the next feed, and skips a line longer than
//! its limit while streaming through it, never holding more than the limit. It must not parse
//! JSON, open files or know any agent.

use memchr::memchr;

use crate::parser::SkipCounts;

/// The default line limit: 64 MiB (Claude Code writes a whole tool result on one line; a
/// pasted image or a large file read can make a line of several MiB).
pub const DEFAULT_MAX_LINE_BYTES: usize = 64 * 1024 * 1024;

/// A line splitter over pushed byte chunks.
///
/// ```
/// use agent_transcripts::LineReader;
/// let mut r = LineReader::new();
/// r.push(b"{\"a\":1}\n{\"b\":");
/// assert_eq!(r.next_line(), Some(&b"{\"a\":1}"[..]));
/// assert_eq!(r.next_line(), None); // the second line is not finished yet
/// r.push(b"2}\n");
/// assert_eq!(r.next_line(), Some(&b"{\"b\":2}"[..]));
/// assert_eq!(r.consumed_bytes(), 16); // a checkpoint offset: everything before it is handled
/// ```
///
/// Behaviour at the edges:
/// - a line is yielded without its `\n` (a `\r` before it is left for the parser, which
///   tolerates it);
/// - an empty line is yielded as an empty slice;
/// - a line longer than `max_line_bytes` (excluding the `\n`) is dropped as soon as it is known
///   to be too long, its remaining bytes are skipped as they arrive, and it is counted once in
///   [`SkipCounts::oversized`]; memory stays below `max_line_bytes` plus one pushed chunk;
/// - bytes after the last `\n` stay buffered until more arrive. At the end of a whole file,
///   [`finish_last_line`](Self::finish_last_line) hands them back as the file's last line
///   (for [`crate::parser::finish_input`], the one end-of-input policy); [`finish`](Self::finish)
///   drops them and counts them in [`SkipCounts::partial_lines`].
#[derive(Debug)]
pub struct LineReader {
    buf: Vec<u8>,
    /// Start of the first line not yet yielded.
    start: usize,
    /// Start of the unfinished line (everything before it is complete lines).
    tail_start: usize,
    max_line_bytes: usize,
    /// Inside an oversized line whose end has not arrived yet.
    discarding: bool,
    /// Bytes of the oversized line skipped so far.
    discarded: u64,
    /// Bytes of input fully handled (yielded or skipped lines, newline included).
    consumed: u64,
    counts: SkipCounts,
}

impl Default for LineReader {
    fn default() -> Self {
        Self::new()
    }
}

impl LineReader {
    /// A reader with the [`DEFAULT_MAX_LINE_BYTES`] limit.
    pub fn new() -> Self {
        Self::with_max_line_bytes(DEFAULT_MAX_LINE_BYTES)
    }

    /// A reader that skips lines longer than `max_line_bytes` (at least 1).
    pub fn with_max_line_bytes(max_line_bytes: usize) -> Self {
        Self {
            buf: Vec::new(),
            start: 0,
            tail_start: 0,
            max_line_bytes: max_line_bytes.max(1),
            discarding: false,
            discarded: 0,
            consumed: 0,
            counts: SkipCounts::default(),
        }
    }

    /// Appends the next bytes of the file. Lines already complete but not yet taken with
    /// [`next_line`](Self::next_line) are kept.
    pub fn push(&mut self, mut chunk: &[u8]) {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.tail_start -= self.start;
            self.start = 0;
        }
        while !chunk.is_empty() {
            if self.discarding {
                match memchr(b'\n', chunk) {
                    None => {
                        self.discarded += chunk.len() as u64;
                        return;
                    }
                    Some(i) => {
                        self.consumed += self.discarded + i as u64 + 1;
                        self.discarded = 0;
                        self.discarding = false;
                        self.counts.oversized = self.counts.oversized.saturating_add(1);
                        chunk = &chunk[i + 1..];
                        continue;
                    }
                }
            }
            let open = self.buf.len() - self.tail_start;
            match memchr(b'\n', chunk) {
                Some(i) => {
                    if open + i > self.max_line_bytes {
                        self.consumed += (open + i + 1) as u64;
                        self.buf.truncate(self.tail_start);
                        self.counts.oversized = self.counts.oversized.saturating_add(1);
                    } else {
                        self.buf.extend_from_slice(&chunk[..=i]);
                        self.tail_start = self.buf.len();
                    }
                    chunk = &chunk[i + 1..];
                }
                None => {
                    if open + chunk.len() > self.max_line_bytes {
                        self.discarded = (open + chunk.len()) as u64;
                        self.buf.truncate(self.tail_start);
                        self.discarding = true;
                    } else {
                        self.buf.extend_from_slice(chunk);
                    }
                    return;
                }
            }
        }
    }

    /// The next complete line, without its `\n`; `None` until more bytes are pushed.
    pub fn next_line(&mut self) -> Option<&[u8]> {
        if self.start >= self.tail_start {
            return None;
        }
        let rest = &self.buf[self.start..self.tail_start];
        // Every byte range before tail_start ends in '\n', so there is always one.
        let end = memchr(b'\n', rest).unwrap_or(rest.len().saturating_sub(1));
        let line_start = self.start;
        self.start += end + 1;
        self.consumed += end as u64 + 1;
        Some(&self.buf[line_start..line_start + end])
    }

    /// Declares the end of input: an unfinished last line (or the rest of an oversized one) is
    /// dropped and counted in [`SkipCounts::partial_lines`]. Returns how many bytes were dropped.
    /// Complete lines not yet taken stay available.
    pub fn finish(&mut self) -> u64 {
        let open = (self.buf.len() - self.tail_start) as u64 + self.discarded;
        if open > 0 {
            self.counts.partial_lines = self.counts.partial_lines.saturating_add(1);
            self.buf.truncate(self.tail_start);
            self.discarding = false;
            self.discarded = 0;
        }
        open
    }

    /// Declares the end of input and hands back the bytes after the last newline, if any, as
    /// the input's last line (they then count as consumed). Call it once [`next_line`](Self::next_line)
    /// returned `None`: while complete lines are waiting it returns `None` and finishes
    /// nothing. The rest of an oversized line is counted in [`SkipCounts::oversized`] instead.
    pub fn finish_last_line(&mut self) -> Option<&[u8]> {
        if self.discarding {
            self.consumed += self.discarded;
            self.discarded = 0;
            self.discarding = false;
            self.counts.oversized = self.counts.oversized.saturating_add(1);
            return None;
        }
        if self.start < self.tail_start || self.tail_start == self.buf.len() {
            return None;
        }
        let from = self.tail_start;
        self.consumed += (self.buf.len() - from) as u64;
        self.tail_start = self.buf.len();
        self.start = self.buf.len();
        Some(&self.buf[from..])
    }

    /// Bytes of input fully handled: yielded lines and skipped oversized lines, newlines
    /// included. Resuming a file at this offset loses and repeats nothing.
    pub fn consumed_bytes(&self) -> u64 {
        self.consumed
    }

    /// Bytes of the unfinished last line currently held (0 while skipping an oversized line).
    pub fn pending_bytes(&self) -> usize {
        self.buf.len() - self.tail_start
    }

    /// Bytes held in memory (complete lines not yet taken plus the unfinished line).
    pub fn buffered_bytes(&self) -> usize {
        self.buf.len() - self.start
    }

    /// The limit this reader enforces.
    pub fn max_line_bytes(&self) -> usize {
        self.max_line_bytes
    }

    /// Oversized and partial lines seen so far (the other counters stay zero here: they are the
    /// parser's).
    pub fn counts(&self) -> SkipCounts {
        self.counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(r: &mut LineReader) -> Vec<Vec<u8>> {
        let mut v = Vec::new();
        while let Some(l) = r.next_line() {
            v.push(l.to_vec());
        }
        v
    }

    #[test]
    fn lines_split_across_chunks_come_out_whole() {
        let mut r = LineReader::new();
        let input = b"alpha\nbeta\n\ngamma\ndelta";
        for b in input.chunks(3) {
            r.push(b);
        }
        assert_eq!(
            drain(&mut r),
            vec![
                b"alpha".to_vec(),
                b"beta".to_vec(),
                b"".to_vec(),
                b"gamma".to_vec()
            ]
        );
        assert_eq!(r.pending_bytes(), 5);
        assert_eq!(r.consumed_bytes(), 18);
        assert_eq!(r.finish(), 5);
        assert_eq!(r.counts().partial_lines, 1);
    }

    #[test]
    fn oversized_line_is_skipped_while_streaming() {
        let mut r = LineReader::with_max_line_bytes(10);
        r.push(b"ok\n0123456789");
        r.push(b"ABCDEFGHIJ");
        assert!(r.buffered_bytes() <= 13);
        r.push(b"KLM\nnext\n");
        assert_eq!(drain(&mut r), vec![b"ok".to_vec(), b"next".to_vec()]);
        assert_eq!(r.counts().oversized, 1);
        assert_eq!(r.consumed_bytes(), 3 + 24 + 5);
    }

    #[test]
    fn the_unfinished_last_line_is_handed_back_at_the_end() {
        let mut r = LineReader::new();
        r.push(b"a\nbc");
        assert_eq!(r.finish_last_line(), None, "a complete line is waiting");
        assert_eq!(drain(&mut r), vec![b"a".to_vec()]);
        assert_eq!(r.finish_last_line(), Some(&b"bc"[..]));
        assert_eq!(r.finish_last_line(), None);
        assert_eq!(r.consumed_bytes(), 4);
        assert_eq!(r.counts(), SkipCounts::default());
        let mut big = LineReader::with_max_line_bytes(2);
        big.push(b"ok\nlong line");
        drain(&mut big);
        assert_eq!(big.finish_last_line(), None);
        assert_eq!((big.counts().oversized, big.consumed_bytes()), (1, 12));
    }

    #[test]
    fn line_of_exactly_the_limit_is_kept() {
        let mut r = LineReader::with_max_line_bytes(4);
        r.push(b"abcd\nabcde\n");
        assert_eq!(drain(&mut r), vec![b"abcd".to_vec()]);
        assert_eq!(r.counts().oversized, 1);
    }
}
