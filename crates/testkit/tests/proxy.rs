//! Self-tests of the fault proxy against a small echo server.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use imapsync_testkit::{ConnSet, Direction, FaultProxy, Faults, Kill};

/// Echo server: every byte received is sent back. Counts bytes it received.
struct Echo {
    addr: SocketAddr,
    received: Arc<AtomicU64>,
}

fn echo() -> Echo {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let received = Arc::new(AtomicU64::new(0));
    let r = received.clone();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            let r = r.clone();
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 65536];
                loop {
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            r.fetch_add(n as u64, Ordering::SeqCst);
                            if s.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                    }
                }
            });
        }
    });
    Echo { addr, received }
}

fn connect(p: &FaultProxy) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", p.port())).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.set_nodelay(true).unwrap();
    s
}

/// Read until EOF or error; returns (bytes, error kind if any).
fn read_all(s: &mut TcpStream) -> (Vec<u8>, Option<ErrorKind>) {
    let mut out = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return (out, None),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) => return (out, Some(e.kind())),
        }
    }
}

fn wait_until(mut cond: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(5);
    while !cond() {
        assert!(Instant::now() < end, "condition not reached in 5 s");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn passthrough_and_counters() {
    let e = echo();
    let p = FaultProxy::start(e.addr, Faults::new()).unwrap();
    let mut s = connect(&p);
    let data: Vec<u8> = (0..1_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let mut r = s.try_clone().unwrap();
    let expect = data.clone();
    let reader = std::thread::spawn(move || {
        let mut got = vec![0u8; expect.len()];
        r.read_exact(&mut got).unwrap();
        assert_eq!(got, expect);
    });
    s.write_all(&data).unwrap();
    reader.join().unwrap();
    drop(s);
    wait_until(|| p.stats().active == 0);
    let st = p.stats();
    assert_eq!(st.connections, 1);
    assert_eq!(st.bytes_up, 1_000_000);
    assert_eq!(st.bytes_down, 1_000_000);
    assert_eq!(st.faults_fired, 0);
    p.stop();
    assert!(TcpStream::connect(e.addr).is_ok(), "echo still up");
}

#[test]
fn latency_is_a_delay_line_not_a_throttle() {
    let e = echo();
    let p = FaultProxy::start(e.addr, Faults::new().latency(Duration::from_millis(10))).unwrap();
    let mut s = connect(&p);
    // one round trip: 10 ms each way
    let t = Instant::now();
    s.write_all(b"ping").unwrap();
    let mut b = [0u8; 4];
    s.read_exact(&mut b).unwrap();
    let rtt = t.elapsed();
    assert!(rtt >= Duration::from_millis(20), "rtt {rtt:?}");
    assert!(rtt < Duration::from_millis(500), "rtt {rtt:?}");
    // 200 pipelined messages sent 1 ms apart: total ~ 200 ms + one RTT, not 200 RTTs
    let mut r = s.try_clone().unwrap();
    let reader = std::thread::spawn(move || {
        let mut got = vec![0u8; 200 * 8];
        r.read_exact(&mut got).unwrap();
    });
    let t = Instant::now();
    for i in 0..200u64 {
        s.write_all(&i.to_le_bytes()).unwrap();
        std::thread::sleep(Duration::from_millis(1));
    }
    reader.join().unwrap();
    let el = t.elapsed();
    assert!(
        el < Duration::from_millis(1500),
        "pipelined echo took {el:?}"
    );
    // bulk throughput is not limited by the delay
    let data = vec![7u8; 20 << 20];
    let mut r = s.try_clone().unwrap();
    let t = Instant::now();
    let reader = std::thread::spawn(move || {
        let mut got = vec![0u8; 20 << 20];
        r.read_exact(&mut got).unwrap();
    });
    s.write_all(&data).unwrap();
    reader.join().unwrap();
    let el = t.elapsed();
    eprintln!("rtt {rtt:?}; 20 MiB echoed through 10 ms delay lines in {el:?}");
    assert!(
        el < Duration::from_secs(5),
        "bulk through latency took {el:?}"
    );
}

#[test]
fn bandwidth_cap() {
    let e = echo();
    let p = FaultProxy::start(e.addr, Faults::new().rate_up(1_000_000)).unwrap();
    let mut s = connect(&p);
    let data = vec![1u8; 500_000];
    let mut r = s.try_clone().unwrap();
    let t = Instant::now();
    let reader = std::thread::spawn(move || {
        let mut got = vec![0u8; 500_000];
        r.read_exact(&mut got).unwrap();
    });
    s.write_all(&data).unwrap();
    reader.join().unwrap();
    let el = t.elapsed();
    eprintln!("500 kB at 1 MB/s took {el:?}");
    assert!(el >= Duration::from_millis(400), "{el:?}");
    assert!(el < Duration::from_secs(3), "{el:?}");
}

#[test]
fn drop_after_rst_and_fin() {
    let e = echo();
    for mode in [Kill::Rst, Kill::Fin] {
        let p = FaultProxy::start(
            e.addr,
            Faults::new()
                .drop_after(Direction::Down, 1000)
                .kill_mode(mode),
        )
        .unwrap();
        let mut s = connect(&p);
        s.write_all(&[b'x'; 5000]).unwrap();
        let (got, err) = read_all(&mut s);
        assert_eq!(got.len(), 1000, "{mode:?}");
        match mode {
            Kill::Rst => assert_eq!(err, Some(ErrorKind::ConnectionReset)),
            Kill::Fin => assert_eq!(err, None),
        }
        assert_eq!(p.stats().faults_fired, 1);
        assert_eq!(p.stats().bytes_down, 1000);
    }
    // upward: the server sees exactly N bytes
    let p = FaultProxy::start(e.addr, Faults::new().drop_after(Direction::Up, 300)).unwrap();
    let before = e.received.load(Ordering::SeqCst);
    let mut s = connect(&p);
    let _ = s.write_all(&[b'y'; 1000]);
    let (got, _) = read_all(&mut s);
    assert!(got.len() <= 300);
    wait_until(|| e.received.load(Ordering::SeqCst) - before == 300);
}

#[test]
fn stall_keeps_socket_open() {
    let e = echo();
    let p = FaultProxy::start(e.addr, Faults::new().stall_after(Direction::Down, 100)).unwrap();
    let mut s = connect(&p);
    s.write_all(&[b'z'; 1000]).unwrap();
    let mut got = vec![0u8; 100];
    s.read_exact(&mut got).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut b = [0u8; 10];
    let err = s.read(&mut b).unwrap_err();
    assert!(matches!(
        err.kind(),
        ErrorKind::WouldBlock | ErrorKind::TimedOut
    ));
    // still open: writes go through to the server
    s.write_all(b"more").unwrap();
    wait_until(|| e.received.load(Ordering::SeqCst) >= 1004);
    assert_eq!(p.stats().active, 1);
    drop(s);
    wait_until(|| p.stats().active == 0);
    // stall at 0 bytes down = no greeting at all
    let p = FaultProxy::start(e.addr, Faults::new().stall_after(Direction::Down, 0)).unwrap();
    let mut s = connect(&p);
    s.write_all(b"hello").unwrap();
    s.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    assert!(s.read(&mut b).is_err());
}

#[test]
fn drop_on_kth_match() {
    let e = echo();
    let p = FaultProxy::start(e.addr, Faults::new().drop_on("APPEND", 3).unwrap()).unwrap();
    let before = e.received.load(Ordering::SeqCst);
    let mut s = connect(&p);
    let cmds = [
        &b"a1 APPEND x\r\n"[..],
        b"a2 NOOP\r\n",
        b"a3 APP",
        b"END y\r\n",
        b"a4 APPEND z\r\n",
    ];
    let mut echoed = 0;
    for c in &cmds[..4] {
        s.write_all(c).unwrap();
        let mut b = vec![0u8; c.len()];
        s.read_exact(&mut b).unwrap();
        echoed += c.len();
    }
    // the match split across two writes counted once: 2 matches so far
    s.write_all(b"a4 APPEND z\r\n").unwrap();
    let (got, err) = read_all(&mut s);
    assert_eq!(err, Some(ErrorKind::ConnectionReset));
    assert_eq!(got, b"a4 ", "bytes before the 3rd match are forwarded");
    wait_until(|| e.received.load(Ordering::SeqCst) - before == (echoed + 3) as u64);
    assert_eq!(p.stats().faults_fired, 1);
    assert!(p.events().iter().any(|e| e.contains("drop-on match #3")));
    // the byte-literal form
    let p = FaultProxy::start(e.addr, Faults::new().drop_on_bytes(b"{5+}", 1)).unwrap();
    let mut s = connect(&p);
    s.write_all(b"x APPEND INBOX {5+}\r\nhello\r\n").unwrap();
    let (got, _) = read_all(&mut s);
    assert_eq!(got, b"x APPEND INBOX ");
}

#[test]
fn refuse_and_per_connection_faults() {
    let e = echo();
    let p = FaultProxy::start(e.addr, Faults::new().refuse(ConnSet::First(2))).unwrap();
    for i in 1..=3 {
        let mut s = connect(&p);
        let _ = s.write_all(b"hi");
        let (got, _) = read_all_timeout(&mut s, 2);
        if i <= 2 {
            assert!(got.is_empty(), "conn {i} should be refused");
        } else {
            assert_eq!(got, b"hi");
        }
    }
    assert_eq!(p.stats().refused, 2);
    assert_eq!(p.stats().connections, 3);

    let p = FaultProxy::start(
        e.addr,
        Faults::new()
            .refuse(ConnSet::only([2, 4]))
            .kill_mode(Kill::Fin),
    )
    .unwrap();
    for i in 1..=4u64 {
        let mut s = connect(&p);
        let _ = s.write_all(b"hi");
        let (got, _) = read_all_timeout(&mut s, 2);
        assert_eq!(got.is_empty(), i % 2 == 0, "conn {i}");
    }

    // faults only on connection 2
    let p = FaultProxy::start(
        e.addr,
        Faults::new()
            .drop_after(Direction::Down, 1)
            .only(ConnSet::only([2])),
    )
    .unwrap();
    for i in 1..=3 {
        let mut s = connect(&p);
        s.write_all(b"hello").unwrap();
        let (got, _) = read_all_timeout(&mut s, 5);
        if i == 2 {
            assert_eq!(got, b"h");
        } else {
            assert_eq!(got, b"hello");
        }
    }
    // faults can be changed for later connections
    p.set_faults(Faults::new().refuse(ConnSet::All));
    let mut s = connect(&p);
    let (got, _) = read_all_timeout(&mut s, 2);
    assert!(got.is_empty());
}

/// Read what arrives until the peer closes or `n` bytes... simpler: read for up to
/// 500 ms after the last byte, at most `want` bytes.
fn read_all_timeout(s: &mut TcpStream, want: usize) -> (Vec<u8>, Option<ErrorKind>) {
    s.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 1024];
    while out.len() < want {
        match s.read(&mut buf) {
            Ok(0) => return (out, None),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) => return (out, Some(e.kind())),
        }
    }
    (out, None)
}

#[test]
fn chunked_forwarding_and_stop() {
    let e = echo();
    let p = FaultProxy::start(e.addr, Faults::new().chunk(3)).unwrap();
    let mut s = connect(&p);
    s.write_all(b"0123456789abcdef").unwrap();
    let mut got = vec![0u8; 16];
    s.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"0123456789abcdef");
    let port = p.port();
    p.stop();
    // the open connection is closed and nothing listens any more
    let (_, _) = read_all(&mut s);
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
}

