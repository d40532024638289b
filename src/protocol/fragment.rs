//! Events too large for one datagram: split into numbered pieces by the sender, put back
//! together by each receiver in the sender's order (after loss repair).

use super::codec::{body_from, check_body};
use super::{Body, Datagram, Invalid, MAX_EVENT};

/// What a fragment's body adds around its data, at most (kind, part and parts up to 10
/// digits, quotes and braces); with the header's maximum, it bounds each piece's size.
pub const FRAGMENT_OVERHEAD: usize = 64;

/// Splits `text` into pieces whose JSON string escaping takes at most `budget` bytes each,
/// never inside a character.
pub fn split_escaped(text: &str, budget: usize) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut size: usize = 0;
    for (at, c) in text.char_indices() {
        let escaped = match c {
            '"' | '\\' => 2,
            c if u32::from(c) < 0x20 => 6,
            c => c.len_utf8(),
        };
        // Sizes stay below `budget` plus one character's escaping: no overflow.
        if size.saturating_add(escaped) > budget {
            pieces.push(&text[start..at]);
            start = at;
            size = 0;
        }
        size = size.saturating_add(escaped);
    }
    pieces.push(&text[start..]);
    pieces
}

/// Puts fragmented events back together. One per sender, fed that sender's numbered datagrams
/// in order (after loss repair), and reset when some of them were lost for good.
#[derive(Debug, Default)]
pub struct Reassembly {
    data: String,
    parts: u32,
    next_part: u32,
}

impl Reassembly {
    /// Takes the sender's next datagram. Gives back a whole one (this one, or the event this
    /// fragment completes), `None` while an event is incomplete, or why a completed event
    /// cannot be read.
    pub fn add(&mut self, datagram: Datagram) -> Result<Option<Datagram>, Invalid> {
        let Body::Fragment { part, parts, data } = datagram.body else {
            self.reset();
            return Ok(Some(datagram));
        };
        if part == 1 {
            self.reset();
            self.parts = parts;
            self.next_part = 1;
        }
        if part != self.next_part || parts != self.parts || parts < 2 {
            // A piece of an event whose beginning we never had (we started listening in its
            // middle): nothing to show.
            self.reset();
            return Ok(None);
        }
        self.data.push_str(&data);
        if self.data.len() > MAX_EVENT {
            self.reset();
            return Err(Invalid::Malformed(
                "a fragmented event over the size limit".into(),
            ));
        }
        if part < parts {
            // part < parts <= MAX_PARTS (checked by the decoder): no overflow.
            self.next_part = part.saturating_add(1);
            return Ok(None);
        }
        let json = std::mem::take(&mut self.data);
        self.reset();
        let body = serde_json::from_str::<serde_json::Value>(&json)
            .and_then(|value| body_from(&value))
            .map_err(|e| Invalid::Malformed(format!("a fragmented event: {e}")))?;
        if let Body::Fragment { .. } = body {
            return Err(Invalid::Malformed("a fragment inside a fragment".into()));
        }
        check_body(&body)
            .map_err(|why| Invalid::Malformed(format!("a fragmented event: {why}")))?;
        Ok(Some(Datagram { body, ..datagram }))
    }

    /// Forgets an incomplete event (some of its pieces are lost for good).
    pub fn reset(&mut self) {
        self.data.clear();
        self.parts = 0;
        self.next_part = 0;
    }
}
