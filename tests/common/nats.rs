//! A real nats-server for tests, started on an address the test owns (loopback, or a test
//! namespace's own), and a raw NATS client that speaks the text protocol over a TCP socket:
//! what a rogue publisher would write, and a tap that counts what the subject carries.
//!
//! Without `nats-server` (apt-get install nats-server) the tests that need it print SKIPPED and
//! why; with GAMECAST_NO_SKIP set that is a failure.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{Process, TIMEOUT, skip, temp_dir};

/// A nats-server process with JetStream, its store in a folder of the test's own.
pub struct NatsServer {
    process: Option<Process>,
    netns: Option<String>,
    addr: Ipv4Addr,
    port: u16,
    store: PathBuf,
    /// More flags for nats-server (`--auth TOKEN`).
    extra: Vec<String>,
}

/// Whether nats-server is installed; prints SKIPPED (or fails under GAMECAST_NO_SKIP) if not.
pub fn nats_server_installed() -> bool {
    let found = Command::new("sh")
        .args(["-c", "command -v nats-server"])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        skip("needs nats-server (apt-get install nats-server)");
    }
    found
}

impl NatsServer {
    /// Starts a server on `addr` (in `netns`, or here), on a free port; `None` (with SKIPPED
    /// printed) when nats-server is not installed.
    pub fn start(netns: Option<&str>, addr: Ipv4Addr) -> Option<NatsServer> {
        NatsServer::start_with(netns, addr, &[])
    }

    /// Like [`NatsServer::start`], with more flags for nats-server.
    pub fn start_with(netns: Option<&str>, addr: Ipv4Addr, extra: &[&str]) -> Option<NatsServer> {
        if !nats_server_installed() {
            return None;
        }
        let mut server = NatsServer {
            process: None,
            netns: netns.map(str::to_string),
            addr,
            port: 0,
            store: temp_dir(),
            extra: extra.iter().map(|s| s.to_string()).collect(),
        };
        // A random port may be taken: a few tries.
        for _ in 0..5 {
            server.port = fastrand::u16(20000..60000);
            if server.run() {
                return Some(server);
            }
        }
        panic!("nats-server did not start on {addr} after 5 tries");
    }

    /// Starts the process on the server's port; whether it got ready.
    fn run(&mut self) -> bool {
        let args: Vec<String> = [
            "-a",
            &self.addr.to_string(),
            "-p",
            &self.port.to_string(),
            "-js",
            "-sd",
            &self.store.display().to_string(),
        ]
        .iter()
        .map(|s| s.to_string())
        .chain(self.extra.iter().cloned())
        .collect();
        let mut process =
            Process::spawn_in(self.netns.as_deref(), "nats-server", "nats-server", &args);
        let ready = process.wait_line("nats-server ready or failing", |line| {
            let text = line.text();
            text.contains("Server is ready") || text.contains("address already in use")
        });
        let ok = ready.text().contains("Server is ready");
        if ok {
            self.process = Some(process);
        } else {
            process.kill9();
        }
        ok
    }

    /// The URL clients connect to.
    pub fn url(&self) -> String {
        format!("nats://{}:{}", self.addr, self.port)
    }

    /// The address and port, for a raw client.
    pub fn address(&self) -> (Ipv4Addr, u16) {
        (self.addr, self.port)
    }

    /// Kills the server as a crash would (SIGKILL, no goodbye to its clients).
    pub fn kill(&mut self) {
        if let Some(mut process) = self.process.take() {
            process.kill9();
        }
    }

