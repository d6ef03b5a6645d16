//! `TcpProxy`: an in-test TCP forwarder between the gateways and their database, to cut
//! the database away under traffic and bring it back without touching the server.
//!
//! While "up" every accepted connection is forwarded byte for byte to the target. `down()`
//! closes every forwarded connection at once (both sides see the socket closed) and from
//! then on drops each new connection as soon as it is accepted; `up()` forwards again.
//! The listening socket stays open throughout, so the port never changes hands.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// Forwarded connections and whether new ones are forwarded; one lock, so that no
/// connection slips through between `down()` closing the open ones and the accept loop
/// registering a new one.
#[derive(Debug, Default)]
struct State {
    up: bool,
    connections: Vec<JoinHandle<()>>,
    /// Connections accepted so far while up (forwarded) and while down (dropped).
    forwarded: u64,
    dropped: u64,
}

/// A TCP forwarder on a free loopback port, running on the test's runtime.
#[derive(Debug)]
pub struct TcpProxy {
    pub port: u16,
    pub target: SocketAddr,
    state: Arc<Mutex<State>>,
    accept: JoinHandle<()>,
}

impl TcpProxy {
    /// Starts forwarding `127.0.0.1:<port>` to `target` (up).
    pub async fn start(target: SocketAddr) -> TcpProxy {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the proxy's port");
        let port = listener.local_addr().expect("proxy address").port();
        let state = Arc::new(Mutex::new(State {
            up: true,
            ..State::default()
        }));
        let shared = state.clone();
        let accept = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                let mut s = shared.lock().expect("proxy state");
                if !s.up {
                    // Down: the peer sees its connection closed at once.
                    s.dropped += 1;
                    drop(client);
                    continue;
                }
                s.forwarded += 1;
                s.connections.retain(|c| !c.is_finished());
                s.connections.push(tokio::spawn(forward(client, target)));
            }
        });
        TcpProxy {
            port,
            target,
            state,
            accept,
        }
    }

    /// `host:port` of the proxy.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Cut the database away: close every forwarded connection, drop new ones.
    pub fn down(&self) {
        let mut s = self.state.lock().expect("proxy state");
        s.up = false;
        for c in s.connections.drain(..) {
            // Aborting drops both sockets: each side reads end of stream.
            c.abort();
        }
    }

    /// Forward new connections again.
    pub fn up(&self) {
        self.state.lock().expect("proxy state").up = true;
    }

    /// (connections forwarded, connections dropped while down) so far.
    pub fn counts(&self) -> (u64, u64) {
        let s = self.state.lock().expect("proxy state");
        (s.forwarded, s.dropped)
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.accept.abort();
        if let Ok(mut s) = self.state.lock() {
            for c in s.connections.drain(..) {
                c.abort();
            }
        }
    }
}

/// One forwarded connection, until either side closes it (or it is aborted).
async fn forward(mut client: TcpStream, target: SocketAddr) {
    let connect = tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(target)).await;
    let Ok(Ok(mut server)) = connect else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
}
