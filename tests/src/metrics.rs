//! Prometheus metrics of a process started with `--metrics-listen 127.0.0.1:0`: the port it
//! bound, found in /proc (so that no other process can take a port between its choice and its
//! use), and its scrapes.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use crate::wait_for;

/// The TCP ports process `pid` listens on: its sockets' inodes among the listening sockets
/// of its network namespace.
pub fn listening_ports(pid: i32) -> Vec<u16> {
    let inodes: HashSet<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|fd| std::fs::read_link(fd.path()).ok())
        .filter_map(|link| {
            let link = link.to_str()?;
            Some(link.strip_prefix("socket:[")?.strip_suffix(']')?.to_owned())
        })
        .collect();
    let mut ports = Vec::new();
    for table in ["tcp", "tcp6"] {
        let text = std::fs::read_to_string(format!("/proc/{pid}/net/{table}")).unwrap_or_default();
        for line in text.lines().skip(1) {
            // sl local_address rem_address st ... inode; st 0A is LISTEN.
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() > 9 && fields[3] == "0A" && inodes.contains(fields[9]) {
                let port = fields[1].rsplit(':').next().unwrap();
                ports.push(u16::from_str_radix(port, 16).unwrap());
            }
        }
    }
    ports
}

/// The one port process `pid` listens on besides `others`.
pub fn metrics_port(pid: i32, others: &[u16]) -> u16 {
    wait_for(
        Duration::from_secs(30),
        "the metrics listener",
        || match listening_ports(pid)
            .into_iter()
            .filter(|p| !others.contains(p))
            .collect::<Vec<_>>()[..]
        {
            [port] => Some(port),
            _ => None,
        },
    )
}

/// A plain HTTP/1.1 request; the status, head and body of the answer.
pub fn http(addr: SocketAddr, request: &str) -> (u16, String, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {answer}"));
    (status, head.to_owned(), body.to_owned())
}

pub fn scrape(port: u16) -> String {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let (status, _, body) = http(
        addr,
        "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 200, "{body}");
    body
}

/// The value of one series (name and labels, exactly as exported) in a scrape.
pub fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .filter_map(|line| line.rsplit_once(' '))
        .find(|(s, _)| *s == series)
        .map(|(_, v)| v.parse().unwrap())
}

pub fn wait_metric(port: u16, series: &str, want: f64) {
    wait_for(
        Duration::from_secs(60),
        &format!("{series} to be {want}"),
        || (value(&scrape(port), series) == Some(want)).then_some(()),
    );
}

pub fn get(text: &str, series: &str) -> f64 {
    value(text, series).unwrap_or_else(|| panic!("no {series} in:\n{text}"))
}
