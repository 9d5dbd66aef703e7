//! Sinks: where the observer sends every event, in bus order, from one task.

use std::io;

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

    fn finish(&mut self) -> io::Result<()> {
        // Every sink is finished, even after one fails: a journal must be flushed.
        let mut first_error = None;
        for sink in self.0.iter_mut() {
            if let Err(err) = sink.finish() {
                first_error.get_or_insert(err);
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}
