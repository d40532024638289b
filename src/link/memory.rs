//! An in-memory group: every link opened on a [`Hub`] hears what every other one sends, after
//! a delay, with losses, all drawn from one seeded random generator. On tokio's paused clock
//! (`#[tokio::test(start_paused = true)]`) delays are virtual: a dice race plays in
//! milliseconds, and the same seed gives the same game.
//!
//! Nothing leaves the process: sources are made-up loopback addresses (`127.0.0.1`, one port
//! per link) that are never bound.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use super::{Link, Network};

/// How a hub treats datagrams.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Conditions {
    /// The share of deliveries lost, from 0 to 1, drawn for each receiver on its own (as on a
    /// LAN, where each receiver loses its own datagrams).
    pub loss: f64,
    /// The share of datagrams lost for every receiver at once (but the sender's own copy), from
    /// 0 to 1: a loss before the group fans out, where every receiver misses the same datagram
    /// and NACK suppression is what keeps them from all asking.
    pub shared_loss: f64,
    /// The shortest delay of a delivery…
    pub min_delay: Duration,
    /// …and the longest: deliveries with different delays overtake each other.
    pub max_delay: Duration,
}

impl Default for Conditions {
    /// A perfect network with a tenth of a millisecond of delay.
    fn default() -> Conditions {
        Conditions {
            loss: 0.0,
            shared_loss: 0.0,
            min_delay: Duration::from_micros(100),
            max_delay: Duration::from_micros(100),
        }
    }
}

/// An in-memory group. Clones share it.
#[derive(Debug, Clone)]
pub struct Hub {
    state: Arc<Mutex<State>>,
}

#[derive(Debug)]
struct State {
    rng: fastrand::Rng,
    conditions: Conditions,
    /// By port: in a fixed order, so that a seed gives the same draws for each member.
    members: BTreeMap<u16, Arc<Queue>>,
    /// Members whose deliveries are held (a member that is not running): they arrive, all at
    /// once, when it is let go.
    held: HashMap<u16, Vec<Delivery>>,
    /// Members whose datagrams nobody hears (a member cut off on its way out).
    muted: std::collections::HashSet<u16>,
    next_port: u16,
    /// Deliveries made so far, for tests: (sent, delivered).
    counts: (u64, u64),
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Delivery {
    at: Instant,
    /// Sending order, so that equal times keep it.
    order: u64,
    from: u16,
    /// Shared by every receiver's copy: a datagram to a thousand members is one allocation.
    bytes: Arc<[u8]>,
}

#[derive(Debug, Default)]
struct Queue {
    deliveries: Mutex<BinaryHeap<Reverse<Delivery>>>,
    arrived: Notify,
}

impl Queue {
    fn lock(&self) -> MutexGuard<'_, BinaryHeap<Reverse<Delivery>>> {
        // A panic while the lock is held is a bug in a test; the queue is still usable.
        self.deliveries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn address(port: u16) -> SocketAddr {
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port))
}

