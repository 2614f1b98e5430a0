//! How the store hears from the server, and the rule that keeps it to one connection: a
//! new stream (a reconnect after polling) closes the one before, whose listeners go with
//! it. Plain Rust over a [`Stream`] trait, so the rule is tested without a browser.

/// The store's connection, as the tray shows it (`data-link`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    Connecting,
    Live,
    Polling,
}

impl Link {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Connecting => "connecting",
            Self::Live => "live",
            Self::Polling => "polling",
        }
    }
}

/// An open event stream.
pub trait Stream {
    /// Stops it for good: no more events, no more reconnects, listeners released.
    fn close(&mut self);
}

/// Holds at most one stream.
#[derive(Debug)]
pub struct OneStream<S: Stream> {
    current: Option<S>,
}

impl<S: Stream> Default for OneStream<S> {
    fn default() -> Self {
        Self { current: None }
    }
}

impl<S: Stream> OneStream<S> {
    /// Keeps `next`, closing the stream held before.
    pub fn replace(&mut self, next: S) {
        self.close();
        self.current = Some(next);
    }

    pub fn close(&mut self) {
        if let Some(mut old) = self.current.take() {
            old.close();
        }
    }

    pub fn is_open(&self) -> bool {
        self.current.is_some()
    }
}

impl<S: Stream> Drop for OneStream<S> {
    fn drop(&mut self) {
        self.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::rc::Rc;

    /// A stream that counts how many of its kind are open.
    struct Counted(Rc<Cell<i32>>, bool);

    impl Counted {
        fn open(open: &Rc<Cell<i32>>) -> Self {
            open.set(open.get() + 1);
            Self(Rc::clone(open), true)
        }
    }

    impl Stream for Counted {
        fn close(&mut self) {
            if self.1 {
                self.1 = false;
                self.0.set(self.0.get() - 1);
            }
        }
    }

    #[test]
    fn after_any_number_of_drops_exactly_one_stream_is_open() {
        let open = Rc::new(Cell::new(0));
        let mut link = OneStream::default();
        link.replace(Counted::open(&open));
        for _ in 0..25 {
            // The stream drops, the store polls, then tries the stream again.
            link.replace(Counted::open(&open));
            assert_eq!(open.get(), 1);
        }
        drop(link);
        assert_eq!(open.get(), 0);
    }
}
