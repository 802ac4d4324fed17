//! Where the sandbox listens: loopback only unless remote access is allowed explicitly, and the
//! ready line names the address really bound.

use std::net::SocketAddr;

use ssoflow_sandbox::Sandbox;

#[test]
fn a_non_loopback_address_is_refused_without_allow_remote() {
    for addr in ["0.0.0.0:0", "[::]:0", "192.0.2.1:0"] {
        let addr: SocketAddr = addr.parse().unwrap();
        let err = Sandbox::builder()
            .listen(addr)
            .start_blocking()
            .unwrap_err();
        assert_eq!(
            err.kind(),
            std::io::ErrorKind::InvalidInput,
            "{addr}: {err}"
        );
        assert!(err.to_string().contains("allow_remote"), "{err}");
    }
}

#[test]
fn allow_remote_binds_and_the_ready_line_names_the_bound_port() {
    let sb = Sandbox::builder()
        .listen("0.0.0.0:0".parse().unwrap())
        .allow_remote(true)
        .start_blocking()
        .unwrap();
    // Reached from this machine through loopback, on the port really bound.
    assert_eq!(sb.addr().ip(), std::net::Ipv4Addr::LOCALHOST);
    assert_ne!(sb.addr().port(), 0);
    sb.shutdown();
}

#[test]
fn the_ready_line_names_the_port_really_bound() {
    let sb = Sandbox::builder()
        .listen("127.0.0.1:0".parse().unwrap())
        .start_blocking()
        .unwrap();
    let ready: serde_json::Value = serde_json::from_str(&sb.ready_line()).unwrap();
    let listening = ready["listening"].as_str().unwrap();
    assert_eq!(listening, format!("http://127.0.0.1:{}", sb.addr().port()));
    assert_ne!(sb.addr().port(), 0);
    // Something answers there.
    std::net::TcpStream::connect(sb.addr()).unwrap();
}
