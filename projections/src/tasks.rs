//! Work a rebuild or a replay hands to tasks and threads of their own, stopped with it.

/// Work on a task of its own, aborted if its handle is dropped before it finishes (cut
/// off), as the work of a single future would stop with it. Awaiting it gives the task's
/// result, as its `JoinHandle` would.
pub(crate) struct Spawned<T> {
    task: tokio::task::JoinHandle<T>,
    /// Dropped with the handle: tells work on a thread of its own, which aborting cannot
    /// stop, that it is cut off.
    cut_off: Option<tokio::sync::oneshot::Sender<()>>,
}

impl<T: Send + 'static> Spawned<T> {
    pub(crate) fn new(work: impl std::future::Future<Output = T> + Send + 'static) -> Self {
        Self { task: tokio::spawn(work), cut_off: None }
    }

    /// `work`, whose statements block its thread, on a thread of its own; cut off, it gives
    /// up at its next await (a statement under way finishes first) and gives `cut_off`.
    pub(crate) fn blocking(work: impl std::future::Future<Output = T> + Send + 'static, cut_off: T) -> Self {
        let (signal, cut) = tokio::sync::oneshot::channel::<()>();
        let runtime = tokio::runtime::Handle::current();
        let task = tokio::task::spawn_blocking(move || {
            runtime.block_on(async move {
                tokio::select! {
                    done = work => done,
                    _ = cut => cut_off,
                }
            })
        });
        Self { task, cut_off: Some(signal) }
    }
}

impl<T> std::future::Future for Spawned<T> {
    type Output = Result<T, tokio::task::JoinError>;

    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<Self::Output> {
        std::pin::Pin::new(&mut self.task).poll(cx)
    }
}

impl<T> Drop for Spawned<T> {
    fn drop(&mut self) {
        self.task.abort();
        self.cut_off.take();
    }
}