    /// Starts it again on the same address, port and store.
    pub fn restart(&mut self) {
        self.kill();
        let deadline = Instant::now() + TIMEOUT;
        // The port can stay busy for a moment after the kill.
        while !self.run() {
            assert!(Instant::now() < deadline, "nats-server did not come back");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A NATS client written by hand over TCP: it publishes anything (a rogue) and reads what a
/// subject carries (a tap), with no library in between.
pub struct RawNats {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl RawNats {
    /// Connects to `address` and says hello (no echo: it never hears itself).
    pub fn connect((addr, port): (Ipv4Addr, u16)) -> RawNats {
        let stream = TcpStream::connect((addr, port)).expect("the NATS server takes connections");
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        let writer = stream.try_clone().unwrap();
        let mut raw = RawNats {
            reader: BufReader::new(stream),
            writer,
        };
        let info = raw.line();
        assert!(info.starts_with("INFO "), "{info}");
        raw.send(b"CONNECT {\"verbose\":false,\"headers\":true,\"echo\":false}\r\nPING\r\n");
        assert_eq!(raw.line(), "PONG");
        raw
    }

    fn send(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).unwrap();
        self.writer.flush().unwrap();
    }

    fn line(&mut self) -> String {
        let mut line = String::new();
        self.reader
            .read_line(&mut line)
            .expect("the NATS server answers");
        line.trim_end().to_string()
    }

    /// Publishes `payload` on `subject`, and waits until the server has taken it.
    pub fn publish(&mut self, subject: &str, payload: &[u8]) {
        let mut frame = format!("PUB {subject} {}\r\n", payload.len()).into_bytes();
        frame.extend_from_slice(payload);
        frame.extend_from_slice(b"\r\nPING\r\n");
        self.send(&frame);
        self.wait_pong();
    }

    /// Subscribes to `subject`, and waits until the server knows.
    pub fn subscribe(&mut self, subject: &str) {
        self.send(format!("SUB {subject} 1\r\nPING\r\n").as_bytes());
        self.wait_pong();
    }

    fn wait_pong(&mut self) {
        loop {
            let line = self.line();
            match line.as_str() {
                "PONG" => return,
                "PING" => self.send(b"PONG\r\n"),
                _ if line.starts_with("-ERR") => panic!("the NATS server: {line}"),
                // A message that arrived meanwhile: read past it (taps read with `next`).
                _ => self.skip_message(&line),
            }
        }
    }

    fn skip_message(&mut self, line: &str) {
        if let Some(len) = message_length(line) {
            let mut rest = vec![0; len + 2];
            self.reader.read_exact(&mut rest).unwrap();
        }
    }

    /// The next message's payload, or `None` once `wait` passed without one.
    pub fn next(&mut self, wait: Duration) -> Option<Vec<u8>> {
        self.next_message(wait).map(|m| m.payload)
    }

    /// The next message, or `None` once `wait` passed without one.
    pub fn next_message(&mut self, wait: Duration) -> Option<Message> {
        self.reader.get_ref().set_read_timeout(Some(wait)).unwrap();
        let result = loop {
            let mut line = String::new();
            match self.reader.read_line(&mut line) {
                Ok(0) => panic!("the NATS server closed the tap"),
                Ok(_) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    break None;
                }
                Err(e) => panic!("reading from the NATS server: {e}"),
            }
            let line = line.trim_end();
            if line == "PING" {
                self.send(b"PONG\r\n");
                continue;
            }
            let Some(total) = message_length(line) else {
                continue;
            };
            let headers = if line.starts_with("HMSG") {
                line.split_whitespace()
                    .rev()
                    .nth(1)
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0)
            } else {
                0
            };
            let mut body = vec![0; total + 2];
            self.reader.read_exact(&mut body).unwrap();
            body.truncate(total);
            let payload = body.split_off(headers);
            let source = String::from_utf8_lossy(&body)
                .lines()
                .find_map(|l| l.strip_prefix("Gamecast-Source: ").map(str::to_string));
            break Some(Message { source, payload });
        };
        self.reader
            .get_ref()
            .set_read_timeout(Some(TIMEOUT))
            .unwrap();
        result
    }
}

/// A message a tap read.
#[derive(Debug, Clone)]
pub struct Message {
    /// Its Gamecast-Source header, if it had one.
    pub source: Option<String>,
    /// Its payload.
    pub payload: Vec<u8>,
}

/// The length of the payload (headers included) a MSG or HMSG line announces.
fn message_length(line: &str) -> Option<usize> {
    if !(line.starts_with("MSG ") || line.starts_with("HMSG ")) {
        return None;
    }
    line.split_whitespace().last()?.parse().ok()
}
