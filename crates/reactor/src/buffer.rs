//! [`Buffer`]: a connection's input bytes, bounded, reused, and given back to
//! a pool while the connection is idle.

/// Bytes read from a peer and not yet consumed: `data[start..end]`.
///
/// The backing storage is zeroed once when allocated and never again, so a read
/// goes straight into it without unsafe code and without clearing memory on
/// every read.
#[derive(Debug, Default)]
pub struct Buffer {
    data: Vec<u8>,
    start: usize,
    end: usize,
    /// Bytes moved to the front so far.
    #[cfg(test)]
    moved: usize,
}

impl Buffer {
    pub(crate) fn with_storage(data: Vec<u8>) -> Buffer {
        Buffer {
            data,
            start: 0,
            end: 0,
            #[cfg(test)]
            moved: 0,
        }
    }

    /// The unconsumed bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.data[self.start..self.end]
    }

    /// Number of unconsumed bytes.
    pub fn len(&self) -> usize {
        self.end - self.start
    }

    /// Whether every byte has been consumed.
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// Drop `n` bytes from the front.
    pub fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.end);
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    pub(crate) fn capacity(&self) -> usize {
        self.data.len()
    }

    pub(crate) fn take_storage(&mut self) -> Vec<u8> {
        self.start = 0;
        self.end = 0;
        std::mem::take(&mut self.data)
    }

    /// Whether the bytes reach the end of the storage usable under `max`:
    /// the next [`spare`](Buffer::spare) would have to move them or grow.
    pub(crate) fn at_end(&self, max: usize) -> bool {
        self.end >= self.data.len().min(max)
    }

    /// Free space at the end. Where there is none, the unconsumed bytes are
    /// moved to the front if that moves no more bytes than it frees, or,
    /// with the storage at `max`, frees at least `slack`; otherwise the
    /// storage grows (doubling, up to `max` bytes). Empty when the storage
    /// is at `max` and neither holds: the caller reads again once more is
    /// consumed, so that no read moves a buffer's worth of bytes to gain a
    /// few (a client keeping its socket full while the server consumes a
    /// request at a time would otherwise have it moved for every request).
    /// Storage larger than `max` (a pooled vector, say) is used only up to
    /// `max`, so the buffer never holds more.
    pub(crate) fn spare(&mut self, max: usize, slack: usize) -> &mut [u8] {
        if self.at_end(max) {
            let len = self.len();
            let at_max = self.data.len() >= max;
            if self.start > 0 && (self.start >= len || (at_max && self.start >= slack)) {
                self.data.copy_within(self.start..self.end, 0);
                #[cfg(test)]
                {
                    self.moved += len;
                }
                self.end = len;
                self.start = 0;
            } else if !at_max {
                let grown = (self.data.len() * 2).max(4096).min(max);
                self.data.resize(grown, 0);
            }
        }
        let limit = self.data.len().min(max).max(self.end);
        &mut self.data[self.end..limit]
    }

    pub(crate) fn filled(&mut self, n: usize) {
        self.end += n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SLACK: usize = 16 * 1024;

    /// Fill the buffer through `spare` until it says it is full.
    fn fill(buf: &mut Buffer, max: usize) -> usize {
        loop {
            let n = buf.spare(max, SLACK.min(max / 4)).len();
            if n == 0 {
                return buf.len();
            }
            buf.filled(n);
        }
    }

    #[test]
    fn never_holds_more_than_max_whatever_its_storage() {
        for (storage, max) in [(0, 1024), (1024, 2048), (16 * 1024, 1024), (0, 80 * 1024)] {
            let mut buf = Buffer::with_storage(vec![0; storage]);
            assert_eq!(fill(&mut buf, max), max, "storage {storage}, max {max}");
            // Consuming the slack from the front makes room again, up to
            // `max`.
            buf.consume(SLACK.min(max / 4));
            assert_eq!(fill(&mut buf, max), max, "storage {storage}, max {max}");
        }
    }

    #[test]
    fn a_full_buffer_consumed_a_little_at_a_time_moves_a_few_bytes_per_byte_read() {
        // A client keeps the buffer full while the server consumes a
        // 40-byte request at a time, reading whenever it may.
        const MAX: usize = 80 * 1024;
        let mut buf = Buffer::with_storage(vec![0; 16 * 1024]);
        let mut read = fill(&mut buf, MAX);
        for _ in 0..10_000 {
            buf.consume(40);
            loop {
                let n = buf.spare(MAX, SLACK).len();
                if n == 0 {
                    break;
                }
                buf.filled(n);
                read += n;
            }
            assert!(buf.len() > MAX - SLACK - 40, "read whenever it may");
        }
        // Each move frees at least the slack and moves at most the rest.
        assert!(
            buf.moved <= read * (MAX - SLACK) / SLACK,
            "moved {} for {read} read",
            buf.moved
        );
        assert!(buf.moved > 0);
    }

    #[test]
    fn below_max_it_grows_rather_than_move_many_bytes_to_free_few() {
        let mut buf = Buffer::with_storage(vec![0; 16 * 1024]);
        assert_eq!(buf.spare(80 * 1024, SLACK).len(), 16 * 1024);
        buf.filled(16 * 1024);
        buf.consume(40);
        assert_eq!(buf.spare(80 * 1024, SLACK).len(), 16 * 1024);
        assert_eq!((buf.moved, buf.capacity()), (0, 32 * 1024));
    }

    #[test]
    fn a_move_that_frees_as_much_as_it_moves_is_made_whatever_the_slack() {
        const MAX: usize = 4096;
        let mut buf = Buffer::with_storage(vec![0; MAX]);
        buf.filled(MAX);
        buf.consume(MAX - 100);
        assert_eq!(buf.spare(MAX, SLACK).len(), MAX - 100);
        assert_eq!(buf.moved, 100);
    }
}
