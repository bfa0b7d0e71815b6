//! Serving the router on a TCP listener, and the operational endpoints beside the AWS APIs.

use crate::{router, ApiState};
use axum::extract::State;
use axum::routing::get;
use axum::serve::ListenerExt;
use axum::Router;
use tokio::net::TcpListener;

/// Serves every API on `listener` until `shutdown` completes (then finishes the requests in flight).
pub async fn serve(listener: TcpListener, state: ApiState, shutdown: impl std::future::Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
    // Nagle plus delayed ACKs would add ~40 ms to every small request/response pair.
    let listener = listener.tap_io(|stream| {
        let _ = stream.set_nodelay(true);
    });
    let app = Router::new().route("/metrics", get(metrics)).with_state(state.clone()).merge(router(state));
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await
}

/// Prometheus text format.
async fn metrics(State(state): State<ApiState>) -> ([(&'static str, &'static str); 1], String) {
    ([("content-type", "text/plain; version=0.0.4")], state.runtime.metrics())
}
