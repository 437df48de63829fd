//! Connecting to PostgreSQL while watching its authentication exchange. A connection that
//! opens proves nothing about the password: under `trust`, `peer` or `ident` in pg_hba.conf
//! the server lets a role in without asking for one, and any password "works". So the
//! console reads the server's first messages itself and counts a connection as a sign-in
//! only when the server asked for a password (cleartext, MD5 or SASL/SCRAM) before it said
//! AuthenticationOk. tokio-postgres keeps that exchange to itself, hence the socket here.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::task::{Context, Poll, ready};

use socket2::{SockRef, TcpKeepalive};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpStream, UnixStream};
use tokio_postgres::config::{Host, TargetSessionAttrs};
use tokio_postgres::tls::NoTlsStream;
use tokio_postgres::{Client, Config, Connection, NoTls};

/// The server sent AuthenticationCleartextPassword, AuthenticationMD5Password or
/// AuthenticationSASL: it will check a password.
const ASKED_PASSWORD: u8 = 1;
/// The server sent AuthenticationOk: whatever pg_hba.conf said, this role got in.
const AUTHENTICATED: u8 = 2;

pub type PgConnection = Connection<Watched, NoTlsStream>;

/// What happened to one connection attempt, and what the server did about the password.
pub struct Attempt {
    pub asked_password: bool,
    pub authenticated: bool,
    pub result: Result<(Client, PgConnection), Failure>,
}

pub enum Failure {
    /// No server answered (the socket did not open): nothing was learnt about the password.
    Unreachable(String),
    /// A server answered and refused (a wrong password, an unknown role, `reject`, too many
    /// connections, …).
    Refused(tokio_postgres::Error),
}

impl Failure {
    /// Whether the server refused who is connecting (SQLSTATE class 28: a wrong password, an
    /// unknown role, `reject`), rather than failing for its own state or the network's (a
    /// session survives those, and they say nothing about a password).
    pub fn is_authentication(&self) -> bool {
        match self {
            Failure::Unreachable(_) => false,
            Failure::Refused(e) => e
                .as_db_error()
                .is_some_and(|db| db.code().code().starts_with("28")),
        }
    }

    pub fn message(&self) -> String {
        match self {
            Failure::Unreachable(m) => m.clone(),
            Failure::Refused(e) => e
                .as_db_error()
                .map(|d| d.message().to_owned())
                .unwrap_or_else(|| e.to_string()),
        }
    }
}

/// Opens a connection as `config` says (its first host that accepts a socket and, with
/// `target_session_attrs=read-write`, takes writes, so that the console follows a promotion as
/// libpq does), with no TLS (the console never had any), and reports what the server asked for.
pub async fn connect(config: &Config) -> Attempt {
    let hosts = config.get_hosts().len().max(config.get_hostaddrs().len());
    let mut last = String::from("no host to connect to");
    for i in 0..hosts {
        let flags = Arc::new(AtomicU8::new(0));
        let attempt = |result| Attempt {
            asked_password: flags.load(Ordering::SeqCst) & ASKED_PASSWORD != 0,
            authenticated: flags.load(Ordering::SeqCst) & AUTHENTICATED != 0,
            result,
        };
        let stream = match open_socket(config, i).await {
            Some(Ok(inner)) => Watched {
                inner,
                sniffer: Sniffer::default(),
                flags: flags.clone(),
            },
            Some(Err(e)) => {
                last = e;
                continue;
            }
            None => continue,
        };
        match config.connect_raw(stream, NoTls).await {
            // A standby (or a primary set read-only) reports so as the session starts.
            Ok((_, connection))
                if config.get_target_session_attrs() == TargetSessionAttrs::ReadWrite
                    && ["in_hot_standby", "default_transaction_read_only"]
                        .iter()
                        .any(|p| connection.parameter(p) == Some("on")) =>
            {
                last = format!("{}: the server does not allow writes", host_name(config, i));
            }
            result => return attempt(result.map_err(Failure::Refused)),
        }
    }
    Attempt {
        asked_password: false,
        authenticated: false,
        result: Err(Failure::Unreachable(last)),
    }
}

/// Where a connection string points, as the pg_hba.conf line that would cover it starts
/// (`local` for a Unix socket, `host` for TCP).
pub fn hba_line(config: &Config, role: &str) -> String {
    match config.get_hosts().first() {
        Some(Host::Unix(_)) => format!("local  all  {role}  scram-sha-256"),
        _ => format!("host   all  {role}  <the console's address>/32  scram-sha-256"),
    }
}

