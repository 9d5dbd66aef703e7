// The worker's hand-over across a crash, compiled twice (see `engine::protocol`): `Arc` and
// `Mutex` are the including module's, std's for the engine, loom's for its model.

/// What a worker does as it is handed back to its slot (its task stopped or crashed).
pub trait HandBack {
    fn handing_back(&mut self);
}

/// Where a worker waits while no task runs it: between a crash and the restart.
pub type Slot<T> = Arc<Mutex<Option<T>>>;

/// Holds the worker while a task runs it, and puts it back into its slot when the task ends,
/// by return or by panic.
///
/// Protocol: the task takes the worker out of the slot as it starts; dropping the lease
/// (the task's end, or the unwinding of its panic) hands it back before the runtime reports
/// the task ended, so the restart that the report leads to finds it there, with everything
/// it had consumed told.
#[derive(Debug)]
pub struct Lease<T: HandBack> {
    worker: Option<T>,
    slot: Slot<T>,
}

impl<T: HandBack> Lease<T> {
    /// Takes the worker from `slot` (`None` in it if another task holds it).
    pub fn take(slot: Slot<T>) -> Self {
        let worker = slot
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        Lease { worker, slot }
    }

    pub fn worker(&mut self) -> Option<&mut T> {
        self.worker.as_mut()
    }
}

impl<T: HandBack> Drop for Lease<T> {
    fn drop(&mut self) {
        if let Some(mut worker) = self.worker.take() {
            worker.handing_back();
            *self
                .slot
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(worker);
        }
    }
}
