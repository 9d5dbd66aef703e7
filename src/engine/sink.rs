//! Sinks: where the observer sends every event, in bus order, from one task.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex, PoisonError};

use crate::engine::choreography::Choreography;
use crate::engine::choreography::Envelope;
use crate::engine::stats::Finished;

/// Receives every event of a run, in bus order.
pub trait EventSink<C: Choreography> {
    fn event(&mut self, envelope: &Envelope<C>) -> io::Result<()>;

    /// Called when an instance finishes, right after its terminal event, with its outcome
    /// and latency as the summary counts them.
    fn finished(&mut self, instance: &Finished) {
        let _ = instance;
    }

    /// Called when the run has nothing more for a while (it waits for input from a live
    /// source): write out what is buffered, so a reader sees what has happened.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }

    /// Called once after the last event: flush what is buffered.
    fn finish(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Keeps every event: for tests and for callers that inspect a run afterwards.
impl<C: Choreography> EventSink<C> for Vec<Envelope<C>> {
    fn event(&mut self, envelope: &Envelope<C>) -> io::Result<()> {
        self.push(envelope.clone());
        Ok(())
    }
}

/// Feeds every event to several sinks, in order (the output, a journal, a report).
#[allow(missing_debug_implementations)]
pub struct Fanout<'a, C: Choreography>(pub Vec<&'a mut (dyn EventSink<C> + Send)>);

impl<C: Choreography> EventSink<C> for Fanout<'_, C> {
    fn event(&mut self, envelope: &Envelope<C>) -> io::Result<()> {
        // Every sink gets every event, even after one fails: the journal stays complete when
        // stdout breaks.
        let mut first_error = None;
        for sink in self.0.iter_mut() {
            if let Err(err) = sink.event(envelope) {
                first_error.get_or_insert(err);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    fn finished(&mut self, instance: &Finished) {
        for sink in self.0.iter_mut() {
            sink.finished(instance);
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.each(|sink| sink.flush())
    }

    fn finish(&mut self) -> io::Result<()> {
        self.each(|sink| sink.finish())
    }
}

impl<C: Choreography> Fanout<'_, C> {
    /// `act` on every sink, even after one fails (a journal must be flushed); the first error.
    fn each(
        &mut self,
        mut act: impl FnMut(&mut (dyn EventSink<C> + Send)) -> io::Result<()>,
    ) -> io::Result<()> {
        let mut first_error = None;
        for sink in self.0.iter_mut() {
            if let Err(err) = act(&mut **sink) {
                first_error.get_or_insert(err);
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

/// Events handed over to the thread together: one hand-over per batch, not per event.
const HANDOVER: usize = 1024;
/// Batches the run may be ahead of the thread by, before it waits for it (memory stays
/// bounded when the output is slow: a pipe to a slow reader).
const AHEAD: usize = 16;

/// A sink run on a thread of its own: formatting and writing leave the run's thread, so
/// on two cores the services and the output run side by side.
///
/// The thread gets every event and every finished instance in the order the run saw them,
/// so what it writes is byte for byte what the sink would have written in place. A write
/// error comes back on a later call (`event` or `finish`), once; the run then stops as it
/// would have. The thread is scoped: it cannot outlive the sink it borrows.
pub struct OffThread<'scope, C: Choreography> {
    batch: Vec<Handed<C>>,
    to_thread: Option<mpsc::SyncSender<Message<C>>>,
    /// Batches the thread is done with, emptied, to be filled again: their memory is made
    /// and freed on the run's thread, not once a batch and across threads.
    emptied: mpsc::Receiver<Vec<Handed<C>>>,
    thread: Option<std::thread::ScopedJoinHandle<'scope, ()>>,
    /// The thread's first write error, not yet returned.
    failed: Arc<Mutex<Option<io::Error>>>,
    has_failed: Arc<AtomicBool>,
}

enum Handed<C: Choreography> {
    Event(Envelope<C>),
    Finished(Finished),
}

enum Message<C: Choreography> {
    Batch(Vec<Handed<C>>),
    Flush,
    /// Finish the sink and say how it went.
    Finish(mpsc::SyncSender<io::Result<()>>),
}

impl<C: Choreography> std::fmt::Debug for OffThread<'_, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OffThread")
            .field("batched", &self.batch.len())
            .finish_non_exhaustive()
    }
}

impl<'scope, C: Choreography> OffThread<'scope, C> {
    /// Starts `sink` on a thread of `scope`.
    pub fn start<'env, S: EventSink<C> + Send + 'scope>(
        scope: &'scope std::thread::Scope<'scope, 'env>,
        mut sink: S,
    ) -> io::Result<Self> {
        let (to_thread, from_run) = mpsc::sync_channel::<Message<C>>(AHEAD);
        let (give_back, emptied) = mpsc::sync_channel::<Vec<Handed<C>>>(AHEAD + 1);
        let failed = Arc::new(Mutex::new(None));
        let has_failed = Arc::new(AtomicBool::new(false));
        let (thread_failed, thread_has_failed) = (Arc::clone(&failed), Arc::clone(&has_failed));
        let fail = move |err: io::Error| {
            let mut failed = thread_failed.lock().unwrap_or_else(PoisonError::into_inner);
            if failed.is_none() && !thread_has_failed.load(Ordering::Relaxed) {
                *failed = Some(err);
                thread_has_failed.store(true, Ordering::Release);
            }
        };
        let thread = std::thread::Builder::new()
            .name("output writer".into())
            .spawn_scoped(scope, move || {
                for message in from_run {
                    match message {
                        Message::Batch(mut batch) => {
                            for handed in batch.drain(..) {
                                match handed {
                                    Handed::Event(envelope) => {
                                        if let Err(err) = sink.event(&envelope) {
                                            fail(err);
                                        }
                                    }
                                    Handed::Finished(finished) => sink.finished(&finished),
                                }
                            }
                            // Dropped instead if the run has enough.
                            let _ = give_back.try_send(batch);
                        }
                        Message::Flush => {
                            if let Err(err) = sink.flush() {
                                fail(err);
                            }
                        }
                        Message::Finish(reply) => {
                            let _ = reply.send(sink.finish());
                        }
                    }
                }
            })?;
        Ok(OffThread {
            batch: Vec::with_capacity(HANDOVER),
            to_thread: Some(to_thread),
            emptied,
            thread: Some(thread),
            failed,
            has_failed,
        })
    }

    /// Hands the batch to the thread; the thread's first error, if it has one to tell.
    fn hand_over(&mut self) -> io::Result<()> {
        if !self.batch.is_empty() {
            let next = self
                .emptied
                .try_recv()
                .unwrap_or_else(|_| Vec::with_capacity(HANDOVER));
            let batch = std::mem::replace(&mut self.batch, next);
            let sent = self
                .to_thread
                .as_ref()
                .is_some_and(|to_thread| to_thread.send(Message::Batch(batch)).is_ok());
            if !sent {
                return Err(self.gone());
            }
        }
        self.take_error()
    }

    fn take_error(&mut self) -> io::Result<()> {
        if self.has_failed.load(Ordering::Acquire) {
            if let Some(err) = self
                .failed
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take()
            {
                return Err(err);
            }
        }
        Ok(())
    }

    /// The thread ended before it was told to: it panicked.
    fn gone(&mut self) -> io::Error {
        self.to_thread = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        io::Error::other("the output thread stopped unexpectedly")
    }
}

impl<C: Choreography> EventSink<C> for OffThread<'_, C> {
    fn event(&mut self, envelope: &Envelope<C>) -> io::Result<()> {
        self.batch.push(Handed::Event(envelope.clone()));
        if self.batch.len() >= HANDOVER {
            return self.hand_over();
        }
        Ok(())
    }

    fn finished(&mut self, instance: &Finished) {
        self.batch.push(Handed::Finished(*instance));
    }

    fn flush(&mut self) -> io::Result<()> {
        self.hand_over()?;
        match &self.to_thread {
            Some(to_thread) if to_thread.send(Message::Flush).is_ok() => Ok(()),
            _ => Err(self.gone()),
        }
    }

    /// Hands over the rest, and waits until the thread has written and flushed everything.
    fn finish(&mut self) -> io::Result<()> {
        let handed = self.hand_over();
        let (reply, result) = mpsc::sync_channel(1);
        let finished = match &self.to_thread {
            Some(to_thread) if to_thread.send(Message::Finish(reply)).is_ok() => {
                result.recv().unwrap_or_else(|_| Err(self.gone()))
            }
            _ => Err(self.gone()),
        };
        // An error that came up while writing is the one to report; then the flush's.
        handed.and(self.take_error()).and(finished)
    }
}

impl<C: Choreography> Drop for OffThread<'_, C> {
    /// The thread ends once it has what was handed to it (the scope joins it).
    fn drop(&mut self) {
        if let Err(err) = self.hand_over() {
            tracing::debug!(%err, "output error after the run");
        }
        self.to_thread = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::choreography::EventId;
    use crate::engine::testing::{Node, Signal, Step, Tiny};
    use crate::input::InstanceId;

    fn envelope(seq: u64) -> Envelope<Tiny> {
        let order_id = InstanceId::new(seq + 1).expect("valid id");
        Envelope {
            seq,
            at_us: 0,
            id: EventId {
                order_id,
                kind: Step::Done,
            },
            order_id,
            service: Node::Only,
            cause: None,
            event: Signal::Done,
        }
    }

    /// Records what it gets; fails every event from `fail_from` on.
    #[derive(Default)]
    struct Recorder {
        seen: Vec<u64>,
        finished: Vec<u64>,
        fail_from: Option<u64>,
        flushed: bool,
    }

    impl EventSink<Tiny> for &mut Recorder {
        fn event(&mut self, envelope: &Envelope<Tiny>) -> io::Result<()> {
            self.seen.push(envelope.seq);
            match self.fail_from {
                Some(from) if envelope.seq >= from => {
                    Err(io::Error::other(format!("cannot write {}", envelope.seq)))
                }
                _ => Ok(()),
            }
        }

        fn finished(&mut self, instance: &Finished) {
            self.finished.push(instance.order_id.get());
        }

        fn finish(&mut self) -> io::Result<()> {
            self.flushed = true;
            Ok(())
        }
    }

    fn finished(order_id: u64) -> Finished {
        Finished {
            order_id: InstanceId::new(order_id).expect("valid id"),
            outcome: Outcome::Completed,
            arrived_us: 0,
            finished_us: 0,
        }
    }

    use crate::engine::choreography::Outcome;

    #[test]
    fn the_thread_gets_everything_in_order_and_is_finished_once_done() {
        let mut recorder = Recorder::default();
        let events = 3 * HANDOVER as u64 + 7;
        std::thread::scope(|scope| {
            let mut off = OffThread::start(scope, &mut recorder).expect("thread");
            for seq in 0..events {
                off.event(&envelope(seq)).expect("no error");
                if seq % 2 == 0 {
                    off.finished(&finished(seq + 1));
                }
            }
            off.finish().expect("finished");
        });
        assert_eq!(recorder.seen, (0..events).collect::<Vec<_>>());
        let expected: Vec<u64> = (0..events).filter(|s| s % 2 == 0).map(|s| s + 1).collect();
        assert_eq!(recorder.finished, expected);
        assert!(recorder.flushed);
    }

    #[test]
    fn a_write_error_comes_back_once_and_the_rest_is_still_handed_over() {
        let mut recorder = Recorder {
            fail_from: Some(10),
            ..Recorder::default()
        };
        let events = 2 * HANDOVER as u64;
        let errors = std::thread::scope(|scope| {
            let mut off = OffThread::start(scope, &mut recorder).expect("thread");
            let mut errors: Vec<String> = (0..events)
                .filter_map(|seq| off.event(&envelope(seq)).err())
                .map(|err| err.to_string())
                .collect();
            errors.extend(off.finish().err().map(|err| err.to_string()));
            errors
        });
        assert_eq!(errors, ["cannot write 10"], "the first error, once");
        assert_eq!(recorder.seen.len() as u64, events);
    }
}
