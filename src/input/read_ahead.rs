//! Reading JSON Lines on a thread of their own, ahead of the run.
//!
//! Parsing moves off the runtime's thread (the run takes ready batches), and a read that
//! waits on a slow source (a FIFO whose writer is quiet) no longer holds up an interrupt: the
//! run waits in short steps, looking at the stop flag between them. The run takes orders in
//! file order. From a regular file it waits for the next one when it wants it, so a run on
//! the virtual clock stays the same run for the same input, however fast the reader is. From
//! a live source (a pipe, a FIFO, a terminal) it goes on with the orders it has while the
//! next has not come (see [`Feed`]).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TryRecvError};
use std::task::{Context, Poll};

use futures_util::task::AtomicWaker;

use crate::engine::Feed;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use super::{JsonLines, LineReader, OrderFileError, Record};

/// Orders sent together: fewer hand-overs than one at a time.
const BATCH: usize = 1024;
/// Batches the reader may be ahead by: memory stays bounded (about `BATCH * AHEAD` orders).
const AHEAD: usize = 16;
/// The most orders the reader may have read that the run has not taken yet: the batches
/// queued, the one being filled and the one being taken from. A string id's text must be
/// remembered that long (see [`crate::input::ids::remember`]).
pub const MOST_AHEAD: usize = (AHEAD + 2) * BATCH;
/// How long the run waits for a batch before it looks at the stop flag again.
const STEP: Duration = Duration::from_millis(20);

/// Told about each invalid line that is skipped.
pub type OnSkipped = Box<dyn Fn(&OrderFileError) + Send>;

/// What the reader hands back when it stops.
#[derive(Debug)]
pub struct Finished<T> {
    pub lines: Box<JsonLines<T, LineReader>>,
    /// The invalid line that stopped it, when invalid lines are not skipped (or an I/O
    /// error).
    pub stopped_by: Option<OrderFileError>,
    /// Orders read but never taken by the run (it ended first): their lines count as unread.
    pub not_taken: u64,
}

/// The run's end of the reader: an iterator of orders, in file order.
pub struct ReadAhead<T> {
    batches: Receiver<Vec<T>>,
    /// Woken by the reader after each batch, for a run waiting on a live source.
    handed: Arc<AtomicWaker>,
    live: bool,
    current: std::vec::IntoIter<T>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Finished<T>>>,
}

impl<T> std::fmt::Debug for ReadAhead<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadAhead").finish_non_exhaustive()
    }
}

impl<T: Record> ReadAhead<T> {
    /// Starts reading `lines` on a thread. Invalid lines stop the reading, unless
    /// `on_skipped` is given: then each is handed to it and reading goes on. `stop` (set on
    /// Ctrl-C) ends the reading, and the run's waiting for it.
    ///
    /// `live`: the source is not a regular file, and an order may take its time to come.
    pub fn start(
        lines: Box<JsonLines<T, LineReader>>,
        on_skipped: Option<OnSkipped>,
        stop: Arc<AtomicBool>,
        live: bool,
    ) -> std::io::Result<Self> {
        let (tx, batches) = mpsc::sync_channel(AHEAD);
        let handed = Arc::new(AtomicWaker::new());
        let wake = Arc::clone(&handed);
        let thread = std::thread::Builder::new()
            .name("order reader".into())
            .spawn(move || {
                let finished = read(lines, on_skipped, &tx, &wake);
                // The end of the input wakes a waiting run too.
                drop(tx);
                wake.wake();
                finished
            })?;
        Ok(ReadAhead {
            batches,
            handed,
            live,
            current: Vec::new().into_iter(),
            stop,
            thread: Some(thread),
        })
    }

    /// Stops the reader (the run is over) and takes back what it read: waits for it a
    /// moment only, since it may be blocked on a slow source; `None` if it did not stop.
    pub fn finish(mut self) -> Option<Finished<T>> {
        let mut not_taken = self.current.len() as u64;
        self.current = Vec::new().into_iter();
        // Dropping the receiver makes the reader's next hand-over fail, which stops it; what
        // is queued meanwhile was read but not taken.
        not_taken += self.batches.try_iter().map(|b| b.len() as u64).sum::<u64>();
        let thread = self.thread.take()?;
        drop(self.batches);
        for _ in 0..50 {
            if thread.is_finished() {
                let mut finished = thread.join().ok()?;
                finished.not_taken += not_taken;
                return Some(finished);
            }
            std::thread::sleep(STEP);
        }
        tracing::warn!(
            "the order reader is still waiting on its source; its lines are not counted"
        );
        None
    }
}

impl<T> Iterator for ReadAhead<T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        loop {
            if let Some(order) = self.current.next() {
                return Some(order);
            }
            if self.stop.load(Ordering::Relaxed) {
                return None;
            }
            match self.batches.recv_timeout(STEP) {
                Ok(batch) => self.current = batch.into_iter(),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return None,
            }
        }
    }
}

impl<T: Record> Feed<T> for ReadAhead<T> {
    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        if !self.live {
            return Poll::Ready(self.next());
        }
        loop {
            if let Some(order) = self.current.next() {
                return Poll::Ready(Some(order));
            }
            if self.stop.load(Ordering::Relaxed) {
                return Poll::Ready(None);
            }
            match self.batches.try_recv() {
                Ok(batch) => self.current = batch.into_iter(),
                Err(TryRecvError::Disconnected) => return Poll::Ready(None),
                Err(TryRecvError::Empty) => {
                    // Registered, then looked at again: a batch sent in between is not missed.
                    self.handed.register(cx.waker());
                    match self.batches.try_recv() {
                        Ok(batch) => self.current = batch.into_iter(),
                        Err(TryRecvError::Disconnected) => return Poll::Ready(None),
                        Err(TryRecvError::Empty) => return Poll::Pending,
                    }
                }
            }
        }
    }

    fn next_blocking(&mut self) -> Option<T> {
        self.next()
    }
}

/// The reader thread: parses lines into batches, each sent as soon as it is full, or as soon
/// as the next line is not buffered yet (so an order from a slow source goes in at once).
fn read<T: Record>(
    mut lines: Box<JsonLines<T, LineReader>>,
    on_skipped: Option<OnSkipped>,
    tx: &SyncSender<Vec<T>>,
    handed: &AtomicWaker,
) -> Finished<T> {
    let mut batch = Vec::with_capacity(BATCH);
    let mut stopped_by = None;
    let mut not_taken = 0;
    let mut run_gone = false;
    loop {
        match lines.next() {
            None => break,
            Some(Ok(order)) => batch.push(order),
            Some(Err(err @ OrderFileError::Invalid { .. })) if on_skipped.is_some() => {
                if let Some(report) = &on_skipped {
                    report(&err);
                }
            }
            Some(Err(err)) => {
                stopped_by = Some(err);
                break;
            }
        }
        if batch.len() >= BATCH || (!batch.is_empty() && !lines.line_buffered()) {
            if let Err(mpsc::SendError(unsent)) = tx.send(std::mem::take(&mut batch)) {
                not_taken += unsent.len() as u64;
                run_gone = true;
                break;
            }
            handed.wake();
        }
    }
    if !run_gone && !batch.is_empty() {
        if let Err(mpsc::SendError(unsent)) = tx.send(batch) {
            not_taken += unsent.len() as u64;
        }
    } else {
        not_taken += batch.len() as u64;
    }
    Finished {
        lines,
        stopped_by,
        not_taken,
    }
}