pub fn describe(config: &Config) -> String {
    let port = config.get_ports().first().copied().unwrap_or(5432);
    match config.get_hosts().first() {
        Some(Host::Unix(dir)) => format!("{}/.s.PGSQL.{port}", dir.display()),
        Some(Host::Tcp(name)) => format!("{name}:{port}"),
        None => "(no host)".into(),
    }
}

/// The checks tokio-postgres's own connect makes on a connection string's hosts, for the
/// parts of it the console uses.
pub fn check_hosts(config: &Config) -> Result<(), String> {
    let (hosts, addrs) = (config.get_hosts().len(), config.get_hostaddrs().len());
    if hosts == 0 && addrs == 0 {
        return Err("names no host (host=/var/run/postgresql or host=db.example.com)".into());
    }
    if hosts != 0 && addrs != 0 && hosts != addrs {
        return Err(format!(
            "has {hosts} hosts and {addrs} hostaddrs; give as many of each, or one kind only"
        ));
    }
    let ports = config.get_ports().len();
    if ports > 1 && ports != hosts.max(addrs) {
        return Err(format!(
            "has {ports} ports for {} hosts; give one port, or one per host",
            hosts.max(addrs)
        ));
    }
    Ok(())
}

fn port_of(config: &Config, i: usize) -> u16 {
    config
        .get_ports()
        .get(i)
        .or_else(|| config.get_ports().first())
        .copied()
        .unwrap_or(5432)
}

fn target_of(config: &Config, i: usize) -> Option<Host> {
    match (config.get_hostaddrs().get(i), config.get_hosts().get(i)) {
        (Some(ip), _) => Some(Host::Tcp(ip.to_string())),
        (None, Some(host)) => Some(host.clone()),
        (None, None) => None,
    }
}

fn host_name(config: &Config, i: usize) -> String {
    let port = port_of(config, i);
    match target_of(config, i) {
        Some(Host::Tcp(name)) => format!("{name}:{port}"),
        Some(Host::Unix(dir)) => format!("{}/.s.PGSQL.{port}", dir.display()),
        None => "no host".to_owned(),
    }
}

/// A socket to the `i`th host of `config`; None when there is no such host.
async fn open_socket(config: &Config, i: usize) -> Option<Result<Inner, String>> {
    let port = port_of(config, i);
    let target = target_of(config, i)?;
    let opened = async {
        match &target {
            Host::Tcp(name) => {
                let stream = TcpStream::connect((name.as_str(), port)).await?;
                stream.set_nodelay(true)?;
                if config.get_keepalives() {
                    let mut keepalive = TcpKeepalive::new().with_time(config.get_keepalives_idle());
                    if let Some(every) = config.get_keepalives_interval() {
                        keepalive = keepalive.with_interval(every);
                    }
                    if let Some(retries) = config.get_keepalives_retries() {
                        keepalive = keepalive.with_retries(retries);
                    }
                    SockRef::from(&stream).set_tcp_keepalive(&keepalive)?;
                }
                Ok::<_, io::Error>(Inner::Tcp(stream))
            }
            Host::Unix(dir) => Ok(Inner::Unix(
                UnixStream::connect(dir.join(format!(".s.PGSQL.{port}"))).await?,
            )),
        }
    };
    let opened = match config.get_connect_timeout() {
        Some(limit) => match tokio::time::timeout(*limit, opened).await {
            Ok(r) => r,
            Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "timed out")),
        },
        None => opened.await,
    };
    Some(opened.map_err(|e| format!("cannot connect to {}: {e}", host_name(config, i))))
}

pub enum Inner {
    Tcp(TcpStream),
    Unix(UnixStream),
}

/// A socket that reads the backend messages going by until authentication is over.
pub struct Watched {
    inner: Inner,
    sniffer: Sniffer,
    flags: Arc<AtomicU8>,
}

/// Follows the backend protocol's framing (a type byte, then a length that counts itself)
/// just far enough to see each Authentication message's code.
#[derive(Default)]
struct Sniffer {
    head: [u8; 9],
    have: usize,
    skip: usize,
    done: bool,
}

