//! Task output as log lines, bounded while it is read: a line longer than `MAX_LINE_BYTES` is
//! cut as it arrives (`head -c 4G /dev/zero` is one "line" that never ends), and an attempt's
//! log stops at `sched.max_log_bytes_per_task`; the rest is read and counted, so the task never
//! blocks on a full pipe, and one line at the end says how much was dropped.

use std::sync::atomic::{AtomicU64, Ordering};

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

/// Longer lines are cut: one runaway line must not become one huge row.
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// sched.max_log_bytes_per_task as the database last said (16 MB until then).
static LOG_CAP: AtomicU64 = AtomicU64::new(16 * 1024 * 1024);

pub fn set_log_cap(bytes: u64) {
    LOG_CAP.store(bytes, Ordering::Relaxed);
}

/// Lines of a task's stdout or stderr, each at most `MAX_LINE_BYTES`.
pub struct CappedLines<R> {
    reader: BufReader<R>,
    line: Vec<u8>,
    cut: u64,
}

impl<R: AsyncRead + Unpin> CappedLines<R> {
    pub fn new(reader: R) -> Self {
        CappedLines {
            reader: BufReader::new(reader),
            line: Vec::new(),
            cut: 0,
        }
    }

    /// The next line without its newline, and how many bytes were cut off it; `None` at the
    /// end of the output. Cancel-safe: a partial line stays in `self` (the only await is
    /// `fill_buf`, which consumes nothing).
    pub async fn next(&mut self) -> Option<(Vec<u8>, u64)> {
        loop {
            let buf = match self.reader.fill_buf().await {
                Ok(buf) => buf,
                Err(_) => &[],
            };
            if buf.is_empty() {
                if self.line.is_empty() && self.cut == 0 {
                    return None;
                }
                return Some(self.take());
            }
            let newline = buf.iter().position(|&b| b == b'\n');
            let chunk = &buf[..newline.unwrap_or(buf.len())];
            let room = MAX_LINE_BYTES - self.line.len();
            let kept = chunk.len().min(room);
            self.line.extend_from_slice(&chunk[..kept]);
            self.cut += (chunk.len() - kept) as u64;
            let consumed = newline.map_or(buf.len(), |i| i + 1);
            self.reader.consume(consumed);
            if newline.is_some() {
                return Some(self.take());
            }
        }
    }

    fn take(&mut self) -> (Vec<u8>, u64) {
        let cut = std::mem::take(&mut self.cut);
        (std::mem::take(&mut self.line), cut)
    }
}

/// A line as stored: invalid UTF-8 and NUL become U+FFFD (visible, and storable in every
/// server encoding's conversion from UTF-8 that the reporter falls back to), a trailing CR
/// goes, and a cut line says so.
pub fn to_text(bytes: &[u8], cut: u64) -> String {
    let mut text = String::from_utf8_lossy(bytes)
        .trim_end_matches('\r')
        .replace('\0', "\u{FFFD}");
    if cut > 0 {
        text.push_str(&format!(
            " [sched-worker: line cut, {cut} more bytes dropped]"
        ));
    }
    text
}

/// What is left of one attempt's log.
pub struct LogBudget {
    left: u64,
    dropped: u64,
}

impl LogBudget {
    pub fn new() -> Self {
        LogBudget {
            left: LOG_CAP.load(Ordering::Relaxed),
            dropped: 0,
        }
    }

    /// Whether a line of `text` may still be stored; counts it as dropped when not.
    pub fn admit(&mut self, text: &str) -> bool {
        let size = text.len() as u64 + 1;
        if size <= self.left && self.dropped == 0 {
            self.left -= size;
            true
        } else {
            self.dropped += size;
            false
        }
    }

    /// The closing line for an attempt whose log was cut, if it was.
    pub fn summary(&self) -> Option<String> {
        (self.dropped > 0).then(|| {
            format!(
                "[sched-worker: output past sched.max_log_bytes_per_task ({} bytes): {} more bytes dropped]",
                LOG_CAP.load(Ordering::Relaxed),
                self.dropped
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn long_lines_are_cut_while_read_and_short_ones_pass() {
        let mut input = vec![b'x'; MAX_LINE_BYTES + 10];
        input.extend_from_slice(b"\nshort\r\nlast");
        let mut lines = CappedLines::new(&input[..]);
        let (first, cut) = lines.next().await.unwrap();
        assert_eq!((first.len(), cut), (MAX_LINE_BYTES, 10));
        let (second, _) = lines.next().await.unwrap();
        assert_eq!(to_text(&second, 0), "short");
        assert_eq!(lines.next().await.unwrap(), (b"last".to_vec(), 0));
        assert!(lines.next().await.is_none());
    }

    #[test]
    fn invalid_utf8_and_nul_are_replaced_visibly() {
        assert_eq!(to_text(b"a\xffb\0c", 0), "a\u{FFFD}b\u{FFFD}c");
        assert!(to_text(b"abc", 5).ends_with("line cut, 5 more bytes dropped]"));
    }

    #[test]
    fn the_budget_stops_at_the_cap_and_counts_the_rest() {
        let mut budget = LogBudget {
            left: 10,
            dropped: 0,
        };
        assert!(budget.admit("12345678"));
        assert!(!budget.admit("abc"));
        assert!(!budget.admit("d"), "nothing after the first dropped line");
        assert!(budget.summary().unwrap().contains("6 more bytes dropped"));
    }
}
