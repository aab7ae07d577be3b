//! A loopback TCP server on its own thread and tokio runtime, shared by the fault proxy and
//! the IMAP shim: it accepts on 127.0.0.1 (a free port), hands each connection to a handler
//! with its 1-based number, and on [`Background::stop`] or drop stops accepting, closes every
//! connection and joins the thread.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

pub(crate) struct Background {
    addr: SocketAddr,
    shutdown: Option<watch::Sender<bool>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Background {
    /// Starts listening; `name` names the thread and the error messages.
    pub(crate) fn start<F, Fut>(name: &str, handle: F) -> Result<Background>
    where
        F: Fn(TcpStream, u64) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0))
            .with_context(|| format!("binding the {name}"))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let (tx, rx) = watch::channel(false);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .with_context(|| format!("building the {name} runtime"))?;
        let label = name.to_string();
        let thread = std::thread::Builder::new()
            .name(format!("{name}-{}", addr.port()))
            .spawn(move || {
                rt.block_on(async move {
                    match TcpListener::from_std(listener) {
                        Ok(l) => accept_loop(l, handle, rx).await,
                        Err(e) => eprintln!("{label}: cannot use listener: {e}"),
                    }
                });
                rt.shutdown_timeout(Duration::from_secs(2));
            })
            .with_context(|| format!("starting the {name} thread"))?;
        Ok(Background {
            addr,
            shutdown: Some(tx),
            thread: Some(thread),
        })
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, closes every connection, joins the thread.
    pub(crate) fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(true);
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn accept_loop<F, Fut>(listener: TcpListener, handle: F, mut shutdown: watch::Receiver<bool>)
where
    F: Fn(TcpStream, u64) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut n = 0u64;
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            acc = listener.accept() => {
                let Ok((sock, _)) = acc else { continue };
                n += 1;
                let conn = handle(sock, n);
                let mut sd = shutdown.clone();
                tokio::spawn(async move {
                    tokio::select! {
                        _ = conn => {}
                        _ = sd.changed() => {}
                    }
                });
            }
        }
    }
}
