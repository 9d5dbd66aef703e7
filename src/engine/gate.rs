//! Waits that are cheap to look at again and again.
//!
//! A task that waits on several things at once (`select!`) polls every one of them each time
//! it wakes, and a poll of most of Tokio's waits takes a lock (a cancellation token's, a
//! `JoinSet`'s). A [`Gate`] polls its wait once, with a waker of its own, and again only after
//! that waker was woken: every other look is an atomic load. [`Watched`] is a cancellation
//! token behind a gate.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

/// The gate itself is a protocol of its own, model-checked with loom: see
/// [`protocol`](crate::engine::protocol).
pub use crate::engine::protocol::Gate;

/// A cancellation token whose cancellation is cheap to look for: [`Watched::is_cancelled`]
/// is an atomic load once the wait has been polled, and [`Watched::cancelled`] polls the
/// token's wait only after the token woke it.
#[derive(Debug)]
pub struct Watched {
    token: CancellationToken,
    wait: Pin<Box<WaitForCancellationFutureOwned>>,
    gate: Gate,
    cancelled: bool,
}

impl Watched {
    pub fn new(token: &CancellationToken) -> Self {
        Watched {
            token: token.clone(),
            wait: Box::pin(token.clone().cancelled_owned()),
            gate: Gate::default(),
            cancelled: false,
        }
    }

    pub fn is_cancelled(&mut self) -> bool {
        if !self.gate.primed() {
            return self.cancelled || self.token.is_cancelled();
        }
        // The token's wait wakes only on cancellation.
        self.cancelled |= self.gate.woken();
        self.cancelled
    }

    pub fn poll_cancelled(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.cancelled {
            return Poll::Ready(());
        }
        let wait = self.wait.as_mut();
        let polled = self.gate.poll(cx, |cx| wait.poll(cx));
        if polled.is_ready() {
            self.cancelled = true;
        }
        polled
    }

    /// Resolves once the token is cancelled.
    pub fn cancelled(&mut self) -> impl Future<Output = ()> + '_ {
        std::future::poll_fn(|cx| self.poll_cancelled(cx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;
    use std::sync::Arc;
    use std::task::{Wake, Waker};
    use std::time::Duration;

    #[tokio::test]
    async fn a_watched_token_is_seen_cancelled_and_wakes_its_waiter() {
        let token = CancellationToken::new();
        let mut watched = Watched::new(&token);
        assert!(!watched.is_cancelled());
        let waited = tokio::time::timeout(Duration::from_millis(10), watched.cancelled()).await;
        assert!(waited.is_err(), "not cancelled yet");
        assert!(!watched.is_cancelled());
        let cancel = token.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(5)).await;
            cancel.cancel();
        });
        tokio::time::timeout(Duration::from_secs(5), watched.cancelled())
            .await
            .expect("woken by the cancellation");
        assert!(watched.is_cancelled());
    }

    #[tokio::test]
    async fn a_token_cancelled_before_it_is_watched_is_seen_at_once() {
        let token = CancellationToken::new();
        token.cancel();
        let mut watched = Watched::new(&token);
        assert!(watched.is_cancelled());
        let mut again = Watched::new(&token);
        tokio::time::timeout(Duration::from_secs(5), again.cancelled())
            .await
            .expect("ready");
        assert!(again.is_cancelled());
    }

    /// Counts the wake-ups of the task that polls a gate.
    #[derive(Default)]
    struct Wakes(std::sync::atomic::AtomicUsize);

    impl Wake for Wakes {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// The lost wake-up behind `--clock real` stalls: the supervisor's gate on its task set
    /// woke it for the first crash of a run and never again.
    #[test]
    fn a_gate_wakes_its_task_at_every_wake_of_its_wait_not_only_the_first() {
        let wakes = Arc::new(Wakes::default());
        let task = Waker::from(Arc::clone(&wakes));
        // A wait that is never ready and keeps the waker it was last polled with.
        let mut registered: Option<Waker> = None;
        let mut gate = Gate::default();
        for round in 1..=3 {
            let polled = gate.poll(&mut Context::from_waker(&task), |cx| {
                registered = Some(cx.waker().clone());
                Poll::<()>::Pending
            });
            assert!(polled.is_pending());
            registered.take().expect("polled after a wake").wake();
            assert_eq!(
                wakes.0.load(Ordering::SeqCst),
                round,
                "woken at wake {round}"
            );
        }
    }

    #[test]
    fn a_gate_polls_its_wait_again_only_after_a_wake() {
        let notify = Arc::new(tokio::sync::Notify::new());
        let mut wait = Box::pin(Arc::clone(&notify).notified_owned());
        let mut gate = Gate::default();
        let mut polls = 0;
        let mut look = || {
            gate.poll(&mut Context::from_waker(Waker::noop()), |cx| {
                polls += 1;
                wait.as_mut().poll(cx)
            })
        };
        assert!(look().is_pending());
        assert!(look().is_pending(), "not woken: not polled");
        notify.notify_waiters();
        assert!(look().is_ready());
        assert_eq!(polls, 2, "the second look did not poll");
    }
}
