use imapsync_client::*;
use imapsync_proto::command::cmd;
use std::time::Instant;

#[tokio::main]
async fn main() {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(14403);
    let mut o = ConnectOptions::new(Side::Host2, "127.0.0.1", "user2", Secret::new("pass2"));
    o.port = Some(port);
    o.security = Security {
        ssl: None,
        tls: None,
        port_given: true,
        ..Security::default()
    };
    o.tls = TlsOptions {
        verify: false,
        ..TlsOptions::verifying()
    };
    o.tracer = if std::env::var("TRACE").is_ok() {
        Some(std::sync::Arc::new(|s, l: &str| eprintln!("{s}: {l}")))
    } else {
        None
    };
    let (conn, info) = connect(&o).await.expect("connect");
    println!(
        "tls={} starttls={} caps={}",
        info.tls,
        info.starttls,
        info.caps.render()
    );
    let done = conn.run(cmd::list(b"", b"*", None)).await.expect("list");
    println!("{} list entries, {:?}", done.untagged.len(), done.status);
    let _ = conn.run(cmd::create(b"bench")).await;
    let t = Instant::now();
    let body = bytes::Bytes::from(vec![b'x'; 20_000]);
    let mut pend = Vec::new();
    for _ in 0..2000 {
        pend.push(conn.submit(cmd::append_bytes(
            b"bench",
            &["\\Seen".into()],
            Some("17-Jul-1996 02:44:25 -0700"),
            body.clone(),
        )));
    }
    let mut ok = 0;
    for p in pend {
        if p.await.map(|d| d.is_ok()).unwrap_or(false) {
            ok += 1;
        }
    }
    let el = t.elapsed().as_secs_f64();
    println!("appended {ok} in {el:.3}s = {:.0} msg/s", ok as f64 / el);
    let _ = conn.run(cmd::select(b"bench", &Default::default())).await;
    let t = Instant::now();
    let mut st = conn.stream(cmd::uid_fetch(
        &imapsync_proto::seqset::UidSet::parse("1:*").unwrap(),
        "BODY.PEEK[]",
        None,
        false,
    ));
    let mut n = 0;
    let mut bytes = 0usize;
    while let Some(it) = st.next().await {
        match it {
            Item::Untagged(imapsync_proto::response::Untagged::Fetch { items, .. }) => {
                n += 1;
                if let Some(s) = items.sections.first() {
                    bytes += s.data.bytes().map(|b| b.len()).unwrap_or(0);
                }
            }
            Item::Done(r) => {
                println!("done {r:?}");
                break;
            }
            _ => {}
        }
    }
    println!(
        "fetched {n} msgs {bytes} bytes in {:.3}s",
        t.elapsed().as_secs_f64()
    );
    let _ = conn.run(cmd::delete(b"bench")).await;
    conn.logout().await;
}