impl Sniffer {
    fn feed(&mut self, mut data: &[u8], flags: &AtomicU8) {
        while !self.done && !data.is_empty() {
            if self.skip > 0 {
                let n = self.skip.min(data.len());
                self.skip -= n;
                data = &data[n..];
                continue;
            }
            let want = if self.have >= 1 && self.head[0] == b'R' {
                9
            } else {
                5
            };
            if self.have < want {
                let n = (want - self.have).min(data.len());
                self.head[self.have..self.have + n].copy_from_slice(&data[..n]);
                self.have += n;
                data = &data[n..];
                if self.have < want || (want == 5 && self.head[0] == b'R') {
                    continue;
                }
            }
            let len = u32::from_be_bytes([self.head[1], self.head[2], self.head[3], self.head[4]])
                as usize;
            match self.head[0] {
                b'R' => {
                    let code = u32::from_be_bytes([
                        self.head[5],
                        self.head[6],
                        self.head[7],
                        self.head[8],
                    ]);
                    match code {
                        0 => {
                            flags.fetch_or(AUTHENTICATED, Ordering::SeqCst);
                            self.done = true;
                        }
                        3 | 5 | 10 => {
                            flags.fetch_or(ASKED_PASSWORD, Ordering::SeqCst);
                        }
                        _ => {}
                    }
                    self.skip = len.saturating_sub(8);
                }
                // An ErrorResponse ends the exchange: the server refused.
                b'E' => self.done = true,
                _ => self.skip = len.saturating_sub(4),
            }
            self.have = 0;
        }
    }
}

impl AsyncRead for Watched {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        ready!(match &mut this.inner {
            Inner::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            Inner::Unix(s) => Pin::new(s).poll_read(cx, buf),
        })?;
        if !this.sniffer.done {
            this.sniffer.feed(&buf.filled()[before..], &this.flags);
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match &mut self.get_mut().inner {
            Inner::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            Inner::Unix(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match &mut self.get_mut().inner {
            Inner::Tcp(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Inner::Unix(s) => Pin::new(s).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match &self.inner {
            Inner::Tcp(s) => s.is_write_vectored(),
            Inner::Unix(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().inner {
            Inner::Tcp(s) => Pin::new(s).poll_flush(cx),
            Inner::Unix(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().inner {
            Inner::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            Inner::Unix(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(kind: u8, body: &[u8]) -> Vec<u8> {
        let mut m = vec![kind];
        m.extend_from_slice(&((body.len() + 4) as u32).to_be_bytes());
        m.extend_from_slice(body);
        m
    }

    /// Feeds `bytes` in pieces of every size, as reads may split them anywhere.
    fn flags_of(bytes: &[u8]) -> Vec<u8> {
        (1..=bytes.len())
            .map(|piece| {
                let flags = AtomicU8::new(0);
                let mut sniffer = Sniffer::default();
                for chunk in bytes.chunks(piece) {
                    sniffer.feed(chunk, &flags);
                }
                flags.load(Ordering::SeqCst)
            })
            .collect()
    }

    #[test]
    fn trust_is_authentication_ok_without_a_request() {
        let mut bytes = message(b'R', &0u32.to_be_bytes());
        bytes.extend(message(b'S', b"server_version\x0015\x00"));
        assert!(flags_of(&bytes).iter().all(|f| *f == AUTHENTICATED));
    }

    #[test]
    fn scram_asks_before_ok() {
        let mut sasl = 10u32.to_be_bytes().to_vec();
        sasl.extend_from_slice(b"SCRAM-SHA-256\x00\x00");
        let mut bytes = message(b'N', b"Snotice\x00\x00");
        bytes.extend(message(b'R', &sasl));
        let mut cont = 11u32.to_be_bytes().to_vec();
        cont.extend_from_slice(b"r=abc,s=def,i=4096");
        bytes.extend(message(b'R', &cont));
        let mut fin = 12u32.to_be_bytes().to_vec();
        fin.extend_from_slice(b"v=xyz");
        bytes.extend(message(b'R', &fin));
        bytes.extend(message(b'R', &0u32.to_be_bytes()));
        assert!(
            flags_of(&bytes)
                .iter()
                .all(|f| *f == ASKED_PASSWORD | AUTHENTICATED)
        );
    }

    #[test]
    fn a_refusal_before_any_request_is_neither() {
        let bytes = message(
            b'E',
            b"SFATAL\x00C28000\x00MPeer authentication failed\x00\x00",
        );
        assert!(flags_of(&bytes).iter().all(|f| *f == 0));
    }
}