impl Hub {
    /// A hub whose random draws (losses, delays) start from `seed`.
    pub fn new(seed: u64, conditions: Conditions) -> Hub {
        Hub {
            state: Arc::new(Mutex::new(State {
                rng: fastrand::Rng::with_seed(seed),
                conditions,
                members: BTreeMap::new(),
                held: HashMap::new(),
                muted: std::collections::HashSet::new(),
                next_port: 40_000,
                counts: (0, 0),
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A new member of the group.
    pub fn link(&self) -> MemoryLink {
        let mut state = self.lock();
        // Made-up ports, never one a member holds (after 65,536 links they wrap around).
        let mut port = state.next_port;
        while state.members.contains_key(&port) {
            port = port.wrapping_add(1);
        }
        state.next_port = port.wrapping_add(1);
        let queue = Arc::new(Queue::default());
        state.members.insert(port, queue.clone());
        MemoryLink {
            hub: self.clone(),
            port,
            queue,
        }
    }

    /// Changes how datagrams are treated from now on.
    pub fn set(&self, conditions: Conditions) {
        self.lock().conditions = conditions;
    }

    /// Sends `bytes` to every member as if from `source` (a rogue on the network).
    pub fn inject(&self, bytes: &[u8], source: u16) {
        self.deliver(source, bytes);
    }

    /// Holds every delivery to the member at `address` until [`Hub::release`]: what a member
    /// that does not run (stopped, suspended) finds queued when it runs again.
    pub fn hold(&self, address: SocketAddr) {
        self.lock().held.entry(address.port()).or_default();
    }

    /// Delivers what was held for the member at `address`, at once.
    pub fn release(&self, address: SocketAddr) {
        let mut state = self.lock();
        let held = state.held.remove(&address.port()).unwrap_or_default();
        if let Some(queue) = state.members.get(&address.port()) {
            let now = Instant::now();
            let mut deliveries = queue.lock();
            for delivery in held {
                deliveries.push(Reverse(Delivery {
                    at: now,
                    ..delivery
                }));
            }
            drop(deliveries);
            queue.arrived.notify_one();
        }
    }

    /// Whether what the member at `address` sends reaches anyone (itself included) from now
    /// on: a member whose way out is cut, while it still hears everything.
    pub fn mute(&self, address: SocketAddr, muted: bool) {
        let mut state = self.lock();
        if muted {
            state.muted.insert(address.port());
        } else {
            state.muted.remove(&address.port());
        }
    }

    /// Datagrams sent and copies delivered so far.
    pub fn counts(&self) -> (u64, u64) {
        self.lock().counts
    }

    fn deliver(&self, from: u16, bytes: &[u8]) {
        let mut state = self.lock();
        state.counts.0 = state.counts.0.saturating_add(1);
        if state.muted.contains(&from) {
            return;
        }
        let now = Instant::now();
        let Conditions {
            loss,
            shared_loss,
            min_delay,
            max_delay,
        } = state.conditions;
        let lost_for_all = shared_loss > 0.0 && state.rng.f64() < shared_loss;
        let bytes: Arc<[u8]> = Arc::from(bytes);
        let ports: Vec<u16> = state.members.keys().copied().collect();
        for port in ports {
            // Our own copy is never lost: multicast loop does not cross the network.
            if port != from && (lost_for_all || state.rng.f64() < loss) {
                continue;
            }
            let spread = max_delay.saturating_sub(min_delay);
            let delay = min_delay.saturating_add(spread.mul_f64(state.rng.f64()));
            let order = state.counts.1;
            state.counts.1 = state.counts.1.saturating_add(1);
            let delivery = Delivery {
                at: now.checked_add(delay).unwrap_or(now),
                order,
                from,
                bytes: bytes.clone(),
            };
            if let Some(held) = state.held.get_mut(&port) {
                held.push(delivery);
                continue;
            }
            if let Some(queue) = state.members.get(&port) {
                queue.lock().push(Reverse(delivery));
                queue.arrived.notify_one();
            }
        }
    }
}

impl Network for Hub {
    type Link = MemoryLink;

    async fn open(&self) -> anyhow::Result<MemoryLink> {
        Ok(self.link())
    }

    fn describe(&self) -> String {
        "an in-memory group".to_string()
    }
}

/// One member of a [`Hub`].
#[derive(Debug)]
pub struct MemoryLink {
    hub: Hub,
    port: u16,
    queue: Arc<Queue>,
}

impl MemoryLink {
    /// The made-up source address others see this member's datagrams come from.
    pub fn address(&self) -> SocketAddr {
        address(self.port)
    }

    /// The next delivery due by now, if any; else when the next one is due.
    fn take(&self, buf: &mut [u8]) -> Result<(usize, SocketAddr), Option<Instant>> {
        let mut deliveries = self.queue.lock();
        match deliveries.peek() {
            Some(Reverse(next)) if next.at <= Instant::now() => {}
            Some(Reverse(next)) => return Err(Some(next.at)),
            None => return Err(None),
        }
        let Some(Reverse(delivery)) = deliveries.pop() else {
            return Err(None);
        };
        // As a socket does, a datagram longer than the buffer is cut.
        let len = delivery.bytes.len().min(buf.len());
        buf[..len].copy_from_slice(&delivery.bytes[..len]);
        Ok((len, address(delivery.from)))
    }
}

impl Drop for MemoryLink {
    fn drop(&mut self) {
        let mut state = self.hub.lock();
        state.members.remove(&self.port);
        state.held.remove(&self.port);
    }
}

impl Link for MemoryLink {
    async fn send(&self, bytes: &[u8]) -> io::Result<()> {
        self.hub.deliver(self.port, bytes);
        Ok(())
    }

    async fn recv(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        loop {
            // Register for the next arrival before looking, so that none is missed between.
            let arrived = self.queue.arrived.notified();
            match self.take(buf) {
                Ok(received) => return Ok(received),
                Err(Some(at)) => {
                    tokio::select! {
                        () = arrived => {}
                        () = tokio::time::sleep_until(at) => {}
                    }
                }
                Err(None) => arrived.await,
            }
        }
    }

    fn try_recv(&self, buf: &mut [u8]) -> io::Result<Option<(usize, SocketAddr)>> {
        Ok(self.take(buf).ok())
    }

    fn describe(&self) -> String {
        format!("an in-memory group (member {})", self.address())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn everyone_hears_everyone_with_seeded_loss() {
        let hub = Hub::new(
            7,
            Conditions {
                loss: 0.5,
                ..Conditions::default()
            },
        );
        let (a, b) = (hub.link(), hub.link());
        for i in 0..200u8 {
            a.send(&[i]).await.unwrap();
        }
        let mut buf = [0u8; 16];
        // Its own copies are all there, in order.
        for i in 0..200u8 {
            let (len, from) = a.recv(&mut buf).await.unwrap();
            assert_eq!((&buf[..len], from), (&[i][..], a.address()));
        }
        let mut heard = 0;
        while let Ok(Ok(_)) =
            tokio::time::timeout(Duration::from_millis(10), b.recv(&mut buf)).await
        {
            heard += 1;
        }
        assert!(
            (60..140).contains(&heard),
            "{heard} of 200 through 50% loss"
        );
        // The same seed, the same losses.
        let again = Hub::new(
            7,
            Conditions {
                loss: 0.5,
                ..Conditions::default()
            },
        );
        let (a2, b2) = (again.link(), again.link());
        for i in 0..200u8 {
            a2.send(&[i]).await.unwrap();
        }
        let mut heard2 = 0;
        while let Ok(Ok(_)) =
            tokio::time::timeout(Duration::from_millis(10), b2.recv(&mut buf)).await
        {
            heard2 += 1;
        }
        assert_eq!(heard, heard2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_held_member_finds_everything_queued_when_released() {
        let hub = Hub::new(1, Conditions::default());
        let (a, b) = (hub.link(), hub.link());
        hub.hold(b.address());
        a.send(b"one").await.unwrap();
        a.send(b"two").await.unwrap();
        tokio::time::sleep(Duration::from_secs(3)).await;
        let mut buf = [0u8; 16];
        assert!(b.try_recv(&mut buf).unwrap().is_none());
        hub.release(b.address());
        let (len, _) = b.try_recv(&mut buf).unwrap().unwrap();
        assert_eq!(&buf[..len], b"one");
        let (len, _) = b.try_recv(&mut buf).unwrap().unwrap();
        assert_eq!(&buf[..len], b"two");
        assert!(b.try_recv(&mut buf).unwrap().is_none());
    }
}