#[test]
fn proxy_in_front_of_dovecot() {
    use imapsync_testkit::{Dovecot, Layout, TestImap};
    let d = Dovecot::start(Layout::Slash).unwrap();
    let msg = b"Subject: x\r\nMessage-ID: <p@x>\r\n\r\nbody\r\n";
    // 20 ms RTT, and the connection dies when the 3rd APPEND is sent
    let p = FaultProxy::start(
        (d.host(), d.port()),
        Faults::new()
            .latency(Duration::from_millis(10))
            .drop_on("APPEND", 3)
            .unwrap()
            .only(ConnSet::only([1])),
    )
    .unwrap();
    let mut c = TestImap::connect_login("127.0.0.1", p.port(), "user1", "pass1").unwrap();
    c.append("INBOX", &[], None, msg).unwrap();
    c.append("INBOX", &[], None, msg).unwrap();
    assert!(c.append("INBOX", &[], None, msg).is_err());
    // connection 2 is clean: exactly two messages arrived
    let mut c = TestImap::connect_login("127.0.0.1", p.port(), "user1", "pass1").unwrap();
    assert_eq!(c.examine("INBOX").unwrap().exists, 2);
    assert_eq!(p.stats().connections, 2);
    assert_eq!(p.stats().faults_fired, 1);
}
